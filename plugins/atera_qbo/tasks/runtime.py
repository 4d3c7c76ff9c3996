"""The tasks' composition root: the one place a task gets its staging engine, its API clients, its review dir and
its settings, and the error contract every task function follows (``fail_fatal``)."""
from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import date, datetime
from functools import cached_property
from pathlib import Path
from typing import ParamSpec, TypeVar

import sqlalchemy as sa
from airflow.sdk import get_current_context
from airflow.sdk.exceptions import AirflowFailException

from ..atera.api import AteraApi
from ..companies import Company, load_companies, working_for
from ..config import QboSettings, review_dir, variable
from ..errors import ConfigError, FatalError
from ..hooks import AteraHook, QuickBooksHook, StagingHook
from ..notify.settings import announce as announce_notifications
from ..qbo.api import QboApi
from ..qbo.usage import record_usage

log = logging.getLogger(__name__)
P = ParamSpec("P")
R = TypeVar("R")


def fail_fatal(fn: Callable[P, R]) -> Callable[P, R]:
    """A ``FatalError`` fails the task for good (``AirflowFailException``, no retry), its message intact."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except FatalError as exc:
            raise AirflowFailException(str(exc)) from exc

    return wrapper


class Wiring:
    """What one task run uses, all of ONE company's: the staging engine (the process's one for the company's
    database) and each API client, opened on first use and closed when the task's ``with wiring()`` block ends."""

    def __init__(self, stack: ExitStack, company: Company) -> None:
        self._stack = stack
        self.company = company
        self.staging = StagingHook(company=company)

    @cached_property
    def engine(self) -> sa.Engine:
        return self.staging.engine

    @cached_property
    def qbo_hook(self) -> QuickBooksHook:
        """The QBO connection (settings, token chain); no client is opened until ``qbo`` is used. When the task
        ends, the calls its client made are recorded as Intuit meters them (``qbo_api_usage``), then it closes."""
        hook = self._stack.enter_context(QuickBooksHook(staging=self.staging, company=self.company))
        self._stack.callback(self._record_usage, hook)
        return hook

    @property
    def qbo_settings(self) -> QboSettings:
        return self.qbo_hook.settings

    @property
    def qbo(self) -> QboApi:
        return self.qbo_hook.get_conn()

    @cached_property
    def atera(self) -> AteraApi:
        return self._stack.enter_context(AteraHook(company=self.company)).get_conn()

    def qbo_calls(self) -> dict[str, int]:
        """The QBO requests this task sent so far, as Intuit meters them (for the task's result)."""
        client = self.qbo_hook.__dict__.get("client") if "qbo_hook" in self.__dict__ else None
        return client.metered.as_dict() if client is not None else {"reads": 0, "writes": 0}

    def _record_usage(self, hook: QuickBooksHook) -> None:
        client = hook.__dict__.get("client")
        if client is None:
            return  # no client was opened: no call was made
        calls = client.metered.as_dict()
        if not any(calls.values()):
            return
        ids = task_ids()
        try:
            record_usage(self.engine, hook.realm_id, calls, **ids)
        except sa.exc.SQLAlchemyError:  # the task's work is done: a metering row is not worth failing it over
            log.warning("could not record %s QBO call(s) of %s", calls, ids, exc_info=True)
        log.info("QBO calls of this task as Intuit meters them: %d read(s) (metered), %d write(s)",
                 calls["reads"], calls["writes"])

    @cached_property
    def review_dir(self) -> Path:
        """Where the company's review, override and report files go: the deployment's review dir (Variable
        ``atera_qbo_review_dir``, else the default) for ``default``, ``<it>/companies/<id>`` for another."""
        return self.company.review_dir(review_dir(variable))


def task_ids() -> dict[str, str | None]:
    """The running task's dag, run and task ids (all None outside an Airflow task: a test, the CLI)."""
    try:
        context = get_current_context()
    except Exception:  # noqa: BLE001 - no task context here (Airflow raises its own error type for that)
        return {"dag_id": None, "run_id": None, "task_id": None}
    ti = context.get("ti")
    return {"dag_id": getattr(ti, "dag_id", None), "run_id": context.get("run_id"),
            "task_id": getattr(ti, "task_id", None)}


def task_company(dag_id: str | None = None) -> Company:
    """The company a task works for: the one whose DAG is running (``atera_qbo_invoice_export__uk`` → ``uk``).
    Outside a company DAG (a test, the CLI) the only company; with several that is a ConfigError saying so."""
    return load_companies().for_dag(dag_id or task_ids()["dag_id"])


@contextmanager
def wiring(company: Company | None = None) -> Iterator[Wiring]:
    """The wiring of ``company`` (default: the running DAG's, ``task_company``)."""
    announce_notifications()  # the task's log says (once per process) when notifications are off, and why
    company = company or task_company()
    with ExitStack() as stack:
        # what this task writes names its company's DAGs; what it tells, the company and its pages (if several)
        stack.enter_context(working_for(company, several=len(load_companies()) > 1))
        yield Wiring(stack, company)


def run_stamp(run_id: str | None) -> str:
    """A run id as a file-name part (review copies, plan ids)."""
    return (run_id or "manual").replace(":", "").replace("+", "")[:40]


def run_day(logical_date: datetime | date | str | None, run_after: datetime | date | str | None) -> date:
    """The day a run stands for: its logical date (scheduled runs), else the moment it was triggered to run
    (``run_after``: an Airflow 3 manual run has no logical date). Never the wall clock: a retried task sees the
    same day as its first attempt."""
    moment = logical_date or run_after
    if moment is None:
        raise ConfigError("the run has neither a logical date nor run_after: pass invoice_date_to")
    if isinstance(moment, datetime):
        return moment.date()
    if isinstance(moment, date):
        return moment
    return date.fromisoformat(str(moment)[:10])
