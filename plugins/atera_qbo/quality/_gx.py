"""The one place that imports Great Expectations (lazily: the import costs seconds), with its INFO chatter off.
The ``great_expectations`` logger goes to WARNING before the first import, since GX logs while importing."""
from __future__ import annotations

import logging
from typing import Any


def gx() -> Any:
    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    import great_expectations

    # GX pins this one module's logger to INFO (it announces a temporary docs directory per context).
    logging.getLogger("great_expectations.data_context.types.base").setLevel(logging.WARNING)
    return great_expectations


def expectations() -> Any:
    gx()
    import great_expectations.expectations as gxe

    return gxe
