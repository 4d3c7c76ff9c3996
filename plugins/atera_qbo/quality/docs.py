"""Data Docs that keep every DAG's latest validations: a persistent, file-backed GX project.

The project lives beside the docs (``<review dir>/gx/``: suites, validation definitions, one checkpoint per gated
table, and the validation results store); the Data Docs site is ``<review dir>/data_docs/``. Each table is
validated by its checkpoint, whose ``UpdateDataDocsAction`` renders that validation's page and the index. The
stored results of a suite are pruned to its newest ``keep`` runs; GX's site builder then drops the pages of the
pruned results itself, and the pages of the other suites (the other DAG's tables) stay.

GX's pages load Bootstrap, jQuery, bootstrap-table, Font Awesome and Vega from CDNs (hard-coded in GX 1.24.1's
page templates; GX ships none of those assets), so offline they render without styles and the index's table
stays empty. ``gates_summary.html`` is the gate's own page: self-contained (inline CSS, no remote asset), it lists
every suite's latest validation and links the GX pages of the runs kept. It is rendered from
``templates/reports/gates_summary.html`` (``atera_qbo.html``: autoescaped).
"""
from __future__ import annotations

import fcntl
import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..html import render
from ._gx import data_context_error, quiet, update_data_docs_action
from ._gx import gx as load_gx

GATE_ID = "gate_id"  # the column naming each row of a gate's frame (with its reasons, where the gate gives them)
MAX_EXAMPLES = 5  # rows named per failed expectation

log = logging.getLogger(__name__)

SITE_NAME = "atera_qbo_quality_gates"
RUN_NAME = "quality_gates"
SOURCE_NAME = "staging"
BATCH_NAME = "current rows"
SUMMARY_PAGE = "gates_summary.html"
SUMMARY_TEMPLATE = "reports/gates_summary.html"


@contextmanager
def project(project_dir: Path, docs_dir: Path) -> Iterator[Any]:
    """The file-backed GX context at ``project_dir`` (created on first use) with our Data Docs site at
    ``docs_dir``, held under an exclusive file lock: two DAGs gating at once take turns."""
    project_dir.mkdir(parents=True, exist_ok=True)
    docs_dir.mkdir(parents=True, exist_ok=True)
    with open(project_dir / ".gates.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield _open(project_dir, docs_dir)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _open(project_dir: Path, docs_dir: Path) -> Any:
    context = load_gx().get_context(mode="file", project_root_dir=str(project_dir))
    # We use no GX config variables, and GX re-reads and parses this commented template on every access to a
    # setting (more time than the validations took): without the file GX takes it as empty.
    (project_dir / "gx" / "uncommitted" / "config_variables.yml").unlink(missing_ok=True)
    quiet(context)
    site = _site(docs_dir, project_dir)
    sites = dict(context.variables.data_docs_sites or {})
    if sites != {SITE_NAME: site}:  # only our site (GX's default local_site would render a second copy)
        for name in sites:
            context.delete_data_docs_site(name)
        context.add_data_docs_site(SITE_NAME, site)
    return context


def _without_ids(doc: Any) -> Any:
    if isinstance(doc, dict):
        return {k: _without_ids(v) for k, v in doc.items() if k != "id"}
    if isinstance(doc, list):
        return [_without_ids(v) for v in doc]
    return doc


def _stored(context: Any, table: str, wanted: Any, result_format: dict[str, Any]) -> Any | None:
    """The table's checkpoint as stored, when its suite and result format are what this run wants."""
    try:
        stored, suite = context.checkpoints.get(table), context.suites.get(table)
    except data_context_error():
        return None
    same = _without_ids(suite.to_json_dict()) == _without_ids(wanted.to_json_dict())
    return stored if same and stored.result_format == result_format else None


def _site(docs_dir: Path, project_dir: Path) -> dict[str, Any]:
    """Our Data Docs site: GX's site builder at ``docs_dir``, its page views with a Jinja bytecode cache in the
    project (``_views.py``), no profiling section (we profile nothing)."""
    def view(class_name: str) -> dict[str, Any]:
        return {"module_name": "atera_qbo.quality._views", "class_name": class_name,
                "bytecode_dir": str((project_dir / "gx" / "uncommitted" / "jinja_cache").resolve())}

    return {"class_name": "SiteBuilder", "show_how_to_buttons": False,
            "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(docs_dir.resolve())},
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder", "view": view("CachedIndexPageView")},
            "site_section_builders": {"profiling": "None", "validations": {"view": view("CachedPageView")},
                                      "expectations": {"view": view("CachedPageView")}}}


def checkpoint(context: Any, table: str, expectations: list[Any], result_format: dict[str, Any]) -> Any:
    """The checkpoint that validates ``table`` (its suite, over a dataframe passed at run time) and updates the
    Data Docs. Stored once; replaced (suite, definition, checkpoint) when the suite changed."""
    gx = load_gx()
    wanted = gx.ExpectationSuite(name=table, expectations=expectations)
    stored = _stored(context, table, wanted, result_format)
    if stored is not None:
        return stored
    suite = context.suites.add_or_update(wanted)
    try:
        source = context.data_sources.get(SOURCE_NAME)
    except KeyError:
        source = context.data_sources.add_pandas(SOURCE_NAME)
    try:
        asset = source.get_asset(table)
    except LookupError:
        asset = source.add_dataframe_asset(table)
    try:
        batch = asset.get_batch_definition(BATCH_NAME)
    except (KeyError, LookupError):
        batch = asset.add_batch_definition_whole_dataframe(BATCH_NAME)
    definition = context.validation_definitions.add_or_update(
        gx.ValidationDefinition(name=table, data=batch, suite=suite))
    return context.checkpoints.add_or_update(gx.Checkpoint(
        name=table, validation_definitions=[definition], result_format=result_format,
        actions=[update_data_docs_action("update_data_docs", [SITE_NAME])]))


def _runs(context: Any) -> dict[str, list[Any]]:
    """Stored validation result keys per suite, newest first."""
    by_suite: dict[str, list[Any]] = {}
    for key in context.validation_results_store.list_keys():
        by_suite.setdefault(key.expectation_suite_identifier.name, []).append(key)
    for keys in by_suite.values():
        keys.sort(key=lambda k: str(k.run_id.run_time), reverse=True)
    return by_suite


def prune_results(context: Any, suites: list[str], keep: int) -> int:
    """Leave room for this run: keep the newest ``keep - 1`` stored results of each of ``suites``. Answers how
    many were removed (their Data Docs pages go at the next index build)."""
    removed = 0
    runs = _runs(context)
    for suite in suites:
        for key in runs.get(suite, [])[max(keep - 1, 0):]:
            context.validation_results_store.remove_key(key)
            removed += 1
    return removed


def _page(key: Any) -> str:
    """A validation's Data Docs page, relative to the site root (GX's own layout)."""
    run_time = key.run_id.run_time.strftime("%Y%m%dT%H%M%S.%fZ")
    return f"validations/{key.expectation_suite_identifier.name}/{key.run_id.run_name}/{run_time}/" \
           f"{key.batch_identifier}.html"


@dataclass(frozen=True)
class Run:
    """One stored validation of a suite, as the summary links it."""
    page: str  # its Data Docs page, relative to the site root
    time: str  # its run time, to the second


@dataclass(frozen=True)
class SuiteSummary:
    """One suite's line of the summary: its latest validation, and the earlier ones kept."""
    suite: str
    success: bool
    latest: Run
    met: int  # expectations met
    evaluated: int
    failed: list[str]  # what failed, in plain words
    earlier: list[Run]


def _run(key: Any) -> Run:
    return Run(_page(key), str(key.run_id.run_time)[:19])


def examples(details: Mapping[str, Any], limit: int = MAX_EXAMPLES) -> list[str]:
    """The ``gate_id`` of the first rows an expectation found unexpected (with their reasons, where the gate's
    frame gives them: ``mapping_reasons``)."""
    ids: list[str] = []
    for item in details.get("partial_unexpected_index_list") or []:
        ident = item.get(GATE_ID) if isinstance(item, Mapping) else item
        if ident is not None and str(ident) not in ids:
            ids.append(str(ident))
        if len(ids) == limit:
            break
    return ids


def _failed(r: Any) -> str:
    """A failed expectation in plain words, with the rows it refused (and why, where the frame says)."""
    what = str(r.expectation_config.description or r.expectation_config.type)
    rows = examples(r.result or {})
    return f"{what}: {'; '.join(rows)}" if rows else what


def _summary(suite: str, keys: list[Any], context: Any) -> SuiteSummary:
    result = context.validation_results_store.get(keys[0])
    stats = result.statistics or {}
    failed = [_failed(r) for r in result.results if not r.success]
    return SuiteSummary(suite, bool(result.success), _run(keys[0]), stats.get("successful_expectations", 0),
                        stats.get("evaluated_expectations", 0), failed, [_run(k) for k in keys[1:]])


def write_summary(context: Any, docs_dir: Path) -> Path:
    """``gates_summary.html``: every suite's latest validation (status, expectations met, what failed) with links
    to the GX pages of the runs kept. Self-contained: it renders offline."""
    runs = _runs(context)
    page = render(SUMMARY_TEMPLATE, written=datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
                  suites=[_summary(suite, keys, context) for suite, keys in sorted(runs.items()) if keys])
    path = docs_dir / SUMMARY_PAGE
    path.write_text(page, encoding="utf-8")
    return path.resolve()
