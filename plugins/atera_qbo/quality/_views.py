"""GX's Data Docs page views with a persistent Jinja bytecode cache: GX builds a new Jinja environment for every
page it renders and compiles its templates again each time, which was most of the gates' docs time. Named in the
site configuration (``docs.py``); imported by GX only when it renders."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
from great_expectations.render.view.view import DefaultJinjaIndexPageView, DefaultJinjaPageView


class _BytecodeCached:
    env: jinja2.Environment

    def __init__(self, custom_styles_directory: str | None = None, custom_views_directory: str | None = None,
                 bytecode_dir: str | None = None, **kwargs: Any) -> None:
        super().__init__(custom_styles_directory=custom_styles_directory,  # type: ignore[call-arg]
                         custom_views_directory=custom_views_directory, **kwargs)
        if bytecode_dir:
            Path(bytecode_dir).mkdir(parents=True, exist_ok=True)
            self.env.bytecode_cache = jinja2.FileSystemBytecodeCache(bytecode_dir)


class CachedPageView(_BytecodeCached, DefaultJinjaPageView):
    """Validation and expectation-suite pages."""


class CachedIndexPageView(_BytecodeCached, DefaultJinjaIndexPageView):
    """The site index."""
