"""Model wrappers. Each module is loaded by dotted path from the catalog, only when used."""
