"""Stateful local twins of the Atera and QuickBooks Online APIs.

Laid out like moto: each twin has a state model that knows nothing about HTTP (``models``), domain exceptions
named after the vendor's error codes (``exceptions``) and a thin HTTP layer (``responses``). ``core`` holds what
both twins share: the durable store, the threaded HTTP server, fault injection, rate limiting and the request log.

Start one with ``python -m sandbox atera --port 8101`` or ``python -m sandbox qbo --port 8102`` (see DESIGN.md).
"""
