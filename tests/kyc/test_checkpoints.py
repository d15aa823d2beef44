"""Signed checkpoints outside the database, and ``kyc audit verify|checkpoint|restore-head`` against a database
administrator's attacks: rewriting, truncating and replacing the chain, deleting its head — on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import socket
import stat
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import structlog
from alembic import command
from sqlalchemy import select, text, update
from typer.testing import CliRunner

from cli.main import app as cli_app
from kyc import audit, checkpoints
from kyc.access import Principal, Role
from kyc.audit import Verdict
from kyc.settings import Settings, get_settings
from kyc.storage.access import AuditLog
from kyc.storage.db import alembic_config, get_engine, migrate, transaction
from tests.support.audit import HEAD, LOG, delete_head, rewrite, tamper, truncate_tail
from workers.app import beat_schedule, use_settings
from workers.audit import checkpoint_task

ANN = Principal("u-ann", "ann", Role.ANALYST)


@pytest.fixture(autouse=True)
def _clean() -> Iterator[None]:
    structlog.reset_defaults()  # the CLI binds structlog to CliRunner's stderr, closed after the call
    audit.get_audit_keys.cache_clear()
    yield
    structlog.reset_defaults()
    audit.get_audit_keys.cache_clear()


@pytest.fixture
def config(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The CLI's settings (environment) and the same as an object: one database, one checkpoint directory."""
    monkeypatch.setenv("KYC_DATABASE_URL", db_url)
    monkeypatch.setenv("KYC_AUDIT_CHECKPOINT_DIR", str(tmp_path / "checkpoints"))
    get_settings.cache_clear()
    return get_settings()


def _append(db_url: str, count: int) -> None:
    with transaction(db_url) as session:
        for i in range(count):
            audit.record(session, actor=ANN, action="hit.read", object_type="hit", object_id=f"h{i}")


def _cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli_app, ["audit", *args])
    return result.exit_code, result.stdout, result.stderr


def _checkpoint(config: Settings) -> checkpoints.Checkpoint:
    with transaction(config.database_url) as session:
        written = checkpoints.take(session, config)
    assert written is not None
    return written


def _rename(row: dict[str, object]) -> None:
    row["actor"] = "someone-else"


def test_checkpoint_is_signed_appended_and_private(config: Settings) -> None:
    _append(config.database_url, 3)
    first = _checkpoint(config)
    _append(config.database_url, 2)
    second = _checkpoint(config)
    assert (first.entry_id, second.entry_id) == (3, 5)
    path = checkpoints.path_of(config)
    lines = path.read_text().splitlines()
    assert [json.loads(line)["entry_id"] for line in lines] == [3, 5]  # appended, the first line untouched
    assert json.loads(lines[0]) == json.loads(first.line())
    assert stat.S_IMODE(path.stat().st_mode) & 0o007 == 0  # not readable or writable by others
    with transaction(config.database_url) as session:
        assert session.scalars(select(AuditLog.row_hash).where(AuditLog.id == 5)).one() == second.chain_hash
    assert checkpoints.read(config, audit.get_audit_keys()) == [first, second]


def test_cli_checkpoint_then_verify_intact(config: Settings) -> None:
    empty = _cli("checkpoint")
    assert empty[0] == 0 and "empty" in empty[1]
    _append(config.database_url, 4)
    code, out, _err = _cli("checkpoint")
    assert code == 0 and out.startswith("checkpoint: entry 4 ")
    code, out, err = _cli("verify")
    assert code == 0 and out.startswith("audit chain intact: 4 entries") and "no checkpoint" not in err
    code, out, _err = _cli("verify", "--json")
    report = json.loads(out)
    assert code == 0 and report["verdict"] == "intact" and report["checkpoint"]["entry_id"] == 4
    assert report["verification_recorded"] is True


def test_verify_without_a_checkpoint_warns(config: Settings) -> None:
    _append(config.database_url, 2)
    code, _out, err = _cli("verify")
    assert code == 0 and "no checkpoint yet" in err


def test_rewritten_entry_gives_exit_3(config: Settings) -> None:
    _append(config.database_url, 6)
    _checkpoint(config)
    rewrite(config.database_url, 3, _rename, key=None)
    code, _out, err = _cli("verify")
    assert code == 3 and "BROKEN (rewritten) at entry 3" in err and "Traceback" not in err
    refused = _cli("checkpoint")  # a forged chain is never blessed with a checkpoint
    assert refused[0] == 3 and "no checkpoint written" in refused[2]
    assert len(checkpoints.path_of(config).read_text().splitlines()) == 1


def test_tail_truncation_with_the_head_moved_back_gives_exit_5(config: Settings) -> None:
    """Deleting the newest entries and updating ``audit_head`` passed verification before checkpoints."""
    _append(config.database_url, 6)
    _checkpoint(config)
    truncate_tail(config.database_url, 4)
    code, _out, err = _cli("verify")
    assert code == 5 and "BROKEN (truncated) at entry 5" in err and "recorded entry 6" in err


def test_deleted_head_gives_exit_6_then_restore_head(config: Settings) -> None:
    """Deleting the head row used to crash ``kyc audit verify`` with an IntegrityError traceback."""
    _append(config.database_url, 3)
    _checkpoint(config)
    delete_head(config.database_url)
    code, out, err = _cli("verify", "--json")
    report = json.loads(out)
    assert code == 6 and report["verdict"] == "head_missing" and report["verification_recorded"] is False
    assert "Traceback" not in err and "IntegrityError" not in err
    code, out, _err = _cli("restore-head")
    assert code == 0 and "restored at entry 3" in out
    code, out, _err = _cli("verify")
    assert code == 0 and out.startswith("audit chain intact: 4 entries")  # the failed verification left no entry
    with transaction(config.database_url) as session:
        actions = [e.action for e in audit.entries(session)][3:]
    assert actions == ["audit.head.restore", "audit.verify"]


def test_whole_chain_replaced_with_plain_hashes_is_caught_by_the_checkpoint(config: Settings) -> None:
    """Every entry recomputed without the key and the legacy boundary moved so all look pre-upgrade."""
    _append(config.database_url, 4)
    _checkpoint(config)
    rewrite(config.database_url, 1, _rename, key=None)
    with tamper(config.database_url) as conn:
        conn.execute(update(HEAD).values(legacy_until=4))
    with transaction(config.database_url) as session:
        assert audit.verify(session).ok  # without the checkpoint this forgery would hold together
    code, _out, err = _cli("verify")
    assert code == 3 and "legacy_until differs from the signed checkpoints" in err


def test_replaced_chain_with_an_older_copy_is_caught(config: Settings) -> None:
    """A restored older dump (or another database's chain) differs from the checkpointed entry."""
    _append(config.database_url, 3)
    with tamper(config.database_url) as conn:
        saved = [dict(row) for row in conn.execute(select(LOG).order_by(LOG.c.id)).mappings()]
    _append(config.database_url, 2)
    _checkpoint(config)
    with tamper(config.database_url) as conn:  # the old copy back, and different entries 4..5 written after it
        conn.execute(LOG.delete())
        conn.execute(LOG.insert(), saved)
        conn.execute(update(HEAD).values(last_id=3, last_hash=saved[-1]["row_hash"]))
    _append(config.database_url, 2)
    code, _out, err = _cli("verify")
    assert code == 3 and "entry 5 differs from the checkpoint" in err


def test_altered_checkpoint_file_gives_exit_8(config: Settings) -> None:
    _append(config.database_url, 3)
    _checkpoint(config)
    path = checkpoints.path_of(config)
    line = json.loads(path.read_text())
    line["entry_id"] = 2
    path.write_text(json.dumps(line) + "\n")
    code, _out, err = _cli("verify")
    assert code == 8 and "signature does not verify" in err
    path.write_text("not json\n")
    assert _cli("verify")[0] == 8


def test_checkpoints_need_the_key_that_signed_them(config: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KYC_AUDIT_KEY", "k" * 40)
    get_settings.cache_clear()
    audit.get_audit_keys.cache_clear()
    _append(config.database_url, 2)
    _checkpoint(config)
    monkeypatch.setenv("KYC_AUDIT_KEY", f"{'n' * 40},{'k' * 40}")  # rotation: the retired key still verifies
    get_settings.cache_clear()
    audit.get_audit_keys.cache_clear()
    _append(config.database_url, 1)
    assert _cli("verify")[0] == 0
    assert _checkpoint(config).key_id == audit.key_id(b"n" * 40)
    monkeypatch.setenv("KYC_AUDIT_KEY", "n" * 40)
    get_settings.cache_clear()
    audit.get_audit_keys.cache_clear()
    code, _out, err = _cli("verify")
    assert code == 8 and "which is not configured" in err


def test_upgrade_keeps_the_plain_chain_verifiable_and_protected(db_url: str, tmp_path: Path) -> None:
    """A chain written before the upgrade (plain SHA-256) verifies after it, the upgrade fixes its length, and a
    rewrite of the plain part is caught by the first keyed entry."""
    settings = Settings(database_url=db_url, audit_checkpoint_dir=tmp_path / "cp")
    alembic = alembic_config(db_url)
    engine = get_engine(db_url)
    try:
        with engine.begin() as connection:
            alembic.attributes["connection"] = connection
            command.downgrade(alembic, "0007")
        with engine.begin() as connection:
            prev = audit.GENESIS
            for i in range(1, 4):
                row = {
                    "id": i,
                    "at": datetime(2026, 1, i, tzinfo=UTC),
                    "actor": "u-old",
                    "actor_name": "old",
                    "role": "analyst",
                    "action": "hit.read",
                    "object_type": "hit",
                    "object_id": f"h{i}",
                    "purpose": "aml_cdd",
                    "details": {},
                    "prev_hash": prev,
                }
                row["row_hash"] = prev = audit.compute_hash(prev, row, key=None)
                connection.execute(LOG.insert(), row)
            connection.execute(text("INSERT INTO audit_head (id, last_id, last_hash) VALUES (1, 3, :h)"), {"h": prev})
    finally:
        migrate(db_url)
    with transaction(db_url) as session:
        assert audit.read_head(session) == audit.Head(3, prev, 3)
    _append(db_url, 2)
    with transaction(db_url) as session:
        result = checkpoints.verify(session, settings)
        assert result.ok and result.checked == 5
        assert checkpoints.take(session, settings) is not None
    rewrite(db_url, 2, _rename, key=None, last_id=3)  # only the plain part, as the old code would have hashed it
    with transaction(db_url) as session:
        broken = checkpoints.verify(session, settings)
    assert broken.verdict is Verdict.REWRITTEN and broken.first_bad_id == 4


def test_beat_writes_checkpoints_and_refuses_a_broken_chain(config: Settings) -> None:
    assert beat_schedule(config)["audit-checkpoint"]["task"] == "kyc.audit.checkpoint"
    _append(config.database_url, 2)
    use_settings(config)
    try:
        assert checkpoint_task.run() == 2
        rewrite(config.database_url, 1, _rename, key=None)
        assert checkpoint_task.run() is None
    finally:
        use_settings(None)
    assert len(checkpoints.path_of(config).read_text().splitlines()) == 1


def test_checkpoints_also_go_to_syslog(db_url: str, tmp_path: Path) -> None:
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    receiver.settimeout(5)
    port = receiver.getsockname()[1]
    settings = Settings(
        database_url=db_url, audit_checkpoint_dir=tmp_path / "cp", audit_syslog=f"udp://127.0.0.1:{port}"
    )
    _append(db_url, 1)
    try:
        with transaction(db_url) as session:
            written = checkpoints.take(session, settings)
        message = receiver.recv(4096).decode()
    finally:
        receiver.close()
    assert written is not None and "kyc-audit-checkpoint: " in message
    assert json.loads(message.split("kyc-audit-checkpoint: ", 1)[1].rstrip("\x00")) == json.loads(written.line())


def test_http_verify_reports_the_verdict_and_the_checkpoint(config: Settings) -> None:
    from fastapi.testclient import TestClient

    from api.app import create_app
    from kyc import access

    with transaction(config.database_url) as session:
        _, token = access.create_user(session, "inspector", Role.AUDITOR)
    _append(config.database_url, 2)
    _checkpoint(config)
    client = TestClient(create_app(config))
    headers = {"Authorization": f"Bearer {token}"}
    body = client.get("/v1/audit/verify", headers=headers).json()
    assert body["ok"] and body["verdict"] == "intact" and body["checkpoint_entry_id"] == 4 and body["recorded"]
    delete_head(config.database_url)
    missing = client.get("/v1/audit/verify", headers=headers)
    assert missing.status_code == 200 and missing.json()["verdict"] == "head_missing"
    assert missing.json()["recorded"] is False
    with transaction(config.database_url) as session:
        audit.restore_head(session)
    truncate_tail(config.database_url, 3)
    body = client.get("/v1/audit/verify", headers=headers).json()
    assert not body["ok"] and body["verdict"] == "truncated" and body["first_bad_id"] == 4
    # That verification was itself appended as a new entry 4, which cannot match the checkpointed one: the
    # truncation stays visible.
    assert client.get("/v1/audit/verify", headers=headers).json()["verdict"] == "rewritten"
