"""Every relative link in the repository's Markdown (README.md first) points at a file or folder that exists."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path
from urllib.parse import unquote

import pytest

REPO = Path(__file__).resolve().parents[2]
_INLINE = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")  # [text](target "title")
_REFERENCE = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$", re.MULTILINE)  # [label]: target
_HTML = re.compile(r"""<(?:a|img)\b[^>]*?\b(?:href|src)\s*=\s*["']([^"']+)["']""", re.IGNORECASE)
_FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
_CODE = re.compile(r"`[^`\n]*`")


def markdown_files() -> list[Path]:
    try:
        out = subprocess.run(["git", "ls-files", "*.md"], cwd=REPO, capture_output=True, text=True, check=True)
        files = [REPO / line for line in out.stdout.splitlines() if line]
    except (OSError, subprocess.CalledProcessError):  # not a git checkout: every .md outside the venv
        files = [p for p in REPO.rglob("*.md") if ".venv" not in p.parts and "node_modules" not in p.parts]
    return sorted(p for p in files if p.is_file())


def relative_links(text: str) -> list[str]:
    """Link targets that point into the repository (no scheme, no pure #anchor), outside code spans/blocks."""
    text = _CODE.sub("", _FENCE.sub("", text))
    targets = [m.group(1) for rx in (_INLINE, _REFERENCE, _HTML) for m in rx.finditer(text)]
    return [t for t in targets if not re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:|^#|^//", t)]


def broken_links(md: Path) -> list[str]:
    broken = []
    for target in relative_links(md.read_text(encoding="utf-8")):
        path = unquote(target.split("#", 1)[0].split("?", 1)[0])
        resolved = (REPO / path.lstrip("/")) if path.startswith("/") else (md.parent / path)
        if not resolved.exists():
            broken.append(target)
    return broken


def test_readme_is_among_the_checked_files():
    assert REPO / "README.md" in markdown_files()


@pytest.mark.parametrize("md", markdown_files(), ids=lambda p: str(p.relative_to(REPO)))
def test_relative_links_point_at_files_that_exist(md):
    assert broken_links(md) == [], f"{md.relative_to(REPO)} links to missing files"


def test_the_checker_finds_a_broken_link(tmp_path):
    """The check itself: inline, reference and HTML links are seen; URLs, anchors and code are not links."""
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "here.md").write_text("x")
    md = tmp_path / "README.md"
    md.write_text("[ok](docs/here.md#part) [gone](docs/gone.md) ![img](pic.png) [web](https://example.com)\n"
                  "[anchor](#top) `[code](nope.md)`\n```\n[fenced](nope2.md)\n```\n"
                  '[ref]: missing/ref.md\n<a href="also/missing.html">x</a>\n')
    assert sorted(broken_links(md)) == ["also/missing.html", "docs/gone.md", "missing/ref.md", "pic.png"]
