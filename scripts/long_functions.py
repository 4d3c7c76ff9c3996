"""List the functions of the domain package longer than the house limit (~60 lines).

    .venv/bin/python scripts/long_functions.py [--max 60] [path ...]

Counts a function from its ``def`` (decorators excluded) to its last line, docstring included; nested functions
count inside their parent and are listed on their own too. Exit status 1 when any is listed.
"""
from __future__ import annotations

import argparse
import ast
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "plugins" / "atera_qbo"
MAX_LINES = 60


class LongFunction(NamedTuple):
    path: str  # relative to the repository
    name: str  # qualified: Class.method, outer.inner
    line: int
    lines: int


def _functions(tree: ast.AST, prefix: str = "") -> Iterator[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]]:
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield prefix + node.name, node
            yield from _functions(node, f"{prefix}{node.name}.")
        elif isinstance(node, ast.ClassDef):
            yield from _functions(node, f"{prefix}{node.name}.")


def long_functions(paths: list[Path], max_lines: int = MAX_LINES) -> list[LongFunction]:
    found = []
    for root in paths:
        for path in sorted([root] if root.is_file() else root.rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            for name, node in _functions(tree):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > max_lines:
                    shown = path.resolve().relative_to(REPO) if path.resolve().is_relative_to(REPO) else path
                    found.append(LongFunction(str(shown), name, node.lineno, lines))
    return sorted(found, key=lambda f: -f.lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max", type=int, default=MAX_LINES, help="longest allowed function (lines)")
    parser.add_argument("paths", nargs="*", type=Path, default=[PACKAGE])
    args = parser.parse_args(argv)
    found = long_functions(args.paths, args.max)
    for f in found:
        print(f"{f.lines:4d} lines  {f.path}:{f.line}  {f.name}")
    print(f"{len(found)} function(s) over {args.max} lines")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
