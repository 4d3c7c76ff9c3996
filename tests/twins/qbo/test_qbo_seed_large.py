"""The ``large`` seed: ≥ 100,000 items and ≥ 20,000 customers, built in seconds, paged without slowing down."""
from __future__ import annotations

import time

from sandbox.core.store import Store
from sandbox.qbo.models.backend import QboBackend
from sandbox.qbo.seed import seed_company


def test_large_seed_sizes_and_flat_paging():
    backend = QboBackend(Store(), "1")
    started = time.monotonic()
    with backend.store.transaction():
        backend.reset()
        summary = seed_company(backend, "large", 42)
    built = time.monotonic() - started
    assert built < 20, built
    assert summary["customers"] >= 20_000 and summary["items"] >= 100_000
    total = backend.query("SELECT COUNT(*) FROM Item WHERE Active IN (true, false)")["totalCount"]
    assert total == summary["items"]
    timings = {}
    for start in (1, total - 1000):
        t0 = time.monotonic()
        page = backend.query(f"SELECT * FROM Item WHERE Active IN (true, false) STARTPOSITION {start} "
                             f"MAXRESULTS 1000")
        timings[start] = time.monotonic() - t0
        assert page["maxResults"] == 1000
    early, late = timings[1], timings[total - 1000]
    assert late < max(early * 3, 0.25), timings  # no slowdown with the page number
    assert backend.query("SELECT * FROM Item WHERE Active IN (true, false) STARTPOSITION "
                         f"{total - 999} MAXRESULTS 1000")["Item"][-1]["Id"] == str(total)
