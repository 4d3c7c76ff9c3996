"""Benchmark of the Atera twin over real HTTP: start-up with the ``large`` seed, simple requests per second, and
the time of early vs late pages (a late page must cost what an early page costs).

    .venv/bin/python benchmarks/bench_atera_twin.py [--seed large] [--threads 4] [--seconds 5] [--state FILE]

Runs the twin as a process (``python -m sandbox atera --port 0 --per-minute 0``) and prints the figures.
"""
from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[1]
KEY = "twin-atera-key"


def start(seed: str, state: str | None) -> tuple[subprocess.Popen, str, float]:
    ready = Path(tempfile.mkdtemp()) / "ready"
    cmd = [sys.executable, "-m", "sandbox", "atera", "--port", "0", "--seed", seed, "--per-minute", "0",
           "--ready-file", str(ready)]
    if state:
        cmd += ["--state", state]
    started = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    while not ready.exists():
        if proc.poll() is not None:
            raise SystemExit(proc.stderr.read().decode())
        time.sleep(0.02)
    return proc, ready.read_text().strip(), time.monotonic() - started


def throughput(url: str, path: str, threads: int, seconds: float) -> float:
    counts = [0] * threads
    stop = time.monotonic() + seconds

    def worker(i: int) -> None:
        session = requests.Session()
        session.headers["X-API-KEY"] = KEY
        while time.monotonic() < stop:
            response = session.get(url + path, timeout=10)
            assert response.status_code == 200, response.status_code
            counts[i] += 1

    workers = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    began = time.monotonic()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return sum(counts) / (time.monotonic() - began)


def page_time(session: requests.Session, url: str, path: str, page: int, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        response = session.get(f"{url}{path}{'&' if '?' in path else '?'}page={page}&itemsInPage=50", timeout=30)
        times.append(time.perf_counter() - t)
        assert response.status_code == 200 and response.json()["items"], (path, page)
    return statistics.median(times) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", default="large")
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--state", default=None, help="a SQLite state file (measures the durable set-up)")
    args = parser.parse_args()
    proc, url, startup = start(args.seed, args.state)
    try:
        print(f"start-up with seed {args.seed!r}{' and --state' if args.state else ''}: {startup:.1f} s")
        session = requests.Session()
        session.headers["X-API-KEY"] = KEY
        for path in ("/api/v3/customers", "/api/v3/rates/products", "/api/v3/billing/invoices", "/api/v3/contracts"):
            total = session.get(f"{url}{path}?itemsInPage=50", timeout=60).json()
            print(f"{path}: {total['totalItemCount']} items, {total['totalPages']} pages")
        for name, path in (("GET /account", "/api/v3/account"),
                           ("GET /customers (1 item)", "/api/v3/customers?itemsInPage=1"),
                           ("GET /rates/products (50 items)", "/api/v3/rates/products?itemsInPage=50")):
            rate = throughput(url, path, args.threads, args.seconds)
            print(f"{name}: {rate:.0f} requests/s ({args.threads} keep-alive clients)")
        print("page timing, median of 5, itemsInPage=50 (ms): first / middle / last")
        for path in ("/api/v3/customers", "/api/v3/rates/products", "/api/v3/contracts",
                     "/api/v3/billing/invoices?invoiceDateFrom=2026-08-01&invoiceDateTo=2026-10-31"):
            pages = session.get(f"{url}{path}{'&' if '?' in path else '?'}itemsInPage=50", timeout=60).json()[
                "totalPages"]
            first, middle, last = (page_time(session, url, path, p) for p in (1, max(pages // 2, 1), pages))
            print(f"  {path.split('?')[0]:<26} pages={pages:<5} {first:6.1f} / {middle:6.1f} / {last:6.1f}")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
