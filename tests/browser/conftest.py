"""One headless Debian chromium for every browser test of the session; the screenshots directory
(``var/browser-artifacts/``) is emptied once, when the first browser test starts, so every module's screenshots
stay side by side."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from .helpers import ARTIFACTS, CHROMIUM


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (.ci/run does)")
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)
    print(f"\nscreenshots: {ARTIFACTS}")
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield chromium
        chromium.close()
