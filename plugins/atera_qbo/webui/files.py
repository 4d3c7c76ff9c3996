"""Downloads from the current company's review dir, and only from there: the review (CSV, .xlsx), the catalog
previews, the export reports and the Data Docs. A path in a URL is resolved inside that dir and refused (404) when
it would leave it — ``..``, an absolute path, a symlink out — or reach another company's dir (the ``default``
company's review dir is the deployment's, which holds the others' under ``companies/``)."""
from __future__ import annotations

import mimetypes
import re
from pathlib import Path, PurePosixPath

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse, Response

from .pages import ReadExport, ReadWizard

router = APIRouter()
REVIEW_FILES = ("match_review.csv", "match_review.xlsx", "catalog_replacement.csv", "catalog_follow.csv")
EXPORT_REPORT = re.compile(r"^export_[A-Za-z0-9_.:+-]+\.csv$")
INERT = {"Content-Security-Policy": "sandbox"}  # a generated HTML page runs no script under this origin


def within(root: Path, relative: str) -> Path:
    """The existing file ``relative`` names inside ``root`` (a 404 for anything else, saying nothing of it)."""
    missing = HTTPException(404, f"no file {relative!r} in this company's review dir")
    parts = PurePosixPath(relative).parts
    if not parts or relative.startswith("/") or "\\" in relative or any(p in ("..", ".") for p in parts) \
            or parts[0] == "companies":
        raise missing
    top = root.resolve()
    path = (top / relative).resolve()
    if not path.is_relative_to(top) or path.is_relative_to(top / "companies") or not path.is_file():
        raise missing
    return path


def send(path: Path, filename: str | None = None) -> Response:
    media = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    if media == "text/html":
        return FileResponse(path, media_type=media, headers=INERT)
    return FileResponse(path, media_type=media, filename=filename or path.name)


@router.get("/files/review/{name}")
def review_file(page: ReadWizard, name: str) -> Response:
    if name not in REVIEW_FILES:
        raise HTTPException(404, f"no review file {name!r}: {', '.join(REVIEW_FILES)}")
    return send(within(page.review_dir, name), f"{page.company.id}_{name}")


@router.get("/files/exports/{name}")
def export_report_file(page: ReadExport, name: str) -> Response:
    if not EXPORT_REPORT.match(name):
        raise HTTPException(404, f"no export report {name!r}")
    return send(within(page.review_dir, f"exports/{name}"), f"{page.company.id}_{name}")


@router.get("/files/data_docs/{path:path}")
def data_docs(page: ReadWizard, path: str) -> Response:
    return send(within(page.review_dir, f"data_docs/{path}"))
