"""The twin as a real process: ``python -m sandbox qbo --port 0 --ready-file F --state S``, restarted on the same
state."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[3]
REALM = "9341453050298751"


def _start(tmp_path: Path, *args: str) -> tuple[subprocess.Popen, str]:
    ready = tmp_path / "ready"
    if ready.exists():
        ready.unlink()
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen([sys.executable, "-m", "sandbox", "qbo", "--port", "0", "--ready-file", str(ready),
                             *args], cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while not ready.exists():
        if proc.poll() is not None:
            raise AssertionError(proc.stdout.read().decode(errors="replace"))
        assert time.monotonic() < deadline, "the twin did not start"
        time.sleep(0.05)
    return proc, ready.read_text().strip()


def _stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


def _refresh(url: str, token: str) -> requests.Response:
    return requests.post(f"{url}/oauth2/v1/tokens/bearer", auth=("twin-client-id", "twin-client-secret"),
                         data={"grant_type": "refresh_token", "refresh_token": token}, timeout=10)


def test_restart_on_the_same_state_keeps_data_and_tokens(tmp_path):
    state = tmp_path / "qbo.sqlite"
    args = ["--seed", "demo", "--state", str(state), "--refresh-token", "RT-first"]
    proc, url = _start(tmp_path, *args)
    try:
        assert url.startswith("http://127.0.0.1:")
        doc = _refresh(url, "RT-first").json()
        headers = {"Authorization": f"Bearer {doc['access_token']}", "Accept": "application/json"}
        created = requests.post(f"{url}/v3/company/{REALM}/customer", json={"DisplayName": "Survives Restart"},
                                headers=headers, timeout=10)
        assert created.status_code == 200, created.text
        invoice = requests.post(f"{url}/v3/company/{REALM}/invoice", headers=headers, timeout=10, json={
            "CustomerRef": {"value": "1"}, "DocNumber": "R-1", "Line": [{
                "DetailType": "SalesItemLineDetail", "Amount": 0.35,
                "SalesItemLineDetail": {"ItemRef": {"value": "9"}, "Qty": 1, "UnitPrice": 0.35,
                                        "TaxCodeRef": {"value": "NON"}}}]})  # untaxed: TotalAmt stays 0.35
        assert invoice.status_code == 200, invoice.text
    finally:
        _stop(proc)

    proc, url = _start(tmp_path, *args)
    try:
        # the used first token stays spent, the rotated one and the access token still work
        assert _refresh(url, "RT-first").json() == {"error": "invalid_grant"}
        r = requests.get(f"{url}/v3/company/{REALM}/query",
                         params={"query": "SELECT * FROM Customer WHERE DisplayName = 'Survives Restart'"},
                         headers=headers, timeout=10)
        assert r.status_code == 200 and len(r.json()["QueryResponse"]["Customer"]) == 1
        inv = requests.get(f"{url}/v3/company/{REALM}/invoice/{invoice.json()['Invoice']['Id']}", headers=headers,
                           timeout=10).json()["Invoice"]
        assert inv["DocNumber"] == "R-1" and b'"TotalAmt":0.35' in requests.get(
            f"{url}/v3/company/{REALM}/invoice/{inv['Id']}", headers=headers, timeout=10).content
        # the seed was not applied again, the name index was rebuilt from the state
        dup = requests.post(f"{url}/v3/company/{REALM}/customer", json={"DisplayName": "survives restart"},
                            headers=headers, timeout=10)
        assert dup.json()["Fault"]["Error"][0]["code"] == "6240"
        assert _refresh(url, doc["refresh_token"]).status_code == 200
    finally:
        _stop(proc)
