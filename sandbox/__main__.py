"""``python -m sandbox atera|qbo --port PORT [...]``: run one twin in the foreground on 127.0.0.1.

``--ready-file FILE`` writes the twin's base URL to FILE once it listens (use ``--port 0`` for a free port).
SIGTERM and Ctrl-C stop it cleanly; with ``--state`` every acknowledged change is already on disk.
"""
from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading

from sandbox.core.http import TwinServer


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0 picks a free one)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to bind (default loopback; a container network needs 0.0.0.0)")
    parser.add_argument("--seed", default="none", choices=["none", "demo", "small", "large"],
                        help="data profile to load when the state is empty")
    parser.add_argument("--seed-value", type=int, default=42, help="RNG seed; same value, same data")
    parser.add_argument("--state", default=None, help="SQLite file holding the twin's data (default: memory)")
    parser.add_argument("--ready-file", default=None, help="write the base URL here once listening")


def main(argv: list[str] | None = None) -> int:
    from sandbox.atera.server import add_arguments as atera_args
    from sandbox.atera.server import create_twin as create_atera
    from sandbox.qbo.server import add_arguments as qbo_args
    from sandbox.qbo.server import create_twin as create_qbo

    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__)
    sub = parser.add_subparsers(dest="twin", required=True)
    atera = sub.add_parser("atera", help="the Atera REST API v3 twin")
    _common(atera)
    atera_args(atera)
    qbo = sub.add_parser("qbo", help="the QuickBooks Online Accounting API v3 twin")
    _common(qbo)
    qbo_args(qbo)
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    twin = create_atera(args) if args.twin == "atera" else create_qbo(args)
    server = TwinServer(twin.handle, port=args.port, host=args.host)
    if args.ready_file:
        tmp = args.ready_file + ".tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(server.url + "\n")
        os.replace(tmp, args.ready_file)
    print(f"{args.twin} twin listening on {server.url}", flush=True)

    stopping = threading.Event()

    def stop(signum: int, frame: object) -> None:
        if not stopping.is_set():
            stopping.set()
            threading.Thread(target=server.stop, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    server.serve_forever()
    twin.store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
