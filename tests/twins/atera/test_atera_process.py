"""The twin as a real process: ``python -m sandbox atera --port 0 --ready-file F --state S``; a restart meets the
same data."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from sandbox.control import AteraControl

REPO = Path(__file__).resolve().parents[3]


def _start(tmp_path: Path, *args: str) -> tuple[subprocess.Popen, str]:
    ready = tmp_path / f"ready-{time.monotonic_ns()}"
    proc = subprocess.Popen([sys.executable, "-m", "sandbox", "atera", "--port", "0", "--ready-file", str(ready),
                             *args], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    deadline = time.monotonic() + 30
    while not ready.exists():
        if proc.poll() is not None:
            raise AssertionError(f"twin exited: {proc.stderr.read().decode()[-2000:]}")
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError("twin did not start in 30 s")
        time.sleep(0.05)
    return proc, ready.read_text().strip()


def _stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def test_process_restart_keeps_the_data(tmp_path: Path):
    state = tmp_path / "atera.db"
    proc, url = _start(tmp_path, "--seed", "demo", "--state", str(state), "--api-key", "key-a",
                       "--api-key", "key-b", "--timezone", "Pacific Standard Time")
    a = {"X-API-KEY": "key-a"}
    b = {"Authorization": "Bearer key-b"}
    try:
        assert url.startswith("http://127.0.0.1:")
        assert requests.get(f"{url}/api/v3/customers", timeout=5).status_code == 401
        assert requests.get(f"{url}/api/v3/customers", headers={"X-API-KEY": "twin-atera-key"},
                            timeout=5).status_code == 401  # the default key is replaced by --api-key
        created = requests.post(f"{url}/api/v3/customers", json={"CustomerName": "Survives Restart Ltd"},
                                headers=a, timeout=5)
        assert created.status_code == 201
        new_id = created.json()["ActionID"]
        requests.post(f"{url}/api/v3/rates/products", json={"Description": "Only B", "Amount": 1}, headers=b,
                      timeout=5)
        AteraControl(url).add_invoices([{
            "InvoiceDate": "2026-11-05", "ContractName": "Contoso Ltd - Hourly Support",
            "To": {"CompanyName": "Contoso Ltd"},
            "LineItems": [{"Product": "Remote Support (hourly)", "Quantity": 1, "Rate": 125}]}])
        before = requests.get(f"{url}/api/v3/billing/invoices?page=4&itemsInPage=50", headers=a, timeout=5).json()
        assert requests.get(f"{url}/api/v3/account", headers=a, timeout=5).json()["TimeZoneName"] == \
            "Pacific Standard Time"
    finally:
        _stop(proc)
    assert state.exists()
    # the key itself is not written to the state file
    assert b"key-a" not in state.read_bytes()

    proc, url = _start(tmp_path, "--seed", "demo", "--state", str(state), "--api-key", "key-a",
                       "--api-key", "key-b")
    try:
        customer = requests.get(f"{url}/api/v3/customers/{new_id}", headers=a, timeout=5)
        assert customer.status_code == 200 and customer.json()["CustomerName"] == "Survives Restart Ltd"
        assert requests.get(f"{url}/api/v3/customers", headers=a, timeout=5).json()["totalItemCount"] == 27
        products_b = requests.get(f"{url}/api/v3/rates/products", headers=b, timeout=5).json()
        assert [p["Description"] for p in products_b["items"]] == ["Only B"]
        after = requests.get(f"{url}/api/v3/billing/invoices?page=4&itemsInPage=50", headers=a, timeout=5).json()
        assert after["items"] == before["items"] and after["items"][-1]["InvoiceNumber"] == 1151
        # ids keep counting after a restart
        again = requests.post(f"{url}/api/v3/customers", json={"CustomerName": "Next"}, headers=a, timeout=5)
        assert int(again.json()["ActionID"]) == int(new_id) + 1
    finally:
        _stop(proc)
