"""The runner: staging tables → GX validations → a JSON-able summary, Data Docs, and ``DataQualityError``.

One ephemeral GX context per ``run_gates`` call (nothing is written to a GX project on disk); each table's rows
go through a pandas data source as a whole-dataframe batch. Great Expectations and pandas are imported here lazily,
inside the functions, so importing this package stays cheap (DAG files may import it).
"""
from __future__ import annotations

import logging
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping

import sqlalchemy as sa

from ..errors import DataQualityError
from ._gx import gx as load_gx
from .frames import SPECS

if TYPE_CHECKING:
    from .frames import Prepared

log = logging.getLogger(__name__)

MAX_EXAMPLES = 5
SITE_NAME = "atera_qbo_quality_gates"
RUN_NAME = "quality_gates"
DOCS_KEEP_RUNS = 48  # validation pages of older runs are pruned from docs_dir (the index links only the latest)
GATE_ID = "gate_id"
GATED_TABLES: tuple[str, ...] = tuple(SPECS)


def run_gates(engine: sa.Engine, tables: list[str], *, docs_dir: Path | None = None,
              fail: bool = True, scopes: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Validate the current rows of ``tables`` (those that exist) against their suites.

    Answers ``{table: {"success", "rows", "failed": [{"expectation", "column", "unexpected_count", "examples"}],
    "excluded": {...}}}``; with ``docs_dir``, writes GX Data Docs there (``docs_dir/index.html``). When a gate
    fails and ``fail`` is true, raises ``DataQualityError`` (message: table, expectation, offending ids; ``summary``
    attached) — after the Data Docs are written. ``scopes`` maps a table to ``fn(table) -> WHERE clause`` to gate
    only part of it (the export gates the invoices of its own window, so an old bad invoice blocks nothing new).
    """
    unknown = [t for t in tables if t not in SPECS]
    if unknown:
        raise ValueError(f"no quality gate for {', '.join(unknown)}; gated tables: {', '.join(GATED_TABLES)}")
    existing = set(sa.inspect(engine).get_table_names())
    names = [t for t in dict.fromkeys(tables) if t in existing]
    missing = [t for t in dict.fromkeys(tables) if t not in existing]
    if missing:
        log.warning("quality gates: skipped %s (no such table)", ", ".join(missing))

    from .frames import load_frames

    started = time.perf_counter()
    prepared = load_frames(engine, names, scopes)
    log.info("quality gates: loaded %s in %.2f s", ", ".join(f"{p.table} ({p.rows} rows)" for p in
                                                             prepared.values()) or "nothing",
             time.perf_counter() - started)
    return validate(prepared, docs_dir=docs_dir, fail=fail)


def validate(prepared: Mapping[str, "Prepared"], *, docs_dir: Path | None = None,
             fail: bool = True) -> dict[str, Any]:
    """Validate prepared frames (see ``frames.prepare``): the GX half of ``run_gates``."""
    load_gx()
    from great_expectations.core.run_identifier import RunIdentifier

    context = _context(docs_dir)
    source = context.data_sources.add_pandas("staging")
    run_id = RunIdentifier(run_name=RUN_NAME, run_time=datetime.now(timezone.utc))
    summary: dict[str, Any] = {}
    for name, prep in prepared.items():
        started = time.perf_counter()
        result = _validate_one(context, source, prep, run_id)
        summary[name] = _summarize(prep, result)
        log.info("quality gate %s: %s, %d rows, %d failed expectation(s), excluded %s, %.2f s", name,
                 "passed" if summary[name]["success"] else "FAILED", prep.rows, len(summary[name]["failed"]),
                 prep.excluded, time.perf_counter() - started)
    index = None
    if docs_dir is not None:
        started = time.perf_counter()
        index = build_docs(context, Path(docs_dir))
        log.info("quality gates: Data Docs at %s (%.2f s)", index, time.perf_counter() - started)
    if fail and any(not s["success"] for s in summary.values()):
        raise DataQualityError(failure_message(summary, index), summary)
    return summary


# ------------------------------------------------------------------------------------------------ GX
def _context(docs_dir: Path | None) -> Any:
    gx = load_gx()
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    if docs_dir is not None:
        context.add_data_docs_site(SITE_NAME, {
            "class_name": "SiteBuilder",
            "show_how_to_buttons": False,
            "store_backend": {"class_name": "TupleFilesystemStoreBackend",
                              "base_directory": str(Path(docs_dir).resolve())},
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        })
    return context


def _validate_one(context: Any, source: Any, prep: "Prepared", run_id: Any) -> Any:
    from .suites import BUILDERS

    gx = load_gx()

    suite = context.suites.add(gx.ExpectationSuite(name=prep.table))
    for expectation in BUILDERS[prep.table]():
        suite.add_expectation(expectation)
    batch = source.add_dataframe_asset(prep.table).add_batch_definition_whole_dataframe("current rows")
    definition = context.validation_definitions.add(gx.ValidationDefinition(name=prep.table, data=batch,
                                                                            suite=suite))
    return definition.run(
        batch_parameters={"dataframe": prep.frame}, run_id=run_id,
        result_format={"result_format": "SUMMARY", "unexpected_index_column_names": [GATE_ID],
                       "partial_unexpected_count": 20})


def build_docs(context: Any, docs_dir: Path) -> Path:
    """GX's own Data Docs site builder, with a filesystem store at ``docs_dir``; answers the index page."""
    docs_dir.mkdir(parents=True, exist_ok=True)
    context.build_data_docs(site_names=[SITE_NAME])
    prune_docs(docs_dir)
    return docs_dir.resolve() / "index.html"


def prune_docs(docs_dir: Path, keep: int | None = None) -> int:
    """Remove the validation pages of all but the newest ``keep`` gate runs (``validations/<table>/quality_gates/
    <run time>/``; run times sort as text). Only those directories are touched. Answers how many were removed."""
    import shutil

    keep = DOCS_KEEP_RUNS if keep is None else keep
    removed = 0
    for name in SPECS:
        runs_dir = docs_dir / "validations" / name / RUN_NAME
        if not runs_dir.is_dir():
            continue
        runs = sorted(p for p in runs_dir.iterdir() if p.is_dir())
        for old in runs[:max(len(runs) - keep, 0)]:
            shutil.rmtree(old, ignore_errors=True)
            removed += 1
    return removed


# ------------------------------------------------------------------------------------------------ summary
def _summarize(prep: "Prepared", result: Any) -> dict[str, Any]:
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
            "examples": _examples(details),
        })
    return {"success": not failed, "rows": prep.rows, "failed": failed, "excluded": dict(prep.excluded)}


def _examples(details: Mapping[str, Any]) -> list[str]:
    ids: list[str] = []
    for item in details.get("partial_unexpected_index_list") or []:
        ident = item.get(GATE_ID) if isinstance(item, Mapping) else item
        if ident is not None and str(ident) not in ids:
            ids.append(str(ident))
        if len(ids) == MAX_EXAMPLES:
            break
    return ids


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
