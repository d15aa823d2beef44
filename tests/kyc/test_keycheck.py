"""Keys that cannot read the stored data stop the service at start, naming the problem; identity-code look-ups work
through a rotation (``new,old`` then only ``new``) — on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog
from cryptography.fernet import Fernet
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.app import create_app
from cli.main import app as cli_app
from kyc import access, audit, crypto, keycheck, subjects
from kyc.access import Role
from kyc.settings import Settings, get_settings
from kyc.storage.db import transaction
from kyc.submission import CustomerSpec, JobSpec, PersonSpec, create_job
from tests.support.env import REPO

HETU = "170580-123L"


@pytest.fixture(autouse=True)
def _keys(monkeypatch: pytest.MonkeyPatch, db_url: str) -> Iterator[None]:
    structlog.reset_defaults()
    monkeypatch.setenv("KYC_DATABASE_URL", db_url)
    _use(monkeypatch, Fernet.generate_key().decode())
    yield
    structlog.reset_defaults()
    crypto.get_cipher.cache_clear()
    audit.get_audit_keys.cache_clear()


def _use(monkeypatch: pytest.MonkeyPatch, keys: str, blind: str | None = None) -> None:
    monkeypatch.setenv("KYC_ENCRYPTION_KEY", keys)
    if blind is None:
        monkeypatch.delenv("KYC_BLIND_INDEX_KEY", raising=False)
    else:
        monkeypatch.setenv("KYC_BLIND_INDEX_KEY", blind)
    get_settings.cache_clear()
    crypto.get_cipher.cache_clear()


def _screen(db_url: str, key: str = "k1") -> None:
    person = PersonSpec("representative", "Matti Meikäläinen", "1980-05-17", "FI", HETU)
    spec = JobSpec(customer=CustomerSpec("Esimerkki Oy", "FI", "1234567-1"), persons=(person,))
    with transaction(db_url) as session:
        create_job(session, spec, submitted_by="crm", idempotency_key=key, retention_years=5)


def _found(db_url: str) -> int:
    with transaction(db_url) as session:
        return len(subjects.find_parties(session, personal_id=HETU))


def _check(db_url: str) -> None:
    keycheck.startup_check(Settings(database_url=db_url))


def test_reviewer_reproduction_another_valid_key_refuses_to_start(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """With a different valid KYC_ENCRYPTION_KEY the server started silently and export by identity code answered
    "data subject not found"; now every serving process refuses to start, naming the keys."""
    _screen(db_url)
    _check(db_url)
    right = crypto.get_cipher().key_fingerprints[0]
    _use(monkeypatch, Fernet.generate_key().decode())
    with pytest.raises(crypto.CryptoConfigError, match=f"encrypted with key {right}, but the configured keys are"):
        _check(db_url)
    served = CliRunner().invoke(cli_app, ["serve", "--port", "1"])
    assert served.exit_code == 2 and "cannot decrypt this database" in served.stderr
    checked = CliRunner().invoke(cli_app, ["keys", "check"])
    assert checked.exit_code == 2 and right in checked.stderr


def test_the_first_check_after_an_upgrade_reads_the_stored_data_first(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No key check yet (data written before it existed): a wrong key must not become the recorded one."""
    right = os.environ["KYC_ENCRYPTION_KEY"]
    _screen(db_url)
    _use(monkeypatch, Fernet.generate_key().decode())
    with pytest.raises(crypto.CryptoConfigError, match="cannot decrypt the stored personal identity codes"):
        _check(db_url)
    _use(monkeypatch, right, blind="a separate blind index key")
    with pytest.raises(crypto.CryptoConfigError, match="indexed with a blind-index key that is not configured"):
        _check(db_url)


def test_lookups_work_through_a_rotation(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """``new,old`` then only ``new``: export by identity code missed until rotate ran a second time."""
    old, new = os.environ["KYC_ENCRYPTION_KEY"], Fernet.generate_key().decode()
    _screen(db_url, "before")
    _check(db_url)
    _use(monkeypatch, f"{new},{old}")
    _check(db_url)
    _screen(db_url, "during")  # indexed under the new key already
    assert _found(db_url) == 2
    rotated = CliRunner().invoke(cli_app, ["keys", "rotate"])
    assert rotated.exit_code == 0, rotated.output
    _use(monkeypatch, new)
    _check(db_url)
    assert _found(db_url) == 2
    with transaction(db_url) as session:
        _, token = access.create_user(session, "dpo", Role.DPO)
    exported = TestClient(create_app(Settings(database_url=db_url))).post(
        "/v1/subjects/export", json={"personal_id": HETU}, headers={"Authorization": f"Bearer {token}"}
    )
    assert exported.status_code == 200 and len(exported.json()["records"]) == 2


def test_dropping_the_old_key_before_rotating_is_refused(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    old, new = os.environ["KYC_ENCRYPTION_KEY"], Fernet.generate_key().decode()
    _screen(db_url)
    _check(db_url)
    _use(monkeypatch, f"{new},{old}")
    _check(db_url)
    _use(monkeypatch, new)
    with pytest.raises(crypto.CryptoConfigError, match="kyc keys rotate"):
        _check(db_url)


def test_an_explicit_blind_index_key_is_checked_and_rotates_too(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    key = os.environ["KYC_ENCRYPTION_KEY"]
    _use(monkeypatch, key, blind="blind-one-" * 4)
    _screen(db_url)
    _check(db_url)
    _use(monkeypatch, key, blind="blind-two-" * 4)  # replaced instead of rotated
    with pytest.raises(crypto.CryptoConfigError, match=r"indexed with blind-index key .* which is not configured"):
        _check(db_url)
    _use(monkeypatch, key, blind=f"{'blind-two-' * 4},{'blind-one-' * 4}")
    _check(db_url)
    assert _found(db_url) == 1
    assert CliRunner().invoke(cli_app, ["keys", "rotate"]).exit_code == 0
    _use(monkeypatch, key, blind="blind-two-" * 4)
    _check(db_url)
    assert _found(db_url) == 1


def test_celery_worker_refuses_to_start_with_a_wrong_key(db_url: str, tmp_path: Path) -> None:
    _screen(db_url)
    _check(db_url)
    env = {
        **os.environ,
        "KYC_DATABASE_URL": db_url,
        "KYC_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "PYTHONPATH": str(REPO),
    }
    env.pop("KYC_BROKER_URL", None)
    done = subprocess.run(
        [str(REPO / ".venv/bin/celery"), "-A", "workers.app", "worker", "--pool", "solo", "--loglevel", "WARNING"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2, done.stderr[-2000:]
    assert "cannot decrypt this database" in done.stderr
