"""The SOAP layer: three Spyne services (gateway, shop, admin), thin translators over mts_service.services."""
