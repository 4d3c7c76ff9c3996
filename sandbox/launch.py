"""Start a twin as a separate process on a free loopback port and wait until it listens (``make run`` and the
end-to-end tests use this). ``with twin_process("qbo", ["--seed", "demo"]) as twin: twin.url``."""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


@dataclass
class TwinProcess:
    kind: str
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def stop(self, timeout: float = 10) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=timeout)


def start_twin(kind: str, args: list[str], *, log_path: Path | None = None, timeout: float = 60) -> TwinProcess:
    workdir = Path(tempfile.mkdtemp(prefix=f"twin-{kind}-"))
    ready = workdir / "ready"
    log_path = log_path or workdir / "twin.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    with open(log_path, "ab") as log_file:  # the child keeps its own copy of the descriptor
        proc = subprocess.Popen([sys.executable, "-m", "sandbox", kind, "--port", "0", "--ready-file", str(ready),
                                 *args], cwd=REPO, env=env, stdout=log_file, stderr=subprocess.STDOUT,
                                start_new_session=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready.exists():
            url = ready.read_text().strip()
            return TwinProcess(kind, url, proc, log_path)
        if proc.poll() is not None:
            raise RuntimeError(f"the {kind} twin exited with {proc.returncode}; see {log_path}:\n"
                               + log_path.read_text(errors="replace")[-2000:])
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"the {kind} twin did not start within {timeout}s; see {log_path}")


@contextmanager
def twin_process(kind: str, args: list[str], *, log_path: Path | None = None,
                 timeout: float = 60) -> Iterator[TwinProcess]:
    twin = start_twin(kind, args, log_path=log_path, timeout=timeout)
    try:
        yield twin
    finally:
        twin.stop()
