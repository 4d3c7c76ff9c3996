"""The one place that imports Great Expectations, with its INFO chatter off. The ``great_expectations`` logger goes
to WARNING before the first import, since GX logs while importing.

Every import here is inside a function on purpose: importing GX costs seconds, and importing ``atera_qbo.quality``
must not pay it (``tests/quality``: the package imports neither GX nor pandas). The rest of the package reaches
GX through these functions only.
"""
from __future__ import annotations

import logging
from datetime import datetime
from typing import Any


def gx() -> Any:
    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    import great_expectations  # lazy: see the module docstring

    # GX pins this one module's logger to INFO (it announces a temporary docs directory per context).
    logging.getLogger("great_expectations.data_context.types.base").setLevel(logging.WARNING)
    return great_expectations


def expectations() -> Any:
    gx()
    import great_expectations.expectations as gxe  # lazy: see the module docstring

    return gxe


def quiet(context: Any) -> Any:
    """``context`` with GX's progress bars off (they would flood the task log)."""
    gx()
    from great_expectations.data_context.types.base import ProgressBarsConfig  # lazy: see the module docstring

    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    return context


def run_identifier(run_name: str, run_time: datetime) -> Any:
    """The identifier of one gate run: its validations' pages are grouped under it in the Data Docs."""
    gx()
    from great_expectations.core.run_identifier import RunIdentifier  # lazy: see the module docstring

    return RunIdentifier(run_name=run_name, run_time=run_time)


def update_data_docs_action(name: str, site_names: list[str]) -> Any:
    """A checkpoint action that renders its validation's Data Docs page (and the index) on these sites."""
    gx()
    from great_expectations.checkpoint.actions import UpdateDataDocsAction  # lazy: see the module docstring

    return UpdateDataDocsAction(name=name, site_names=site_names)


def data_context_error() -> type[Exception]:
    """What a GX store raises for a name it does not hold."""
    gx()
    from great_expectations.exceptions.exceptions import DataContextError  # lazy: see the module docstring

    return DataContextError
