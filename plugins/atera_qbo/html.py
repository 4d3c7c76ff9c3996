"""The package's one Jinja environment for HTML. Every page the package writes — the reconciliation report, the
quality gates' summary, the web UI's pages — is rendered from a template under ``atera_qbo/templates``
(``reports/``, ``webui/``) with autoescaping on: values reach a page through ``{{ }}`` only, never by string
concatenation. Pages are self-contained (inline CSS, no remote asset)."""
from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import jinja2

TEMPLATES = Path(__file__).resolve().parent / "templates"


@functools.cache
def environment() -> jinja2.Environment:
    """The environment, one per process: templates from ``TEMPLATES``, every one autoescaped."""
    return jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True)


def render(template: str, /, **context: Any) -> str:
    """``template`` (a path under ``TEMPLATES``, e.g. ``reports/reconciliation.html``) rendered with ``context``."""
    return environment().get_template(template).render(**context)
