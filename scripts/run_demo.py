"""``make run``: the whole sync against the twins on SQLite, with its summary.

Airflow home, staging DB, twin state and review files all live under ``var/`` (git-ignored), so a second run
talks to the same twin data and exports nothing new; ``make reset`` deletes ``var/``.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "plugins")]

from sandbox.launch import start_twin  # noqa: E402
from scripts.airflow_env import DEMO, airflow_env, connections  # noqa: E402


def airflow(env: dict[str, str], *args: str) -> None:
    cmd = [str(REPO / ".venv" / "bin" / "airflow"), *args]
    print(f"\n$ airflow {' '.join(args)}", flush=True)
    result = subprocess.run(cmd, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    log_dir = Path(env["AIRFLOW_HOME"]) / "run-logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    (log_dir / f"{args[0]}-{args[-1] if len(args) < 4 else args[2]}.log").write_text(result.stdout)
    if result.returncode != 0:
        tail = "\n".join(result.stdout.splitlines()[-60:])
        raise SystemExit(f"`airflow {' '.join(args[:3])}` failed (exit {result.returncode}):\n{tail}")


def recon_summary(home: Path, review: Path) -> str:
    """The latest reconciliation run's counts and where its report is."""
    import sqlalchemy as sa

    from atera_qbo.staging.db import make_engine, table

    engine = make_engine(f"sqlite:///{home / 'atera_qbo_staging.db'}")
    runs = table("recon_runs")
    with engine.connect() as conn:
        last = conn.execute(sa.select(runs).where(runs.c.status == "done")
                            .order_by(runs.c.finished_at.desc()).limit(1)).first()
    if last is None:
        return "Reconciliation: no finished run"
    counts = json.loads(last.counts_json)
    sev = counts["by_severity"]
    return (f"Reconciliation (morning report): {sev['critical']} critical, {sev['warning']} warning, "
            f"{sev['info']} info ({counts['new']} new, {counts['resolved']} resolved): "
            f"{review / 'reconciliation_latest.html'}")


def main() -> int:
    env = airflow_env(REPO / "var" / "airflow")
    home = Path(env["AIRFLOW_HOME"])
    twins_dir = home / "twins"
    twins_dir.mkdir(parents=True, exist_ok=True)
    os.environ.update(env)
    print(f"Airflow home: {home}")
    airflow(env, "db", "migrate")
    airflow(env, "pools", "set", "qbo_api", "10", "QBO allows 10 concurrent requests per realm")

    atera = qbo = None
    try:
        atera = start_twin("atera", ["--seed", "demo", "--api-key", DEMO["atera_api_key"],
                                     "--state", str(twins_dir / "atera.db")], log_path=twins_dir / "atera.log")
        qbo = start_twin("qbo", ["--seed", "demo", "--realm-id", DEMO["realm_id"], "--client-id", DEMO["client_id"],
                                 "--client-secret", DEMO["client_secret"], "--refresh-token", DEMO["refresh_token"],
                                 "--state", str(twins_dir / "qbo.db")], log_path=twins_dir / "qbo.log")
        print(f"Atera twin on {atera.url}, QBO twin on {qbo.url}")
        env.update(connections(atera.url, qbo.url))
        airflow(env, "dags", "test", "atera_qbo_catalog_sync")
        airflow(env, "dags", "test", "atera_qbo_matching", "-c", json.dumps({
            "commit": True, "create_unmatched_in_qbo": True,
            "overrides_path": str(REPO / "include" / "demo" / "overrides.csv")}))
        airflow(env, "dags", "test", "atera_qbo_invoice_export", "-c", json.dumps({
            "invoice_date_from": DEMO["invoice_date_from"], "invoice_date_to": DEMO["invoice_date_to"]}))
        try:
            airflow(env, "dags", "test", "atera_qbo_reconciliation")
        except SystemExit as exc:  # a critical finding fails the run on purpose, after the report is written
            print(f"\nReconciliation reported critical findings (the report below lists them): {exc}")
    finally:
        for twin in (atera, qbo):
            if twin is not None:
                twin.stop()
    from atera_qbo.reports import format_summary, summary
    from atera_qbo.staging.db import make_engine

    print(format_summary(summary(make_engine(f"sqlite:///{home / 'atera_qbo_staging.db'}"))))
    review = home / "atera_qbo" / "review"
    print(f"\nReview CSV (finance): {review / 'match_review.csv'}")
    reports = sorted((review / "exports").glob("export_*.csv"), key=lambda p: p.stat().st_mtime)
    if reports:
        print(f"Export report of this run: {reports[-1]}")
    print(f"Data quality (Great Expectations Data Docs): {review / 'data_docs' / 'index.html'}")
    print(recon_summary(home, review))
    return 0


if __name__ == "__main__":
    sys.exit(main())
