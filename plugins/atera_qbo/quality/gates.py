"""The runner: staging tables → GX validations → a JSON-able summary, Data Docs, and ``DataQualityError``.

Without a docs directory the validations run in one ephemeral GX context (nothing written). With one, they run in
the persistent file-backed GX project beside it (``docs.py``): a checkpoint per table whose docs action updates
the Data Docs, results pruned to the newest ``keep_runs`` per suite, so each DAG's latest validations stay. Each
table's rows go through a pandas data source as a whole-dataframe batch. Great Expectations and pandas are
imported lazily (``_gx.py``, ``frames.prepare``), so importing this package stays cheap.
"""
from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from ..config import DATA_DOCS_KEEP_RUNS
from ..errors import DataQualityError
from . import docs
from ._gx import gx as load_gx
from ._gx import quiet, run_identifier
from .frames import SPECS, Prepared, load_frames
from .suites import BUILDERS

log = logging.getLogger(__name__)

MAX_EXAMPLES = docs.MAX_EXAMPLES
SITE_NAME = docs.SITE_NAME
RUN_NAME = docs.RUN_NAME
DOCS_KEEP_RUNS = DATA_DOCS_KEEP_RUNS  # default: validations kept per suite (table); older ones are pruned
GATE_ID = docs.GATE_ID
GATED_TABLES: tuple[str, ...] = tuple(SPECS)


def run_gates(engine: sa.Engine, tables: list[str], *, docs_dir: Path | None = None,
              fail: bool = True, scopes: Mapping[str, Any] | None = None, keep_runs: int | None = None,
              project_dir: Path | None = None) -> dict[str, Any]:
    """Validate the current rows of ``tables`` (those that exist) against their suites.

    Answers ``{table: {"success", "rows", "failed": [{"expectation", "column", "unexpected_count", "examples"}],
    "excluded": {...}}}``; with ``docs_dir``, validates in the persistent GX project at ``project_dir`` (default:
    ``docs_dir``'s parent) and updates the Data Docs there (``docs_dir/index.html``, and the offline summary
    ``docs_dir/gates_summary.html``), keeping the newest ``keep_runs`` validations per table (default
    ``DOCS_KEEP_RUNS``). When a gate fails and ``fail`` is true, raises ``DataQualityError`` (message: table,
    expectation, offending ids; ``summary`` attached) — after the Data Docs are written. ``scopes`` maps a table
    to ``fn(table) -> WHERE clause`` to gate only part of it (the export gates the invoices of its own window, so
    an old bad invoice blocks nothing new).
    """
    unknown = [t for t in tables if t not in SPECS]
    if unknown:
        raise ValueError(f"no quality gate for {', '.join(unknown)}; gated tables: {', '.join(GATED_TABLES)}")
    existing = set(sa.inspect(engine).get_table_names())
    names = [t for t in dict.fromkeys(tables) if t in existing]
    missing = [t for t in dict.fromkeys(tables) if t not in existing]
    if missing:
        log.warning("quality gates: skipped %s (no such table)", ", ".join(missing))
    started = time.perf_counter()
    prepared = load_frames(engine, names, scopes)
    log.info("quality gates: loaded %s in %.2f s", ", ".join(f"{p.table} ({p.rows} rows)" for p in
                                                             prepared.values()) or "nothing",
             time.perf_counter() - started)
    return validate(prepared, docs_dir=docs_dir, fail=fail, keep_runs=keep_runs, project_dir=project_dir)


def validate(prepared: Mapping[str, Prepared], *, docs_dir: Path | None = None, fail: bool = True,
             keep_runs: int | None = None, project_dir: Path | None = None) -> dict[str, Any]:
    """Validate prepared frames (see ``frames.prepare``): the GX half of ``run_gates``."""
    run_id = run_identifier(RUN_NAME, datetime.now(UTC))
    index = None
    if docs_dir is None:
        context = _ephemeral_context()
        source = context.data_sources.add_pandas(docs.SOURCE_NAME)
        summary = {name: _summarize(prep, _validate_one(context, source, prep, run_id))
                   for name, prep in prepared.items()}
    else:
        docs_dir = Path(docs_dir)
        keep = DOCS_KEEP_RUNS if keep_runs is None else keep_runs
        with docs.project(Path(project_dir) if project_dir else docs_dir.parent, docs_dir) as context:
            docs.prune_results(context, list(prepared), keep)
            summary = {name: _summarize(prep, _check_one(context, prep, run_id)) for name, prep in prepared.items()}
            prune_docs(docs_dir, keep)
            page = docs.write_summary(context, docs_dir)
        index = docs_dir.resolve() / "index.html"
        log.info("quality gates: Data Docs at %s, offline summary at %s", index, page)
    if fail and any(not s["success"] for s in summary.values()):
        raise DataQualityError(failure_message(summary, index), summary)
    return summary


# ------------------------------------------------------------------------------------------------ GX
_RESULT_FORMAT = {"result_format": "SUMMARY", "unexpected_index_column_names": [GATE_ID],
                  "partial_unexpected_count": 20}


def _ephemeral_context() -> Any:
    return quiet(load_gx().get_context(mode="ephemeral"))


def _expectations(table: str) -> list[Any]:
    return list(BUILDERS[table]())


def _logged(prep: Prepared, started: float, result: Any) -> Any:
    failed = sum(1 for r in result.results if not r.success)
    log.info("quality gate %s: %s, %d rows, %d failed expectation(s), excluded %s, %.2f s", prep.table,
             "passed" if result.success else "FAILED", prep.rows, failed, prep.excluded,
             time.perf_counter() - started)
    return result


def _validate_one(context: Any, source: Any, prep: Prepared, run_id: Any) -> Any:
    """One table in the ephemeral context (no docs)."""
    gx = load_gx()
    started = time.perf_counter()
    suite = context.suites.add(gx.ExpectationSuite(name=prep.table, expectations=_expectations(prep.table)))
    batch = source.add_dataframe_asset(prep.table).add_batch_definition_whole_dataframe(docs.BATCH_NAME)
    definition = context.validation_definitions.add(gx.ValidationDefinition(name=prep.table, data=batch,
                                                                            suite=suite))
    result = definition.run(batch_parameters={"dataframe": prep.frame}, run_id=run_id, result_format=_RESULT_FORMAT)
    return _logged(prep, started, result)


def _check_one(context: Any, prep: Prepared, run_id: Any) -> Any:
    """One table through its checkpoint in the persistent project (the docs action renders its page)."""
    started = time.perf_counter()
    checkpoint = docs.checkpoint(context, prep.table, _expectations(prep.table), _RESULT_FORMAT)
    (result,) = checkpoint.run(batch_parameters={"dataframe": prep.frame}, run_id=run_id).run_results.values()
    return _logged(prep, started, result)


def prune_docs(docs_dir: Path, keep: int | None = None) -> int:
    """Remove the validation pages of all but the newest ``keep`` gate runs (``validations/<table>/quality_gates/
    <run time>/``; run times sort as text). Only those directories are touched. Answers how many were removed."""
    keep = DOCS_KEEP_RUNS if keep is None else keep
    removed = 0
    suites = [p.name for p in (docs_dir / "validations").iterdir()] if (docs_dir / "validations").is_dir() else []
    for name in suites:  # every suite's pages: the staging tables' and the proposed mapping's
        runs_dir = docs_dir / "validations" / name / RUN_NAME
        if not runs_dir.is_dir():
            continue
        runs = sorted(p for p in runs_dir.iterdir() if p.is_dir())
        for old in runs[:max(len(runs) - keep, 0)]:
            shutil.rmtree(old, ignore_errors=True)
            removed += 1
    return removed


# ------------------------------------------------------------------------------------------------ summary
def _summarize(prep: Prepared, result: Any) -> dict[str, Any]:
    failed = []
    for res in result.results:
        if res.success:
            continue
        config = res.expectation_config
        kwargs = config.kwargs
        column = kwargs.get("column") or (", ".join(kwargs["column_list"]) if kwargs.get("column_list") else None)
        words = config.description or config.type
        info = res.exception_info or {}
        if info.get("raised_exception"):
            words += f" (could not be evaluated: {str(info.get('exception_message'))[:200]})"
        details = res.result or {}
        failed.append({
            "expectation": words,
            "column": column,
            "unexpected_count": int(details.get("unexpected_count") or 0),
            "examples": docs.examples(details),
        })
    return {"success": not failed, "rows": prep.rows, "failed": failed, "excluded": dict(prep.excluded)}


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def failure_message(summary: Mapping[str, Any], docs_index: Path | None = None) -> str:
    """A readable multi-line account of the failed gates: table, expectation in plain words, offending ids."""
    bad = {t: s for t, s in summary.items() if not s["success"]}
    if not bad:
        return f"All quality gates passed ({', '.join(summary) or 'no tables'})."
    lines = [f"Data quality gate failed on {_plural(len(bad), 'staging table')} ({', '.join(bad)}):"]
    for name, s in bad.items():
        left_out = ", ".join(f"{n} {_EXCLUDED_WORDS.get(k, k.replace('_', ' '))}"
                             for k, n in s["excluded"].items() if n)
        lines.append(f"{name}: {_plural(s['rows'], 'row')} checked"
                     + (f" (not gated: {left_out})" if left_out else "") + ":")
        for f in s["failed"]:
            ids = ", ".join(f["examples"])
            more = " …" if len(f["examples"]) == MAX_EXAMPLES and f["unexpected_count"] > MAX_EXAMPLES else ""
            lines.append(f"  - {f['expectation']}: fails for {_plural(f['unexpected_count'], 'row')}"
                         + (f"; ids: {ids}{more}" if ids else ""))
    lines.append("Fix these records in Atera / QuickBooks (or the extraction), then run the sync again.")
    if docs_index is not None:
        lines.append(f"Details in the Data Docs: {docs_index}")
    return "\n".join(lines)


_EXCLUDED_WORDS = {"deleted": "deleted", "no_name": "without a name"}


def gate_tables(engine: sa.Engine, tables: Iterable[str] | None = None) -> list[str]:
    """The gated staging tables present in the database (all of them, or those of ``tables``)."""
    existing = set(sa.inspect(engine).get_table_names())
    return [t for t in (GATED_TABLES if tables is None else tables) if t in SPECS and t in existing]
