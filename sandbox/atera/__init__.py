"""The Atera REST API v3 twin (see ``server.py``): a stateful fake conforming to Atera's OpenAPI v3 document."""
