"""The QBO state model, without HTTP: one module per entity family, orchestrated by ``backend.QboBackend``."""
