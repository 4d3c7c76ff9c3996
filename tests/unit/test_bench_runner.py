"""``make bench``'s runner: finds every benchmark, runs them in the flow's order, tolerates one that is not there,
records one that fails, and writes docs/benchmarks.md with the machine's details and what each printed."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def load_runner():
    spec = importlib.util.spec_from_file_location("bench_run_all", REPO / "benchmarks" / "run_all.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_runs_every_benchmark_in_order_tolerates_missing_records_failures_and_writes_the_docs(tmp_path, capsys):
    runner = load_runner()
    (tmp_path / "bench_export.py").write_text("print('export ratio 0.97')\n")
    (tmp_path / "bench_qbo_twin.py").write_text("print('simple requests: 1000 req/s')\n")
    (tmp_path / "bench_zeta_extra.py").write_text("import sys\nprint('half done')\nsys.exit(3)\n")
    runner.HERE, runner.DOCS = tmp_path, tmp_path / "docs" / "benchmarks.md"

    assert runner.main([]) == 1  # one benchmark failed: the command fails, after running all of them
    out = capsys.readouterr().out
    order = [out.index(f"=== {s}") for s in ("bench_qbo_twin.py", "bench_export.py", "bench_zeta_extra.py")]
    assert order == sorted(order), "known benchmarks in the flow's order, others after them"
    assert "=== bench_matching.py" in out and "not present" in out

    docs = runner.DOCS.read_text()
    for key in ("CPU", "Cores (usable)", "RAM", "Python", "Date (UTC)"):
        assert f"| {key} |" in docs, key
    assert "simple requests: 1000 req/s" in docs and "export ratio 0.97" in docs and "half done" in docs
    assert "| Matching | `benchmarks/bench_matching.py` | not present |" in docs
    assert "FAILED (exit 3)" in docs
    assert "| Invoice export at QBO's limits | `benchmarks/bench_export.py` | ok |" in docs
