"""House rule: no function over ~60 lines in the code we ship and run — the plugins, the twins, the DAGs, the
benchmarks and the scripts (``scripts/long_functions.py`` lists them; ``make lint`` runs it over the same paths)."""
from __future__ import annotations

import pytest

from scripts.long_functions import REPO, long_functions, main

CHECKED = ("plugins", "sandbox", "dags", "benchmarks", "scripts")


@pytest.mark.parametrize("tree", CHECKED)
def test_no_function_over_60_lines(tree):
    found = [f"{f.path}:{f.line} {f.name} ({f.lines} lines)" for f in long_functions([REPO / tree])]
    assert found == [], f"split these functions: {found}"


def test_the_lister_counts_nested_and_method_bodies(tmp_path, capsys):
    body = "\n".join(f"    x{i} = {i}" for i in range(61))
    (tmp_path / "m.py").write_text(f"class C:\n    def long(self):\n    {body.replace(chr(10), chr(10) + '    ')}\n"
                                   f"def short():\n    return 1\n")
    found = long_functions([tmp_path])
    assert [(f.name, f.lines) for f in found] == [("C.long", 62)]
    assert main([str(tmp_path)]) == 1 and "C.long" in capsys.readouterr().out
    assert main(["--max", "62", str(tmp_path)]) == 0
