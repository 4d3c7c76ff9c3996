"""A running export batch is held by its process (an advisory lock on PostgreSQL, a flock beside the SQLite file):
held while the process lives, free once it is gone — killed included — which is how the next export tells a live
batch from an abandoned one."""
from __future__ import annotations

import multiprocessing
import os
import signal

from atera_qbo.export.claims import batch_is_held, hold_batch
from atera_qbo.staging.db import make_engine


def _hold_forever(url: str, batch_id: str, ready) -> None:  # pragma: no cover - runs in a child process
    engine = make_engine(url)
    with hold_batch(engine, batch_id):
        ready.set()
        signal.pause()


def test_a_batch_is_held_while_its_process_lives_and_free_once_it_is_killed(engine):
    url = engine.url.render_as_string(hide_password=False)
    assert not batch_is_held(engine, "b-1")  # nobody ever held it
    with hold_batch(engine, "b-1"):
        assert batch_is_held(engine, "b-1") and not batch_is_held(engine, "b-2")
    assert not batch_is_held(engine, "b-1")  # released on the way out

    ctx = multiprocessing.get_context("spawn")
    ready = ctx.Event()
    child = ctx.Process(target=_hold_forever, args=(url, "b-3", ready))
    child.start()
    try:
        assert ready.wait(60)
        assert batch_is_held(engine, "b-3")  # another process holds it
        os.kill(child.pid, signal.SIGKILL)
        child.join(30)
        assert not batch_is_held(engine, "b-3")  # the kernel / PostgreSQL let go of a killed holder's claim
    finally:
        if child.is_alive():
            child.kill()
