"""``make bench``: every benchmark in this folder (``bench_*.py``), one after the other, each printing its own
figures; then ``docs/benchmarks.md`` is written anew from what they printed, with the machine they ran on.

The known benchmarks run in the order of the flow (twins, extraction, matching, export, reconciliation, several
companies); any other ``bench_*.py`` runs after them, and one that is not there (yet) is only named as missing. A
benchmark that fails is recorded with its exit status and the others still run; the command then exits 1.

``python benchmarks/run_all.py [--only NAME ...] [--no-docs]``
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DOCS = REPO / "docs" / "benchmarks.md"
ORDER = {  # file → what it measures (the flow's order); files not listed run afterwards, alphabetically
    "bench_atera_twin.py": "Atera twin capacity",
    "bench_qbo_twin.py": "QBO twin capacity",
    "bench_extraction.py": "Catalog extraction at the APIs' limits",
    "bench_matching.py": "Matching",
    "bench_export.py": "Invoice export at QBO's limits",
    "bench_reconciliation.py": "Reconciliation",
    "bench_companies.py": "Two companies exporting at once on the Celery cluster",
}


@dataclass
class Outcome:
    script: str
    title: str
    seconds: float
    returncode: int | None  # None: not present
    output: str


def discover(only: list[str] | None = None) -> list[str]:
    present = sorted(p.name for p in HERE.glob("bench_*.py"))
    ordered = [s for s in ORDER if s in present] + [s for s in present if s not in ORDER]
    missing = [s for s in ORDER if s not in present]
    scripts = ordered + missing
    if only:
        scripts = [s for s in scripts if any(name in s for name in only)]
    return scripts


def run(script: str) -> Outcome:
    title = ORDER.get(script, script.removeprefix("bench_").removesuffix(".py").replace("_", " ").capitalize())
    path = HERE / script
    print(f"\n=== {script}: {title} ===", flush=True)
    if not path.exists():
        print("not present in this checkout: skipped", flush=True)
        return Outcome(script, title, 0.0, None, "")
    started = time.monotonic()
    lines: list[str] = []
    # the docs keep what each benchmark prints and any warning, not the info log of every migration and load
    env = dict(os.environ, PYTHONUNBUFFERED="1", AIRFLOW__LOGGING__LOGGING_LEVEL="WARNING")
    proc = subprocess.Popen([sys.executable, str(path)], cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    for line in proc.stdout:  # shown as it comes, kept for the docs
        print(line, end="", flush=True)
        lines.append(line)
    proc.wait()
    return Outcome(script, title, time.monotonic() - started, proc.returncode, "".join(lines))


def load_average() -> str:
    return " / ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "unknown"


def machine(load_at_start: str) -> dict[str, str]:
    def first(path: str, key: str) -> str:
        try:
            for line in Path(path).read_text().splitlines():
                if line.startswith(key):
                    return line.split(":", 1)[1].strip()
        except OSError:
            pass
        return "unknown"

    mem_kb = first("/proc/meminfo", "MemTotal").split()[0]
    ram = f"{int(mem_kb) / 1024 / 1024:.1f} GiB" if mem_kb.isdigit() else "unknown"
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                                text=True, timeout=10).stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        commit = "unknown"
    return {
        "Date (UTC)": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M"),
        "CPU": first("/proc/cpuinfo", "model name"),
        "Cores (usable)": str(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()),
        "RAM": ram,
        "OS": f"{platform.system()} {platform.release()}",
        "Python": platform.python_version(),
        "Commit": commit,
        # other work on the machine slows every figure down: the load says how much there was
        "Load average at the start / at the end (1/5/15 min)": f"{load_at_start} — {load_average()}",
    }


def render(outcomes: list[Outcome], info: dict[str, str]) -> str:
    out = ["# Benchmarks", "",
           "Written by `make bench` (`benchmarks/run_all.py`) from what each benchmark printed; do not edit by hand.",
           "Figures in the README come from this file. Each benchmark's own docstring says what it measures and "
           "its target.", "", "## Machine", "", "| | |", "|---|---|"]
    out += [f"| {k} | {v} |" for k, v in info.items()]
    out += ["", "## Summary", "", "| benchmark | file | result | wall time |", "|---|---|---|---|"]
    for o in outcomes:
        failed = f"FAILED (exit {o.returncode})"
        result = "not present" if o.returncode is None else ("ok" if o.returncode == 0 else failed)
        wall = "" if o.returncode is None else f"{o.seconds:.0f} s"
        out.append(f"| {o.title} | `benchmarks/{o.script}` | {result} | {wall} |")
    for o in outcomes:
        if o.returncode is None:
            continue
        out += ["", f"## {o.title} (`benchmarks/{o.script}`)", "", "```", o.output.rstrip(), "```"]
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="*", help="run only the benchmarks whose file name contains one of these")
    parser.add_argument("--no-docs", action="store_true", help="do not rewrite docs/benchmarks.md")
    args = parser.parse_args(argv)
    load_at_start = load_average()
    outcomes = [run(script) for script in discover(args.only)]
    if not args.no_docs and not args.only:
        DOCS.parent.mkdir(parents=True, exist_ok=True)
        DOCS.write_text(render(outcomes, machine(load_at_start)), encoding="utf-8")
        print(f"\nwrote {DOCS}")
    failed = [o.script for o in outcomes if o.returncode not in (0, None)]
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
