"""Matching at scale, each part in a fresh process (so its peak RSS is its own):

    .venv/bin/python benchmarks/bench_matching.py [--part exact|suggest|dag]

- exact: exact matching of 100,000 Atera × 100,000 QBO customers plus 10,000 override lines (target ≤ 2 s,
  ≤ 1 GB peak RSS for the whole process, data generation included);
- suggest: suggestions for 10,000 names exact matching left open against 100,000 candidates (target ≤ 60 s), and
  the recall of the right candidate in the top 3 (target ≥ 99 %), on names made by ``sandbox/seed.py``'s
  generator with its variant kinds (punctuation/legal suffix, abbreviation, accent, ambiguous, Atera-only);
- dag: the matching task (``tasks.matching.match``, review CSV written, no commit) on the ``large`` seeds, staged from
  both twins through their APIs beforehand (target ≤ 15 s of task time).

Atera's own wizard: "1,000 products optimal, 8,000 the limit".
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "plugins")]

N, OVERRIDES, QUERIES = 100_000, 10_000, 10_000
OPEN_SNAGS = ("punct", "abbrev", "accent", "ambiguous", "atera_only")  # what exact matching leaves open


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def companies(count: int, seed: int = 7):
    from sandbox.seed import _generated_companies, _unique_names

    return _unique_names(_generated_companies(random.Random(seed), count))


def part_exact() -> None:
    import pandas as pd

    from atera_qbo.matching.catalogs import Catalogs
    from atera_qbo.matching.exact import exact_customers
    from atera_qbo.matching.overrides import apply_overrides
    from atera_qbo.matching.review import ReviewRow

    world = companies(int(N * 1.15))
    atera = [c for c in world if c.atera_name][:N]
    qbo = [c for c in world if c.qbo_name][:N]
    cat = Catalogs(pd.DataFrame({"atera_id": [str(c.key) for c in atera], "name": [c.atera_name for c in atera]}),
                   pd.DataFrame({"qbo_id": [str(c.key) for c in qbo], "name": [c.qbo_name for c in qbo],
                                 "active": [c.qbo_active for c in qbo], "is_job": False,
                                 "company_name": [c.qbo_name for c in qbo]}),
                   pd.DataFrame(columns=["atera_id", "name", "sku"]),
                   pd.DataFrame({"qbo_id": [], "name": [], "active": []}))
    rng = random.Random(1)
    who = rng.sample([str(c.key) for c in atera], OVERRIDES)
    to = rng.sample([str(c.key) for c in qbo if c.qbo_active], OVERRIDES)
    lines = [ReviewRow(entity="customer", atera_id=a, qbo_id=q, action="match", line=i + 2)
             for i, (a, q) in enumerate(zip(who, to, strict=True))]
    started, cpu = time.perf_counter(), time.process_time()
    review = exact_customers(cat.atera_customers, cat.qbo_customers)
    exact_s = time.perf_counter() - started
    review = apply_overrides(review, lines, cat)
    total, cpu = time.perf_counter() - started, time.process_time() - cpu
    counts = review["status"].value_counts().to_dict()
    print(f"exact + overrides: {N:,} Atera × {N:,} QBO customers, {OVERRIDES:,} override lines: "
          f"{total:.2f} s (exact {exact_s:.2f} s, overrides {total - exact_s:.2f} s; CPU {cpu:.2f} s); "
          f"peak RSS {peak_mb():.0f} MB "
          f"[targets ≤ 2 s, ≤ 1024 MB]; statuses {counts}")


def part_suggest() -> None:
    from atera_qbo.matching.normalize import suggest_key
    from atera_qbo.matching.suggest import top_candidates

    world = companies(int(N * 1.6), seed=11)
    open_rows = [c for c in world if c.atera_name and c.snag in OPEN_SNAGS]
    queries = random.Random(2).sample(open_rows, QUERIES)
    right = {c.key: c.qbo_name for c in queries if c.qbo_name}
    names = list(dict.fromkeys([c.qbo_name for c in queries if c.qbo_name]
                               + [c.qbo_name for c in world if c.qbo_name and c.qbo_active]))
    extra = [c.qbo_name for c in world if c.snag == "ambiguous" and c.atera_name is None]  # "… Services" twins
    names = list(dict.fromkeys(names[:len(right)] + extra + names[len(right):]))[:N]
    started, cpu = time.perf_counter(), time.process_time()
    keys = [suggest_key(n) for n in names]
    qkeys = [suggest_key(c.atera_name) for c in queries]
    best = top_candidates(qkeys, keys)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    top = best.groupby("q")["c"].agg(list).to_dict()
    hits = sum(right[c.key] in {names[j] for j in top.get(i, [])} for i, c in enumerate(queries) if c.key in right)
    first = sum(bool(top.get(i)) and names[top[i][0]] == right[c.key] for i, c in enumerate(queries)
                if c.key in right)
    kinds = {k: sum(c.snag == k for c in queries) for k in OPEN_SNAGS}
    print(f"suggestions: {QUERIES:,} open names × {len(names):,} candidates: {elapsed:.1f} s "
          f"(CPU {cpu:.1f} s, both cores); right candidate in top 3: {hits / len(right):.2%}, "
          f"first: {first / len(right):.2%} of {len(right):,} with a counterpart "
          f"(kinds {kinds}); peak RSS {peak_mb():.0f} MB [targets ≤ 60 s, recall ≥ 99 %]")


def _stage_large(engine) -> None:
    """Both catalogs of the ``large`` seeds into staging, through the twins' APIs (their limits lifted)."""
    from atera_qbo.atera.client import AteraClient
    from atera_qbo.extract import extract_atera_catalog, extract_qbo_catalog
    from atera_qbo.http import RetryPolicy
    from atera_qbo.qbo.auth import TokenEndpoint, TokenStore
    from atera_qbo.qbo.client import QboClient
    from sandbox.control import AteraControl, QboControl
    from sandbox.launch import start_twin
    from scripts.airflow_env import DEMO

    policy = RetryPolicy(max_attempts=10, initial_wait=0.2, max_wait=10)
    atera = start_twin("atera", ["--seed", "large", "--api-key", DEMO["atera_api_key"]], timeout=600)
    try:
        AteraControl(atera.url).set_limits(per_minute=10**6)
        extract_atera_catalog(AteraClient(atera.url, DEMO["atera_api_key"], rate_per_minute=None, policy=policy),
                              engine)
    finally:
        atera.stop()
    qbo = start_twin("qbo", ["--seed", "large", "--realm-id", DEMO["realm_id"], "--client-id", DEMO["client_id"],
                             "--client-secret", DEMO["client_secret"], "--refresh-token", DEMO["refresh_token"]],
                     timeout=600)
    try:
        QboControl(qbo.url).set_limits(per_minute=10**6, per_second=0, batch_per_minute=10**6, concurrent=10)
        store = TokenStore(engine, DEMO["realm_id"], TokenEndpoint(
            f"{qbo.url}/oauth2/v1/tokens/bearer", DEMO["client_id"], DEMO["client_secret"]),
            seed_refresh_token=DEMO["refresh_token"])
        extract_qbo_catalog(QboClient(qbo.url, DEMO["realm_id"], store, rate_per_minute=None, policy=policy),
                            engine)
    finally:
        qbo.stop()


def part_dag(staging: str | None = None) -> None:
    """``staging``: a SQLite file to keep the staged seeds in (reused when it exists: staging takes minutes)."""
    from atera_qbo.staging.db import apply_schema, make_engine

    home = Path(tempfile.mkdtemp(prefix="bench-matching-"))
    db = Path(staging) if staging else home / "staging.db"
    reuse = db.exists()
    engine = make_engine(f"sqlite:///{db}")
    started = time.perf_counter()
    apply_schema(engine)  # creates, or upgrades a kept file to this revision
    if not reuse:
        _stage_large(engine)
    staged = time.perf_counter() - started
    engine.dispose()
    # the task's own code, through its composition root: the staging connection and review dir it reads
    os.environ["AIRFLOW_CONN_ATERA_QBO_STAGING"] = json.dumps({"conn_type": "sqlite", "host": str(db)})
    os.environ["ATERA_QBO_REVIEW_DIR"] = str(home / "review")
    from atera_qbo.staging.db import engine_for
    from atera_qbo.tasks.matching import match

    engine_for(f"sqlite:///{db}")  # the process's engine, made and checked once, as in a worker between tasks

    started, cpu = time.perf_counter(), time.process_time()
    summary = match(overrides_path=None, commit=False, create_unmatched_in_qbo=False,
                    import_unmatched_qbo_customers=False, run_id="bench")
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    how = "reused staging" if reuse else f"staged through the twins' APIs in {staged:.0f} s"
    print(f"matching task on the large seeds ({how}): {elapsed:.1f} s "
          f"(CPU {cpu:.1f} s) [target ≤ 15 s]; peak RSS {peak_mb():.0f} MB; {summary['status_counts']}")


def hardware() -> str:
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor())
    return f"{os.cpu_count()} cores ({model}), Python {platform.python_version()}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--part", choices=("exact", "suggest", "dag"))
    parser.add_argument("--staging", help="dag: SQLite file keeping the staged large seeds (reused if present)")
    args = parser.parse_args()
    if args.part:
        part_dag(args.staging) if args.part == "dag" else {"exact": part_exact, "suggest": part_suggest}[args.part]()
        return
    print(f"machine: {hardware()}; load average before: {os.getloadavg()[0]:.1f}", flush=True)
    for part in ("exact", "suggest", "dag"):
        extra = ["--staging", args.staging] if args.staging and part == "dag" else []
        subprocess.run([sys.executable, __file__, "--part", part, *extra], check=True)


if __name__ == "__main__":
    main()
