"""The DAGs' failure callback: set as ``on_failure_callback`` in every DAG's ``default_args``, imported by the DAG
files at parse time — so this module imports nothing of its own until a task has failed.

Why the TASK-level callback, not the DAG-level one: Airflow 3 calls a task's ``on_failure_callback`` in the worker,
right after the task ended ``failed`` — that is after its last retry (a failed attempt that will be retried calls
``on_retry_callback`` instead), or at once for an ``AirflowFailException``, which is how the sync's fatal errors end a
task — with the exception in the context: the message can name the task and the error's first line. The DAG-level
``on_failure_callback`` runs later in the dag processor, with no exception and no task to name. A task killed from
outside (its worker lost) is failed by the scheduler, which has the dag processor run this same task callback.
A run that fails through several tasks calls it once per failed task: ``failures.py`` sends one message per DAG
per hour.
"""
from __future__ import annotations

from typing import Any


def on_task_failure(context: Any) -> None:
    """Tell that a task failed for good (``notify.failures.tell_failure``); never raises."""
    from .failures import tell_failure  # at run time: DAG files import this module while parsing, keep it light

    tell_failure(context)
