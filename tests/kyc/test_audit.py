from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator

import pytest
import structlog
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.expression import Executable
from typer.testing import CliRunner

from api.deps import get_settings as api_settings
from api.errors import install
from api.routers.audit import router as audit_router
from cli.main import app as cli_app
from kyc import access, audit
from kyc.access import Principal, Role
from kyc.settings import Settings, get_settings
from kyc.storage.access import AuditLog
from kyc.storage.base import utcnow
from kyc.storage.db import get_engine, transaction
from tests.support.audit import HEAD, LOG, delete_head, rewrite, tamper, truncate_tail


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
    with tamper(db_url) as conn:
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
        forged = audit.row_hash(row, key=audit.get_audit_keys().current)  # even with the key: the link breaks
        session.expunge(row)
    with tamper(db_url) as conn:
        conn.execute(
            text("UPDATE audit_log SET details = :d, row_hash = :h WHERE id = 2"), {"d": '{"n": 99}', "h": forged}
        )
    result = _verify(db_url)
    assert not result.ok and result.first_bad_id == 3 and "prev_hash" in (result.reason or "")


@pytest.mark.parametrize(("deleted", "first_bad"), [(3, 4), (1, 2)])
def test_detects_a_deleted_row(db_url: str, deleted: int, first_bad: int) -> None:
    _append(db_url, 5)
    with tamper(db_url) as conn:
        conn.execute(text("DELETE FROM audit_log WHERE id = :id"), {"id": deleted})
    result = _verify(db_url)
    assert not result.ok and result.first_bad_id == first_bad
    assert f"entries {deleted}..{deleted}" in (result.reason or "") and "deleted" in (result.reason or "")


def test_detects_deleted_newest_rows(db_url: str) -> None:
    _append(db_url, 5)
    with tamper(db_url) as conn:
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
        with tamper(db_url) as conn:
            conn.execute(text("UPDATE audit_log SET purpose = 'marketing' WHERE id = 2"))
        broken = runner.invoke(cli_app, ["audit", "verify"])
        assert broken.exit_code == 1
        assert "audit chain BROKEN (modified) at entry 2" in broken.stderr
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
    _append(db_url, 5)  # entries 5..9 (each user's creation and first token are two entries)
    client = _audit_client(db_url)
    headers = {"Authorization": f"Bearer {auditor_token}"}
    first = client.get("/v1/audit", params={"limit": 4}, headers=headers)
    assert first.status_code == 200, first.text
    page = first.json()
    assert [e["id"] for e in page["entries"]] == [1, 2, 3, 4] and page["next_after_id"] == 4
    assert page["entries"][0]["action"] == "user.create" and len(page["entries"][0]["row_hash"]) == 64
    rest = client.get("/v1/audit", params={"after_id": 6, "action": "hit.read"}, headers=headers).json()
    assert [e["object_id"] for e in rest["entries"]] == ["h2", "h3", "h4"] and rest["next_after_id"] is None
    verified = client.get("/v1/audit/verify", headers=headers).json()
    assert verified["ok"] is True and verified["checked"] == 11  # 9 + the two audited reads
    reads = client.get("/v1/audit", params={"object_type": "audit_log"}, headers=headers).json()["entries"]
    assert [e["action"] for e in reads] == ["audit.read", "audit.read", "audit.verify"]
    assert reads[1]["details"] == {"filters": {"action": "hit.read"}, "after_id": 6, "returned": 3}
    assert reads[0]["actor_name"] == "inspector" and reads[0]["role"] == "auditor"

    assert client.get("/v1/audit").status_code == 401
    denied = client.get("/v1/audit/verify", headers={"Authorization": f"Bearer {analyst_token}"})
    assert denied.status_code == 403
    assert client.get("/v1/audit", params={"limit": 0}, headers=headers).status_code == 422

    with tamper(db_url) as conn:
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


# --- the keyed chain against a database administrator ------------------------------------------------------------


def _set_object(row: dict[str, object]) -> None:
    row["object_id"] = "someone-else"


def test_reviewer_reproduction_rewrite_with_recomputed_hashes_is_detected(db_url: str) -> None:
    """Row 98 of 100 rewritten and every hash after it recomputed with ``compute_hash``, head updated: a plain
    SHA-256 chain verified this as intact. Without the audit key the recomputed entries cannot verify."""
    _append(db_url, 100)
    rewrite(db_url, 98, _set_object, key=None)
    result = _verify(db_url)
    assert not result.ok and result.verdict is audit.Verdict.REWRITTEN and result.first_bad_id == 98
    assert result.checked == 97 and "without the audit key" in (result.reason or "")


def test_rewrite_with_a_guessed_key_is_a_modified_entry(db_url: str) -> None:
    _append(db_url, 6)
    rewrite(db_url, 4, _set_object, key=b"not-the-audit-key-" * 3)
    result = _verify(db_url)
    assert not result.ok and result.verdict is audit.Verdict.MODIFIED and result.first_bad_id == 4


def test_rewrite_with_the_key_itself_holds_together_so_the_key_must_stay_out_of_reach(db_url: str) -> None:
    """Whoever holds KYC_AUDIT_KEY can rewrite the chain; only checkpoints (tests/kyc/test_checkpoints.py) then
    tell. This pins down the operating model the README states: the key stays with the application, never with
    the database's administrators."""
    _append(db_url, 5)
    rewrite(db_url, 2, _set_object, key=audit.get_audit_keys().current)
    assert _verify(db_url).ok


def test_tail_truncation_with_the_head_moved_back_needs_a_checkpoint(db_url: str) -> None:
    _append(db_url, 6)
    truncate_tail(db_url, 4)
    assert _verify(db_url).ok  # indistinguishable from a shorter chain without an external checkpoint
    with transaction(db_url) as session:
        anchor = audit.Anchor(6, "f" * 64, 0, utcnow())
        result = audit.verify(session, anchors=[anchor])
    assert (
        result.verdict is audit.Verdict.TRUNCATED
        and result.first_bad_id == 5
        and "recorded entry 6" in (result.reason or "")
    )


def test_missing_head_is_a_verdict_and_blocks_appends_until_restored(db_url: str) -> None:
    _append(db_url, 3)
    delete_head(db_url)
    result = _verify(db_url)
    assert result.verdict is audit.Verdict.HEAD_MISSING and not result.ok
    with pytest.raises(audit.AuditUnavailable, match="head is missing"), transaction(db_url) as session:
        audit.record(session, actor=ANN, action="x", object_type="t", object_id="1")
    with transaction(db_url) as session:
        assert session.scalars(select(AuditLog.id)).all() == [1, 2, 3]  # no second chain started at id 1
        head = audit.restore_head(session)
        assert head.last_id == 3 and head.legacy_until == 0
    _append(db_url, 1)
    assert _verify(db_url).ok and _verify(db_url).checked == 4


def test_restore_head_refuses_a_chain_that_does_not_hold(db_url: str) -> None:
    _append(db_url, 3)
    rewrite(db_url, 2, _set_object, key=None)
    delete_head(db_url)
    with pytest.raises(audit.AuditUnavailable, match="not intact"), transaction(db_url) as session:
        audit.restore_head(session)


def test_head_triggers_refuse_delete_moving_back_and_changing_the_legacy_boundary(db_url: str) -> None:
    _append(db_url, 3)
    engine = get_engine(db_url)
    statements: list[Executable] = [
        HEAD.delete(),
        update(HEAD).values(last_id=1),
        update(HEAD).values(legacy_until=3),
    ]
    if engine.dialect.name == "postgresql":
        statements += [text("TRUNCATE audit_head"), text("TRUNCATE audit_log")]
    for statement in statements:
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(statement)
    assert _verify(db_url).ok and _verify(db_url).checked == 3


def test_key_rotation_new_key_first_old_key_verifies(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    old, new = "o" * 40, "n" * 40
    _with_audit_key(monkeypatch, old)
    _append(db_url, 2)
    _with_audit_key(monkeypatch, f"{new},{old}")
    _append(db_url, 2)
    result = _verify(db_url)
    assert result.ok and result.checked == 4
    _with_audit_key(monkeypatch, new)
    assert _verify(db_url).verdict is audit.Verdict.MODIFIED  # the old entries need the retired key to verify
    _with_audit_key(monkeypatch, f"{new},{old}")
    with transaction(db_url) as session:  # an entry signed with the retired key after newer ones
        prev = session.scalars(select(AuditLog.row_hash).where(AuditLog.id == 4)).one()
    with tamper(db_url) as conn:
        row = dict(conn.execute(select(LOG).where(LOG.c.id == 4)).mappings().one())
        row["row_hash"] = audit.compute_hash(row["prev_hash"], row, key=old.encode())
        conn.execute(update(LOG).where(LOG.c.id == 4).values(row_hash=row["row_hash"]))
        conn.execute(update(HEAD).values(last_hash=row["row_hash"]))
    assert prev != row["row_hash"]
    result = _verify(db_url)
    assert result.verdict is audit.Verdict.REWRITTEN and result.first_bad_id == 4 and "retired" in (result.reason or "")


def test_a_key_that_did_not_write_the_chain_is_refused_at_start(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    _with_audit_key(monkeypatch, "a" * 40)
    _append(db_url, 2)
    with transaction(db_url) as session:
        audit.check_key(session)
    _with_audit_key(monkeypatch, "b" * 40)
    with (
        pytest.raises(audit.AuditKeyError, match="does not verify the newest audit entry"),
        transaction(db_url) as session,
    ):
        audit.check_key(session)


def test_production_requires_an_audit_key_of_real_length() -> None:
    with pytest.raises(audit.AuditKeyError, match="KYC_AUDIT_KEY is required"):
        audit.load_audit_keys(Settings(env="production", audit_key=None))
    with pytest.raises(audit.AuditKeyError, match="shorter than 32"):
        audit.load_audit_keys(Settings(env="production", audit_key="short"))
    keys = audit.load_audit_keys(Settings(env="production", audit_key=f"{'x' * 32}, {'y' * 32}"))
    assert keys.current == b"x" * 32 and len(keys.ids) == 2 and keys.ids[0] != keys.ids[1]


def _with_audit_key(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("KYC_AUDIT_KEY", value)
    get_settings.cache_clear()
    audit.get_audit_keys.cache_clear()


@pytest.fixture(autouse=True)
def _fresh_audit_keys() -> Iterator[None]:
    audit.get_audit_keys.cache_clear()
    yield
    audit.get_audit_keys.cache_clear()


def test_identity_codes_are_masked_in_details_and_object_ids(db_url: str) -> None:
    """A query filter or a reference a client typed lands in the audit log; identity codes in it never do."""
    with transaction(db_url) as session:
        audit.record(
            session,
            actor=ANN,
            action="hits.queue.read",
            object_type="screening_hit",
            object_id="170580-123l",
            details={"customer_id": "170580-123L", "filters": {"q": ["x 010101A123A y"]}},
        )
        entry = audit.entries(session)[0]
    assert entry.details == {"customer_id": "170580-****", "filters": {"q": ["x 010101A**** y"]}}
    assert entry.object_id == "170580-****"
    assert _verify(db_url).ok
