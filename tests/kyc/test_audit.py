from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import structlog
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Connection, select, text
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

from api.deps import get_settings as api_settings
from api.errors import install
from api.routers.audit import router as audit_router
from cli.main import app as cli_app
from kyc import access, audit
from kyc.access import Principal, Role
from kyc.settings import Settings, get_settings
from kyc.storage.access import AuditLog
from kyc.storage.db import get_engine, transaction


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """The CLI binds structlog to CliRunner's stderr, closed after the call; later log lines would then fail."""
    structlog.reset_defaults()
    yield
    structlog.reset_defaults()


ANN = Principal("u-ann", "ann", Role.ANALYST)


def _append(db_url: str, count: int) -> None:
    with transaction(db_url) as session:
        for i in range(count):
            audit.record(session, actor=ANN, action="hit.read", object_type="hit", object_id=f"h{i}", details={"n": i})


@contextmanager
def _tamper(db_url: str) -> Iterator[Connection]:
    """A privileged user bypassing the append-only triggers, as an attacker with DBA rights could."""
    engine = get_engine(db_url)
    postgres = engine.dialect.name == "postgresql"
    with engine.begin() as conn:
        if postgres:
            conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"))
        else:
            conn.execute(text("DROP TRIGGER audit_log_no_update"))
            conn.execute(text("DROP TRIGGER audit_log_no_delete"))
        yield conn
        if postgres:
            conn.execute(text("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only"))


def _verify(db_url: str) -> audit.AuditVerification:
    with transaction(db_url) as session:
        return audit.verify(session)


def test_empty_and_intact_chain(db_url: str) -> None:
    assert _verify(db_url) == audit.AuditVerification(True, 0, head_hash=audit.GENESIS)
    _append(db_url, 5)
    with transaction(db_url) as session:
        audit.record(session, actor="system:scheduler", action="rescreen", object_type="job", object_id="j1")
    result = _verify(db_url)
    assert result.ok and result.checked == 6 and result.first_bad_id is None
    with transaction(db_url) as session:
        rows = session.scalars(select(AuditLog).order_by(AuditLog.id)).all()
        assert [r.id for r in rows] == [1, 2, 3, 4, 5, 6]
        assert rows[0].prev_hash == audit.GENESIS
        assert all(b.prev_hash == a.row_hash for a, b in itertools.pairwise(rows))
        assert rows[0].role == "analyst" and rows[0].actor_name == "ann" and rows[0].purpose == "aml_cdd"
        assert rows[5].actor == "system:scheduler" and rows[5].role is None
        assert result.head_hash == rows[5].row_hash


def test_rolled_back_action_leaves_no_gap(db_url: str) -> None:
    _append(db_url, 2)
    with pytest.raises(RuntimeError), transaction(db_url) as session:
        audit.record(session, actor=ANN, action="x", object_type="t", object_id="1")
        raise RuntimeError("the action failed")
    _append(db_url, 1)
    assert _verify(db_url).ok and _verify(db_url).checked == 3


def test_append_only_triggers_refuse_update_and_delete(db_url: str) -> None:
    _append(db_url, 2)
    engine = get_engine(db_url)
    for statement in ("UPDATE audit_log SET action = 'x' WHERE id = 1", "DELETE FROM audit_log WHERE id = 2"):
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(text(statement))
    assert _verify(db_url).ok


def test_detects_a_modified_row(db_url: str) -> None:
    _append(db_url, 5)
    with _tamper(db_url) as conn:
        conn.execute(text("UPDATE audit_log SET object_id = 'other' WHERE id = 3"))
    result = _verify(db_url)
    assert not result.ok and result.first_bad_id == 3 and result.checked == 2
    assert "modified" in (result.reason or "")


def test_detects_a_modified_row_whose_hash_was_recomputed(db_url: str) -> None:
    _append(db_url, 5)
    with transaction(db_url) as session:
        row = session.get(AuditLog, 2)
        assert row is not None
        row.details = {"n": 99}
        forged = audit.row_hash(row)
        session.expunge(row)
    with _tamper(db_url) as conn:
        conn.execute(
            text("UPDATE audit_log SET details = :d, row_hash = :h WHERE id = 2"), {"d": '{"n": 99}', "h": forged}
        )
    result = _verify(db_url)
    assert not result.ok and result.first_bad_id == 3 and "prev_hash" in (result.reason or "")


@pytest.mark.parametrize(("deleted", "first_bad"), [(3, 4), (1, 2)])
def test_detects_a_deleted_row(db_url: str, deleted: int, first_bad: int) -> None:
    _append(db_url, 5)
    with _tamper(db_url) as conn:
        conn.execute(text("DELETE FROM audit_log WHERE id = :id"), {"id": deleted})
    result = _verify(db_url)
    assert not result.ok and result.first_bad_id == first_bad
    assert f"entries {deleted}..{deleted}" in (result.reason or "") and "deleted" in (result.reason or "")


def test_detects_deleted_newest_rows(db_url: str) -> None:
    _append(db_url, 5)
    with _tamper(db_url) as conn:
        conn.execute(text("DELETE FROM audit_log WHERE id >= 4"))
    result = _verify(db_url)
    assert not result.ok and result.checked == 3 and result.first_bad_id == 4
    assert "head records entry 5" in (result.reason or "")


def test_personal_data_is_refused_in_details(db_url: str) -> None:
    with transaction(db_url) as session:
        with pytest.raises(audit.PersonalDataInAudit, match="personal_id"):
            audit.record(
                session, actor=ANN, action="x", object_type="t", object_id="1", details={"personal_id": "170580"}
            )
        with pytest.raises(audit.PersonalDataInAudit, match="keys Name"):
            audit.record(
                session, actor=ANN, action="x", object_type="t", object_id="1", details={"fields": [{"Name": "M"}]}
            )
        with pytest.raises(TypeError, match="JSON"):
            audit.record(session, actor=ANN, action="x", object_type="t", object_id="1", details={"s": {1, 2}})
    assert _verify(db_url).checked == 0


def test_concurrent_appends_do_not_fork_the_chain(db_url: str) -> None:
    threads_n, per_thread = 6, 8
    errors: list[BaseException] = []
    start = threading.Barrier(threads_n)

    def worker(n: int) -> None:
        try:
            start.wait()
            for i in range(per_thread):
                with transaction(db_url) as session:
                    audit.record(session, actor=ANN, action="concurrent", object_type="thread", object_id=f"{n}-{i}")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(threads_n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    result = _verify(db_url)
    assert result.ok and result.checked == threads_n * per_thread
    with transaction(db_url) as session:
        prev = session.scalars(select(AuditLog.prev_hash)).all()
        assert len(set(prev)) == len(prev)  # no two entries claim the same predecessor: no fork


def test_entries_are_paged_and_filtered(db_url: str) -> None:
    _append(db_url, 7)
    with transaction(db_url) as session:
        audit.record(session, actor="system:cli", action="user.create", object_type="user", object_id="u9")
        first = audit.entries(session, limit=3)
        second = audit.entries(session, after_id=first[-1].id, limit=3)
        assert [e.id for e in first] == [1, 2, 3] and [e.id for e in second] == [4, 5, 6]
        assert [e.object_id for e in audit.entries(session, action="user.create")] == ["u9"]
        assert len(audit.entries(session, actor="u-ann")) == 7
        assert [e.id for e in audit.entries(session, object_id="h2")] == [3]


def test_cli_audit_verify(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KYC_DATABASE_URL", db_url)
    get_settings.cache_clear()
    try:
        _append(db_url, 4)
        runner = CliRunner()
        ok = runner.invoke(cli_app, ["audit", "verify"])
        assert ok.exit_code == 0, ok.output
        assert ok.stdout.startswith("audit chain intact: 4 entries")
        again = runner.invoke(cli_app, ["audit", "verify"])  # the first verification was itself audited
        assert again.stdout.startswith("audit chain intact: 5 entries")
        with _tamper(db_url) as conn:
            conn.execute(text("UPDATE audit_log SET purpose = 'marketing' WHERE id = 2"))
        broken = runner.invoke(cli_app, ["audit", "verify"])
        assert broken.exit_code == 1
        assert "audit chain BROKEN at entry 2" in broken.stderr and "modified" in broken.stderr
    finally:
        get_settings.cache_clear()


def _audit_client(db_url: str) -> TestClient:
    app = FastAPI()
    install(app)
    app.dependency_overrides[api_settings] = lambda: Settings(database_url=db_url)
    app.include_router(audit_router)
    return TestClient(app)


def test_audit_router_pages_verifies_and_audits_itself(db_url: str) -> None:
    with transaction(db_url) as session:
        _, auditor_token = access.create_user(session, "inspector", Role.AUDITOR)
        _, analyst_token = access.create_user(session, "ann", Role.ANALYST)
    _append(db_url, 5)  # entries 3..7
    client = _audit_client(db_url)
    headers = {"Authorization": f"Bearer {auditor_token}"}
    first = client.get("/v1/audit", params={"limit": 4}, headers=headers)
    assert first.status_code == 200, first.text
    page = first.json()
    assert [e["id"] for e in page["entries"]] == [1, 2, 3, 4] and page["next_after_id"] == 4
    assert page["entries"][0]["action"] == "user.create" and len(page["entries"][0]["row_hash"]) == 64
    rest = client.get("/v1/audit", params={"after_id": 4, "action": "hit.read"}, headers=headers).json()
    assert [e["object_id"] for e in rest["entries"]] == ["h2", "h3", "h4"] and rest["next_after_id"] is None
    verified = client.get("/v1/audit/verify", headers=headers).json()
    assert verified["ok"] is True and verified["checked"] == 9  # 7 + the two audited reads
    reads = client.get("/v1/audit", params={"object_type": "audit_log"}, headers=headers).json()["entries"]
    assert [e["action"] for e in reads] == ["audit.read", "audit.read", "audit.verify"]
    assert reads[1]["details"] == {"filters": {"action": "hit.read"}, "after_id": 4, "returned": 3}
    assert reads[0]["actor_name"] == "inspector" and reads[0]["role"] == "auditor"

    assert client.get("/v1/audit").status_code == 401
    denied = client.get("/v1/audit/verify", headers={"Authorization": f"Bearer {analyst_token}"})
    assert denied.status_code == 403
    assert client.get("/v1/audit", params={"limit": 0}, headers=headers).status_code == 422

    with _tamper(db_url) as conn:
        conn.execute(text("UPDATE audit_log SET actor = 'someone-else' WHERE id = 5"))
    broken = client.get("/v1/audit/verify", headers=headers).json()
    assert broken["ok"] is False and broken["first_bad_id"] == 5 and broken["checked"] == 4


def test_audit_router_time_filters_accept_naive_and_aware_times(db_url: str) -> None:
    with transaction(db_url) as session:
        _, auditor_token = access.create_user(session, "inspector", Role.AUDITOR)
    _append(db_url, 2)
    client = _audit_client(db_url)
    headers = {"Authorization": f"Bearer {auditor_token}"}
    for since in ("2000-01-01T00:00:00", "2000-01-01T00:00:00+02:00"):
        page = client.get("/v1/audit", params={"since": since, "action": "hit.read"}, headers=headers)
        assert page.status_code == 200, page.text
        assert len(page.json()["entries"]) == 2
    future = client.get("/v1/audit", params={"since": "2999-01-01T00:00:00", "action": "hit.read"}, headers=headers)
    assert future.status_code == 200 and future.json()["entries"] == []
    past = client.get("/v1/audit", params={"until": "2000-01-01T00:00:00Z"}, headers=headers)
    assert past.json()["entries"] == []
