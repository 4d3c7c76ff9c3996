"""Unit tests touch no socket and no database server. A staging database here is a SQLite file (the ``engine`` of
tests/conftest.py without its PostgreSQL variant); connecting or binding an internet socket fails the test. What
needs a server (a twin, a scripted HTTP server, PostgreSQL) belongs in tests/integration."""
from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def blank_engine(tmp_path: Path) -> Iterator:
    """A fresh, empty staging database (no schema) in a SQLite file."""
    from atera_qbo.staging.db import make_engine

    eng = make_engine(f"sqlite:///{tmp_path / 'staging.db'}")
    yield eng
    eng.dispose()


@pytest.fixture(autouse=True)
def no_internet_sockets(monkeypatch: pytest.MonkeyPatch) -> None:
    """Connecting or binding an IPv4/IPv6 socket raises (Unix sockets and socket pairs stay allowed)."""
    inet = (socket.AF_INET, socket.AF_INET6)

    def refuse(name: str, real):
        def guarded(sock: socket.socket, address, *args):
            if sock.family in inet:
                raise OSError(f"a unit test may not {name} a socket ({address!r}): move it to tests/integration")
            return real(sock, address, *args)

        return guarded

    for name in ("connect", "connect_ex", "bind"):
        monkeypatch.setattr(socket.socket, name, refuse(name, getattr(socket.socket, name)))
