"""The client layer's decisions without a server: Atera's paging, the rate limiter, QBO's read-ahead paging (against
scripted servers on loopback: tests/integration/test_http_clients.py)."""
from __future__ import annotations

import pytest

from atera_qbo.atera.client import AteraPaginator
from atera_qbo.errors import FatalApiError
from atera_qbo.http import RateLimiter


def env(items, page, total_pages, next_link="x"):
    return {"items": items, "page": page, "itemsInPage": 50, "totalItemCount": 0, "totalPages": total_pages,
            "prevLink": None, "nextLink": next_link}


def test_paginator_stops_on_null_empty_or_last_page():
    assert AteraPaginator().next_page(env([1], 1, 3, None), 1) is None
    assert AteraPaginator().next_page(env([1], 1, 3, ""), 1) is None
    assert AteraPaginator().next_page(env([1], 3, 3, "more"), 3) is None
    assert AteraPaginator().next_page(env([1], 1, 3, "more"), 1) == 2


def test_paginator_detects_a_loop():
    p = AteraPaginator()
    p.next_page(env([1], 1, 5), 1)
    with pytest.raises(FatalApiError, match="loop"):
        p.next_page(env([1], 1, 5), 2)


def test_rate_limiter_spaces_requests():
    now = [0.0]
    slept = []

    def sleep(s):
        slept.append(s)
        now[0] += s

    limiter = RateLimiter(per_minute=60, burst=2, clock=lambda: now[0], sleep=sleep)
    for _ in range(4):
        limiter.acquire()
    assert slept == pytest.approx([1.0, 1.0])


@pytest.mark.parametrize("total", [0, 3, 10, 11, 25])
def test_qbo_query_all_reads_pages_ahead_yet_yields_every_row_once_in_order(total):
    """Two pages in flight after a full one; the first short page ends the listing, whatever was asked beyond it
    is dropped: every row once, in QBO's order, whether the count is a multiple of the page size or not."""
    import threading
    import time

    from atera_qbo.qbo import client as qbo_client

    asked: list[int] = []
    in_flight, most = [0], [0]
    lock = threading.Lock()

    def page(self, entity, where, start, size):
        with lock:
            asked.append(start)
            in_flight[0] += 1
            most[0] = max(most[0], in_flight[0])
        time.sleep(0.05)
        with lock:
            in_flight[0] -= 1
        return [{"Id": str(i)} for i in range(start, min(start + size, total + 1))]

    stub = qbo_client.QboClient.__new__(qbo_client.QboClient)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(qbo_client.QboClient, "_page", page)
        got = [r["Id"] for r in stub.query_all("Item", page_size=5)]
    assert got == [str(i) for i in range(1, total + 1)]
    assert len(asked) - (total // 5 + 1) <= qbo_client.PAGES_AHEAD - 1  # pages asked beyond the end
    assert most[0] <= qbo_client.PAGES_AHEAD and (total < 10 or most[0] == qbo_client.PAGES_AHEAD)
