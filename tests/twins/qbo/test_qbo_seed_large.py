"""The ``large`` seed: ≥ 100,000 items and ≥ 20,000 customers, paged to the last record. How fast it is built and
whether late pages cost what early ones do is measured by ``benchmarks/bench_qbo_twin.py`` (``make bench``), not
asserted here: a timed test only flakes on a busy machine."""
from __future__ import annotations

from sandbox.core.store import Store
from sandbox.qbo.models.backend import QboBackend
from sandbox.qbo.seed import seed_company


def test_large_seed_sizes_and_paging_to_the_end():
    backend = QboBackend(Store(), "1")
    with backend.store.transaction():
        backend.reset()
        summary = seed_company(backend, "large", 42)
    assert summary["customers"] >= 20_000 and summary["items"] >= 100_000
    total = backend.query("SELECT COUNT(*) FROM Item WHERE Active IN (true, false)")["totalCount"]
    assert total == summary["items"]
    for start in (1, total - 1000):
        page = backend.query(f"SELECT * FROM Item WHERE Active IN (true, false) STARTPOSITION {start} "
                             f"MAXRESULTS 1000")
        assert page["maxResults"] == 1000 and len(page["Item"]) == 1000
    assert backend.query("SELECT * FROM Item WHERE Active IN (true, false) STARTPOSITION "
                         f"{total - 999} MAXRESULTS 1000")["Item"][-1]["Id"] == str(total)
