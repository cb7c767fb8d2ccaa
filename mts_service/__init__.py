"""MTS: premium-SMS advances and deposits for cash-on-delivery.

Imports nothing heavy so that ``import mts_service.wssec`` stays light for clients.
"""

__version__ = "0.1.0"
