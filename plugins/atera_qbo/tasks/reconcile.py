"""Tasks of ``atera_qbo_reconciliation`` (refresh, compare, report; fail on critical findings) and
``atera_qbo_disconnect``."""
from __future__ import annotations

import logging
from typing import Any

from ..errors import ConfigError
from ..notify.expiry import tell_connections
from ..notify.reconciliation import tell_reconciliation
from ..qbo.connection import disconnect as run_disconnect
from ..reconcile.run import raise_for_critical
from ..reconcile.run import reconcile as run_reconciliation
from .runtime import fail_fatal, task_ids, wiring

log = logging.getLogger(__name__)


@fail_fatal
def reconcile(*, date_from: str | None, date_to: str | None, finding_types: list[str] | None,
              stale_days: int, run_id: str | None) -> dict[str, Any]:
    """Refresh incrementally, compare, write the report; the log ends with the counts. Critical findings are
    handed to ``check_critical`` (the report lands first)."""
    with wiring() as w:
        tell_connections(w.engine, ids={**task_ids(), "run_id": run_id}, realm_id=lambda: w.qbo_hook.realm_id,
                         qbo_expiries=lambda: w.qbo_hook.stored_tokens().expiries(),
                         atera_conn_id=w.company.atera_conn_id)  # daily: the company's tokens, disconnect
        result = run_reconciliation(w.engine, qbo=w.qbo, atera=w.atera, review_dir=w.review_dir,
                                    run_id=run_id or "manual", date_from=date_from, date_to=date_to,
                                    types=finding_types, stale_days=stale_days, app_url=w.qbo_settings.app_url)
        calls = w.qbo_calls()
    summary = {**result.as_dict(), "qbo_calls": calls}
    summary["critical_findings"] = [{k: getattr(f, k) for k in ("type", "atera_id", "qbo_id", "detail")}
                                    for f in result.critical[:50]]
    summary["critical_count"] = len(result.critical)
    log.info(result.summary_line())
    tell_reconciliation(w.engine, summary, {**task_ids(), "run_id": run_id})  # never raises; before check_critical
    return summary


@fail_fatal
def check_critical(summary: dict[str, Any]) -> dict[str, Any]:
    """Fail when the run found critical findings (so Airflow's failure alerting fires), naming them."""
    critical = summary.get("critical_findings") or []
    if summary.get("critical_count", 0) > len(critical):
        critical = [*critical, {"type": "…", "atera_id": "", "qbo_id": "", "detail": "(more in the report)"}]
    raise_for_critical(critical, summary.get("report", ""))
    return {"critical": 0, "report": summary.get("report")}


@fail_fatal
def disconnect(*, confirm: str | None, actor: str | None) -> dict[str, Any]:
    """Revoke the QBO refresh token at Intuit, delete the stored tokens, record who/when; keep everything else."""
    with wiring() as w:
        hook = w.qbo_hook

        def stored_token() -> str | None:
            try:
                return hook.stored_tokens().current_refresh_token()
            except ConfigError:
                return None  # nothing stored and nothing to seed from

        def forget() -> None:
            try:
                hook.stored_tokens().forget()
            except ConfigError:
                return  # nothing stored and nothing to seed from: nothing to forget

        result = run_disconnect(w.engine, realm_id=hook.realm_id, confirm=confirm, actor=actor,
                                seed_refresh_token=hook.seed_refresh_token, stored_refresh_token=stored_token,
                                revoke=hook.token_endpoint().revoke, forget=forget)
    log.info("disconnect: %s", result)
    return result
