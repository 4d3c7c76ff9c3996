"""Catalog extraction of the ``large`` seeds against the twins with their real limits, time-scaled, compared with
the ceiling those limits impose: ``ratio = achieved requests/s ÷ allowed requests/s`` (target ≥ 0.9).

    .venv/bin/python benchmarks/bench_extraction.py [--atera-scale 4] [--qbo-scale 1] [--only atera|qbo]

Atera allows 700 requests/min per account, QBO 500/min per realm. ``--*-scale N`` makes a twin's "minute" last
60/N s; the client is given the same scaled budget (98 % of the limit). Wall time
includes staging (upserts into SQLite), so the ratio is what a scheduled run really gets.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "plugins")]

from atera_qbo.atera.client import AteraClient  # noqa: E402
from atera_qbo.extract import extract_atera_catalog, extract_qbo_catalog  # noqa: E402
from atera_qbo.http import RetryPolicy  # noqa: E402
from atera_qbo.qbo.auth import TokenEndpoint, TokenStore  # noqa: E402
from atera_qbo.qbo.client import QboClient, QboLimits  # noqa: E402
from atera_qbo.staging.db import apply_schema, make_engine  # noqa: E402
from sandbox.control import AteraControl, QboControl, TwinControl  # noqa: E402
from sandbox.launch import start_twin  # noqa: E402

ATERA_LIMIT, QBO_LIMIT = 700, 500
MARGIN = 0.98  # the client's budget as a share of the limit: a token bucket with burst 1 never exceeds it


def engine():
    eng = make_engine(f"sqlite:///{tempfile.mkdtemp(prefix='bench-staging-')}/staging.db")
    apply_schema(eng)
    return eng


def report(name: str, twin, prefix: str, elapsed: float, limit_per_s: float, results: dict) -> float:
    log = TwinControl(twin.url).requests()
    api = [e for e in log if e["path"].startswith(prefix)]
    requests_made, refused = len(api), sum(e["status"] == 429 for e in api)
    rows = sum(r.rows for r in results.values())
    achieved = requests_made / elapsed
    ratio = achieved / limit_per_s
    print(f"{name}: {rows:,} rows in {elapsed:.1f} s; {requests_made} requests ({refused} answered 429) "
          f"= {achieved:.1f} req/s vs ceiling {limit_per_s:.1f} req/s → ratio {ratio:.2f}")
    return ratio


POLICY = RetryPolicy(max_attempts=10, initial_wait=0.2, max_wait=10)


def _run(name: str, twin, prefix: str, limit_per_s: float, extract, setup) -> float:
    """Set the twin up, time one full catalog extraction, report it against the limit's ceiling; always stop the
    twin. ``setup(twin) -> (client, engine)``."""
    try:
        client, eng = setup(twin)
        started = time.monotonic()
        results = extract(client, eng)
        return report(name, twin, prefix, time.monotonic() - started, limit_per_s, results)
    finally:
        twin.stop()


def bench_atera(scale: float) -> float:
    def setup(twin):
        AteraControl(twin.url).set_limits(per_minute=ATERA_LIMIT, time_scale=scale)
        return AteraClient(twin.url, "twin-atera-key", rate_per_minute=ATERA_LIMIT * scale * MARGIN,
                           policy=POLICY), engine()

    return _run(f"Atera large (scale {scale:g})", start_twin("atera", ["--seed", "large"], timeout=300), "/api/",
                ATERA_LIMIT * scale / 60, extract_atera_catalog, setup)


def bench_qbo(scale: float) -> float:
    def setup(twin):
        QboControl(twin.url).set_limits(per_minute=QBO_LIMIT, per_second=10, concurrent=10, batch_per_minute=40,
                                        time_scale=scale)
        eng = engine()
        store = TokenStore(eng, "9341453050298751", TokenEndpoint(f"{twin.url}/oauth2/v1/tokens/bearer",
                                                                  "twin-client-id", "twin-client-secret"),
                           seed_refresh_token="bench-rt")
        # the client's budgets on the twin's scaled clock: a minute lasts 60/scale s, a second 1/scale s
        limits = QboLimits(per_minute=int(QBO_LIMIT * MARGIN), per_second=10, minute=60 / scale)
        return QboClient(twin.url, "9341453050298751", store, limits=limits, policy=POLICY), eng

    twin = start_twin("qbo", ["--seed", "large", "--refresh-token", "bench-rt", "--time-scale", str(scale)],
                      timeout=300)
    return _run(f"QBO large (scale {scale:g})", twin, "/v3/", QBO_LIMIT * scale / 60, extract_qbo_catalog, setup)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--atera-scale", type=float, default=4)
    parser.add_argument("--qbo-scale", type=float, default=1)
    parser.add_argument("--only", choices=["atera", "qbo"])
    args = parser.parse_args()
    ratios = []
    if args.only in (None, "atera"):
        ratios.append(bench_atera(args.atera_scale))
    if args.only in (None, "qbo"):
        ratios.append(bench_qbo(args.qbo_scale))
    print(f"minimum ratio {min(ratios):.2f} (target ≥ 0.90)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
