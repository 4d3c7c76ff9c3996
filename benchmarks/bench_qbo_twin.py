"""Capacity of the QBO twin on this machine (``python benchmarks/bench_qbo_twin.py [--duration S]``).

Starts the twin as a real process (``python -m sandbox qbo``) on a free loopback port, lifts its throttles
(``QboControl.set_limits``: the point is the twin's own capacity, not Intuit's limits) and measures, with a few client
threads over keep-alive connections:

1. simple requests/s: ``GET /v3/company/{realm}/customer/{id}`` (target ≥ 300/s);
2. batch requests/s: ``POST /batch`` with 30 invoice creates each (target ≥ 20/s);
3. paged queries over the ``large`` seed: ``SELECT * FROM Item STARTPOSITION n MAXRESULTS 1000`` at early and late
   pages (the time must not grow with the page number).

Every loop is bounded in time and count and talks to 127.0.0.1 only.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO)]

from sandbox.control import QboControl  # noqa: E402

REALM = "9341453050298751"


class Twin:
    def __init__(self, *args: str) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="bench-qbo-"))
        ready = self.dir / "ready"
        env = dict(os.environ, PYTHONPATH=str(REPO))
        self.proc = subprocess.Popen([sys.executable, "-m", "sandbox", "qbo", "--port", "0", "--ready-file",
                                      str(ready), *args], cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 120
        while not ready.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the twin did not start")
            time.sleep(0.05)
        self.url = ready.read_text().strip()
        control = QboControl(self.url)
        control.set_limits(per_minute=0, per_second=0, concurrent=0, batch_per_minute=0)
        rt = control.mint_refresh_token("twin-client-id")
        self.token = requests.post(f"{self.url}/oauth2/v1/tokens/bearer", auth=("twin-client-id",
                                                                                 "twin-client-secret"),
                                   data={"grant_type": "refresh_token", "refresh_token": rt},
                                   timeout=10).json()["access_token"]
        self.base = f"{self.url}/v3/company/{REALM}"

    def session(self) -> requests.Session:
        s = requests.Session()
        s.headers.update({"Authorization": f"Bearer {self.token}", "Accept": "application/json"})
        return s

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def run_load(twin: Twin, threads: int, duration: float, make_request) -> tuple[int, int, float]:
    """Each thread sends requests until ``duration`` is over; answers (ok, errors, seconds)."""
    ok = errors = 0
    lock = threading.Lock()
    stop_at = time.monotonic() + duration

    def worker(n: int) -> None:
        nonlocal ok, errors
        session = twin.session()
        i = 0
        while time.monotonic() < stop_at and i < 1_000_000:
            i += 1
            r = make_request(session, n, i)
            with lock:
                if r.status_code == 200 and "Fault" not in r.text[:20]:
                    ok += 1
                else:
                    errors += 1

    started = time.monotonic()
    pool = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return ok, errors, time.monotonic() - started


def invoice(customer: int, item: int) -> dict:
    return {"CustomerRef": {"value": str(customer)}, "Line": [{
        "DetailType": "SalesItemLineDetail", "Amount": 250.0,
        "SalesItemLineDetail": {"ItemRef": {"value": str(item)}, "Qty": 2, "UnitPrice": 125.0,
                                "TaxCodeRef": {"value": "NON"}}}]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per load phase")
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--skip-large", action="store_true", help="skip the paged-query phase over `large`")
    parser.add_argument("--state", action="store_true", help="run the twin with a --state file (SQLite writes)")
    args = parser.parse_args()

    extra = ["--state", str(Path(tempfile.mkdtemp(prefix="bench-qbo-state-")) / "qbo.sqlite")] if args.state else []
    twin = Twin("--seed", "demo", *extra)
    try:
        ok, errors, secs = run_load(twin, args.threads, args.duration,
                                    lambda s, n, i: s.get(f"{twin.base}/customer/{1 + (i % 27)}", timeout=30))
        simple = ok / secs
        print(f"simple requests: {simple:8.1f} req/s   ({ok} ok, {errors} errors, {args.threads} threads, "
              f"{secs:.1f} s)  target >= 300")

        def batch(s, n, i):
            items = [{"bId": f"{n}-{i}-{k}", "operation": "create", "Invoice": invoice(1 + k % 27, 1 + k % 40)}
                     for k in range(30)]
            return s.post(f"{twin.base}/batch", json={"BatchItemRequest": items}, timeout=60)

        ok, errors, secs = run_load(twin, args.threads, args.duration, batch)
        print(f"batch requests:  {ok / secs:8.1f} req/s   ({ok} ok, {errors} errors; 30 invoices each = "
              f"{30 * ok / secs:.0f} invoices/s)  target >= 20")
    finally:
        twin.stop()

    if not args.skip_large:
        started = time.monotonic()
        twin = Twin("--seed", "large")
        print(f"large seed:      started in {time.monotonic() - started:.1f} s")
        try:
            s = twin.session()
            total = s.get(f"{twin.base}/query", params={"query": "SELECT COUNT(*) FROM Item"},
                          timeout=60).json()["QueryResponse"]["totalCount"]
            for label, start in (("early", 1), ("middle", total // 2), ("late", max(total - 1000, 1))):
                times = []
                for _ in range(5):
                    t0 = time.monotonic()
                    r = s.get(f"{twin.base}/query", timeout=60, params={
                        "query": f"SELECT * FROM Item STARTPOSITION {start} MAXRESULTS 1000"})
                    times.append(time.monotonic() - t0)
                    assert r.status_code == 200 and len(r.json()["QueryResponse"]["Item"]) > 0
                print(f"paged query {label:>6} (STARTPOSITION {start:>6}, 1000 rows of {total}): "
                      f"median {statistics.median(times) * 1000:6.1f} ms")
        finally:
            twin.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
