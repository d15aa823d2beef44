"""``kyc serve`` as ``make run`` starts it: no Redis, no PostgreSQL — SQLite, the filesystem broker, worker and beat
in threads of the API process. Started as a real subprocess and driven over real HTTP."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from kyc import audit
from kyc.access import Role
from kyc.settings import Settings
from kyc.storage.db import migrate
from lists.ingest import ingest_files
from tests.support.env import REPO, list_file
from tests.support.service import UN_2026, make_token

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def embedded_server(tmp_path: Path) -> Iterator[tuple[str, str]]:
    db_url = f"sqlite:///{tmp_path / 'var' / 'kyc.sqlite3'}"
    migrate(db_url)
    ingest_files("un_sc", [list_file(UN_2026)], Settings(database_url=db_url))
    token = make_token(db_url, Role.ONBOARDING)
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("KYC_")}
    env.update(KYC_DATABASE_URL=db_url, KYC_INGEST_SOURCES="[]", KYC_SWEEP_INTERVAL_SECONDS="2", PYTHONPATH=str(REPO))
    # The audit entries above are keyed with this process's key; a server with another one refuses to start.
    env["KYC_AUDIT_KEY"] = audit.get_audit_keys().current.decode()
    kyc = Path(sys.executable).parent / "kyc"
    process = subprocess.Popen(
        [str(kyc), "serve", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        else:
            pytest.fail("kyc serve did not answer /healthz within 30 s")
        yield base, token
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_make_run_serves_and_screens_with_no_external_services(embedded_server: tuple[str, str]) -> None:
    base, token = embedded_server
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": "run-1"}
    body = {
        "customer": {"name": "Esimerkki Oy", "business_id": "1572860-0", "country": "FI"},
        "persons": [{"role": "representative", "name": "Emraan Ali", "birth_date": "1967-07-04"}],
    }
    accepted = httpx.post(f"{base}/v1/screenings", json=body, headers=headers, timeout=10)
    assert accepted.status_code == 202, accepted.text
    job_id = accepted.json()["id"]
    deadline = time.monotonic() + 60
    state: dict[str, object] = {}
    while time.monotonic() < deadline:
        state = httpx.get(f"{base}/v1/screenings/{job_id}", headers=headers, timeout=10).json()
        if state["status"] == "completed":
            break
        time.sleep(0.2)
    assert state == {"id": job_id, "status": "completed", "outcome": "review"}
    assert httpx.get(f"{base}/docs", timeout=10).status_code == 200
    assert httpx.get(f"{base}/openapi.json", timeout=10).json()["paths"]["/v1/screenings"]["post"]
