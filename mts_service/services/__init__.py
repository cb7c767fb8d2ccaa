"""Use cases: the only door to the domain. SOAP services and the CLI call these."""
