from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import structlog
from cryptography.fernet import Fernet
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select, text
from typer.testing import CliRunner

from api.app import create_app
from api.auth import require
from api.deps import SessionDep, get_settings
from api.errors import ApiError, install
from api.routers.admin import router as admin_router
from api.routers.me import router as me_router
from cli.main import app as cli_app
from kyc import access, audit, crypto
from kyc.access import ROLE_PERMISSIONS, Permission, Principal, Role, can, may_read_job
from kyc.settings import Settings
from kyc.settings import get_settings as get_settings_cache
from kyc.storage.access import ApiToken, AuditLog, User
from kyc.storage.db import get_engine, transaction
from kyc.versions import RawFile, store_version
from lists.un_sc import UnScAdapter
from tests.support.env import list_file
from tests.support.routes import endpoints


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """The CLI binds structlog to CliRunner's stderr, closed after the call; later log lines would then fail."""
    structlog.reset_defaults()
    yield
    structlog.reset_defaults()


CASE_DATA = {
    Permission.READ_SCREENING,
    Permission.READ_HITS,
    Permission.PROPOSE_DECISION,
    Permission.APPROVE_DECISION,
    Permission.EXPORT_SUBJECT,
    Permission.CORRECT_SUBJECT,
}


def test_least_privilege_matrix() -> None:
    assert ROLE_PERMISSIONS[Role.ONBOARDING] == {Permission.SUBMIT_SCREENING, Permission.READ_SCREENING}
    assert not can(Role.ONBOARDING, Permission.READ_HITS)
    assert can(Role.ANALYST, Permission.PROPOSE_DECISION) and not can(Role.ANALYST, Permission.APPROVE_DECISION)
    assert can(Role.APPROVER, Permission.APPROVE_DECISION) and can(Role.APPROVER, Permission.READ_HITS)
    assert not can(Role.APPROVER, Permission.PROPOSE_DECISION)
    assert {Permission.READ_AUDIT, Permission.READ_HITS} <= ROLE_PERMISSIONS[Role.AUDITOR]
    writes = {Permission.SUBMIT_SCREENING, Permission.PROPOSE_DECISION, Permission.APPROVE_DECISION}
    assert not ROLE_PERMISSIONS[Role.AUDITOR] & (writes | {Permission.MANAGE_USERS, Permission.CORRECT_SUBJECT})
    assert ROLE_PERMISSIONS[Role.DPO] == {Permission.EXPORT_SUBJECT, Permission.CORRECT_SUBJECT}
    assert {Permission.MANAGE_USERS, Permission.MANAGE_LISTS} <= ROLE_PERMISSIONS[Role.ADMIN]
    assert not ROLE_PERMISSIONS[Role.ADMIN] & (CASE_DATA | {Permission.READ_AUDIT})
    assert set(ROLE_PERMISSIONS) == set(Role)
    only_admin = [r for r in Role if can(r, Permission.MANAGE_USERS)]
    assert only_admin == [Role.ADMIN]


def test_onboarding_reads_only_its_own_jobs() -> None:
    onboarding = Principal("u1", "crm", Role.ONBOARDING)
    assert may_read_job(onboarding, "u1")
    assert not may_read_job(onboarding, "u2")
    assert not may_read_job(onboarding, None)
    assert may_read_job(Principal("u3", "ann", Role.ANALYST), "u1")
    assert not may_read_job(Principal("u4", "root", Role.ADMIN), "u4")
    assert not may_read_job(Principal("u5", "dpo", Role.DPO), "u1")


def test_token_is_stored_hashed_and_authenticates(db_url: str) -> None:
    with transaction(db_url) as session:
        principal, token = access.create_user(session, "crm-system", Role.ONBOARDING)
    assert token.startswith("kyc_") and len(token) >= 40
    with get_engine(db_url).connect() as conn:
        for table in ("users", "api_tokens", "audit_log"):
            for row in conn.execute(text(f"SELECT * FROM {table}")):
                assert token not in " ".join(str(v) for v in row), f"plaintext token found in {table}"
                assert token[4:] not in " ".join(str(v) for v in row)
    with transaction(db_url) as session:
        assert session.scalars(select(ApiToken.token_hash)).one() == access.hash_token(token)
        assert access.authenticate(session, token) == principal
        assert principal.role is Role.ONBOARDING and principal.name == "crm-system"
        assert access.authenticate(session, token + "x") is None
        assert access.authenticate(session, "kyc_" + "A" * 43) is None
        assert access.authenticate(session, "") is None
        assert access.authenticate(session, None) is None


def test_revocation(db_url: str) -> None:
    with transaction(db_url) as session:
        access.create_user(session, "ann", Role.ANALYST)
        _, token = access.create_user(session, "bob", Role.APPROVER)
        second = access.issue_token(session, "bob")
    with transaction(db_url) as session:
        assert access.revoke_token(session, second)
        assert not access.revoke_token(session, second)
        assert access.authenticate(session, second) is None
        assert access.authenticate(session, token) is not None
        assert access.revoke_user(session, "bob") == 1
        assert access.authenticate(session, token) is None
    with transaction(db_url) as session:
        users = {u.name: u for u in access.list_users(session, actor="system:test")}
        assert users["bob"].disabled_at is not None and users["bob"].active_tokens == 0
        assert users["ann"].disabled_at is None and users["ann"].active_tokens == 1
        with pytest.raises(ValueError, match="disabled"):
            access.issue_token(session, "bob")
        with pytest.raises(access.UnknownUser):
            access.revoke_user(session, "nobody")
        actions = [e.action for e in audit.entries(session)]
        assert actions == [
            "user.create",
            "token.issue",
            "user.create",
            "token.issue",
            "token.issue",
            "token.revoke",
            "user.revoke",
            "user.list",
        ]


def test_bad_user_input_is_refused(db_url: str) -> None:
    with transaction(db_url) as session:
        access.create_user(session, "ann", "analyst")
        with pytest.raises(access.UserExists):
            access.create_user(session, "ann", Role.AUDITOR)
        with pytest.raises(ValueError, match="user name"):
            access.create_user(session, "bad name; drop", Role.AUDITOR)
        with pytest.raises(ValueError):
            access.create_user(session, "eve", "superuser")
        assert session.scalars(select(User.name)).all() == ["ann"]


def _app(db_url: str) -> FastAPI:
    app = FastAPI()
    install(app)
    app.dependency_overrides[get_settings] = lambda: Settings(database_url=db_url)

    @app.get("/hits")
    def hits(principal: Principal = Depends(require(Permission.READ_HITS))) -> dict[str, str]:
        return {"name": principal.name, "role": principal.role.value}

    @app.post("/note")
    def note(session: SessionDep, principal: Principal = Depends(require(Permission.READ_HITS))) -> dict[str, str]:
        audit.record(session, actor=principal, action="note", object_type="test", object_id="1")
        return {"ok": "yes"}

    @app.post("/fail")
    def fail(session: SessionDep, principal: Principal = Depends(require(Permission.READ_HITS))) -> None:
        audit.record(session, actor=principal, action="rolled.back", object_type="test", object_id="1")
        raise ApiError(409, "conflict", "on purpose")

    return app


@pytest.fixture
def tokens(db_url: str) -> dict[str, str]:
    with transaction(db_url) as session:
        return {role.value: access.create_user(session, f"user-{role.value}", role)[1] for role in Role}


def test_http_401_403_and_allowed(db_url: str, tokens: dict[str, str]) -> None:
    client = TestClient(_app(db_url))
    missing = client.get("/hits")
    assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
    assert missing.json() == {"status": 401, "code": "unauthorized", "message": "a valid bearer token is required"}
    basic = client.get("/hits", headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert basic.status_code == 401
    unknown = client.get("/hits", headers={"Authorization": "Bearer kyc_unknown"})
    assert unknown.status_code == 401 and "invalid_token" in unknown.headers["www-authenticate"]
    ok = client.get("/hits", headers={"Authorization": f"Bearer {tokens['analyst']}"})
    assert ok.status_code == 200 and ok.json() == {"name": "user-analyst", "role": "analyst"}
    for role in ("onboarding", "admin", "dpo"):
        denied = client.get("/hits", headers={"Authorization": f"Bearer {tokens[role]}"})
        assert denied.status_code == 403, role
        assert denied.json()["code"] == "forbidden" and "read_hits" in denied.json()["message"]
    with transaction(db_url) as session:
        access.revoke_user(session, "user-analyst")
    revoked = client.get("/hits", headers={"Authorization": f"Bearer {tokens['analyst']}"})
    assert revoked.status_code == 401
    with transaction(db_url) as session:
        denials = [e for e in audit.entries(session) if e.action == "access.denied"]
        assert [d.role for d in denials] == ["onboarding", "admin", "dpo"]
        assert denials[0].object_id == "GET /hits" and denials[0].details == {"missing": ["read_hits"]}
        assert audit.verify(session).ok


def test_request_session_commits_on_success_and_rolls_back_on_error(db_url: str, tokens: dict[str, str]) -> None:
    client = TestClient(_app(db_url))
    headers = {"Authorization": f"Bearer {tokens['auditor']}"}
    assert client.post("/note", headers=headers).status_code == 200
    failed = client.post("/fail", headers=headers)
    assert failed.status_code == 409 and failed.json()["message"] == "on purpose"
    with transaction(db_url) as session:
        actions = session.scalars(select(AuditLog.action)).all()
        assert "note" in actions and "rolled.back" not in actions
        assert audit.verify(session).ok


@pytest.fixture
def cli_env(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("KYC_DATABASE_URL", db_url)
    get_settings_cache.cache_clear()
    yield db_url
    get_settings_cache.cache_clear()


def test_cli_users_create_list_revoke(cli_env: str) -> None:
    runner = CliRunner()
    created = runner.invoke(cli_app, ["users", "create", "crm-system", "--role", "onboarding"])
    assert created.exit_code == 0, created.output
    token = created.stdout.strip()
    assert token.startswith("kyc_") and "\n" not in token  # the token is the only thing on stdout
    assert "not shown again" in created.stderr
    with transaction(cli_env) as session:
        principal = access.authenticate(session, token)
        assert principal is not None and principal.role is Role.ONBOARDING
        entry = audit.entries(session, action="user.create")[0]
        assert entry.actor.startswith("cli:") and entry.object_id == principal.user_id

    duplicate = runner.invoke(cli_app, ["users", "create", "crm-system", "--role", "analyst"])
    assert duplicate.exit_code == 2 and "already exists" in duplicate.stderr
    bad_role = runner.invoke(cli_app, ["users", "create", "eve", "--role", "root"])
    assert bad_role.exit_code == 2

    listed = runner.invoke(cli_app, ["users", "list", "--json"])
    assert listed.exit_code == 0
    rows = json.loads(listed.stdout)
    assert [(r["name"], r["role"], r["active_tokens"]) for r in rows] == [("crm-system", "onboarding", 1)]
    assert token not in listed.stdout

    revoked = runner.invoke(cli_app, ["users", "revoke", "crm-system"])
    assert revoked.exit_code == 0 and "revoked 1 token" in revoked.stdout
    with transaction(cli_env) as session:
        assert access.authenticate(session, token) is None
    unknown = runner.invoke(cli_app, ["users", "revoke", "nobody"])
    assert unknown.exit_code == 2 and "no user named 'nobody'" in unknown.stderr
    assert "disabled" in runner.invoke(cli_app, ["users", "list"]).stdout


def _admin_client(db_url: str) -> TestClient:
    app = FastAPI()
    install(app)
    app.dependency_overrides[get_settings] = lambda: Settings(database_url=db_url)
    app.include_router(admin_router)
    app.include_router(me_router)
    return TestClient(app)


def _active_tokens(db_url: str, name: str) -> int:
    with transaction(db_url) as session:
        user_id = session.scalars(select(User.id).where(User.name == name)).one()
        return len(
            session.scalars(select(ApiToken).where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))).all()
        )


def test_admin_registers_users_without_tokens_and_audits_the_listing(db_url: str, tokens: dict[str, str]) -> None:
    client = _admin_client(db_url)
    admin = {"Authorization": f"Bearer {tokens['admin']}"}
    created = client.post("/v1/admin/users", json={"name": "officer-1", "role": "analyst"}, headers=admin)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["role"] == "analyst" and body["active_tokens"] == 0 and body["disabled_at"] is None
    assert "token" not in body and "kyc_" not in created.text
    assert _active_tokens(db_url, "officer-1") == 0
    assert client.post("/v1/admin/users", json={"name": "officer-1", "role": "dpo"}, headers=admin).status_code == 409
    invalid = client.post("/v1/admin/users", json={"name": "x y", "role": "god"}, headers=admin)
    assert invalid.status_code == 422

    listed = client.get("/v1/admin/users", headers=admin).json()["users"]
    officer = next(u for u in listed if u["name"] == "officer-1")
    assert officer["active_tokens"] == 0 and "token" not in officer

    revoked = client.post("/v1/admin/users/officer-1/revoke", headers=admin)
    assert revoked.json() == {"name": "officer-1", "revoked_tokens": 0, "disabled": True}
    assert client.post("/v1/admin/users/user-admin/revoke", headers=admin).status_code == 409
    assert client.post("/v1/admin/users/nobody/revoke", headers=admin).status_code == 404
    with transaction(db_url) as session:
        entries = [e for e in audit.entries(session) if e.role == "admin"]
        assert [e.action for e in entries] == ["user.create", "user.list", "user.revoke"]
        assert entries[0].details == {"role": "analyst", "token_issued": False}
        assert entries[1].object_id == "*" and entries[1].purpose == "security"
        assert entries[1].actor_name == "user-admin"


def test_reviewer_reproduction_admin_can_no_longer_act_as_an_officer(
    db_url: str, tokens: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """H2: the admin issued itself tokens of analyst ``ana`` and approver ``appr``; no HTTP route does that now."""
    monkeypatch.setenv("KYC_ENCRYPTION_KEY", Fernet.generate_key().decode())
    crypto.get_cipher.cache_clear()
    with transaction(db_url) as session:
        access.create_user(session, "ana", Role.ANALYST)
        access.create_user(session, "appr", Role.APPROVER)
    app = create_app(Settings(database_url=db_url))
    client = TestClient(app)
    admin = {"Authorization": f"Bearer {tokens['admin']}"}
    for name in ("ana", "appr"):
        assert client.post(f"/v1/admin/users/{name}/tokens", headers=admin).status_code in (404, 405)
        assert _active_tokens(db_url, name) == 1  # only the one the server CLI issued to the person

    # A compliance user the admin registers has no token either, whatever the role.
    for role in ("analyst", "approver", "auditor", "dpo", "admin", "onboarding"):
        created = client.post("/v1/admin/users", json={"name": f"new-{role}", "role": role}, headers=admin)
        assert created.status_code == 201 and "kyc_" not in created.text
        assert _active_tokens(db_url, f"new-{role}") == 0

    # The one route that returns a token replaces the caller's own; the others list and revoke, by id.
    assert {(m, p) for m, p in endpoints(app) if "token" in p} == {
        ("POST", "/v1/me/tokens"),
        ("GET", "/v1/me/tokens"),
        ("DELETE", "/v1/me/tokens/{token_id}"),
        ("GET", "/v1/admin/users/{name}/tokens"),
        ("POST", "/v1/admin/users/{name}/tokens/{token_id}/revoke"),
    }
    for name in ("ana", "appr"):
        listed = client.get(f"/v1/admin/users/{name}/tokens", headers=admin)
        assert listed.status_code == 200 and "kyc_" not in listed.text
    rotated = client.post("/v1/me/tokens", json={"revoke_current": True}, headers=admin)
    assert rotated.status_code == 201 and rotated.json()["name"] == "user-admin"
    with transaction(db_url) as session:
        principal = access.authenticate(session, rotated.json()["token"])
        assert principal is not None and principal.name == "user-admin" and principal.role is Role.ADMIN
    assert client.get("/v1/hits", headers={"Authorization": f"Bearer {rotated.json()['token']}"}).status_code == 403
    crypto.get_cipher.cache_clear()


def test_me_tokens_rotates_only_the_callers_own_token(db_url: str, tokens: dict[str, str]) -> None:
    client = _admin_client(db_url)
    assert client.post("/v1/me/tokens", json={"revoke_current": True}).status_code == 401
    analyst = {"Authorization": f"Bearer {tokens['analyst']}"}
    for body in (None, {}, {"revoke_current": False}):
        refused = client.post("/v1/me/tokens", json=body, headers=analyst)
        assert refused.status_code == 422, body  # over HTTP a token is only ever replaced, never added
    first = client.post("/v1/me/tokens", json={"revoke_current": True}, headers=analyst)
    assert first.status_code == 201, first.text
    assert first.json()["name"] == "user-analyst" and first.json()["revoked_current"] is True
    new = first.json()["token"]
    assert new.startswith("kyc_") and new != tokens["analyst"]
    with transaction(db_url) as session:
        assert access.authenticate(session, tokens["analyst"]) is None  # the token used for the call is revoked
        newest = access.authenticate(session, new)
        assert newest is not None and newest.name == "user-analyst" and newest.role is Role.ANALYST
        rotations = audit.entries(session, action="token.rotate")
        assert [e.actor_name for e in rotations] == ["user-analyst"]
        assert rotations[0].details["revoked_token_id"] != rotations[0].details["token_id"]


def test_cli_issues_the_first_token_of_a_user_registered_over_http(
    cli_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with transaction(cli_env) as session:
        _, admin_token = access.create_user(session, "root", Role.ADMIN)
    client = _admin_client(cli_env)
    created = client.post(
        "/v1/admin/users",
        json={"name": "officer-2", "role": "approver"},
        headers={"Authorization": f"Bearer {admin_token}"},
    )
    assert created.status_code == 201
    issued = CliRunner().invoke(cli_app, ["users", "token", "officer-2"])
    assert issued.exit_code == 0, issued.output
    with transaction(cli_env) as session:
        principal = access.authenticate(session, issued.stdout.strip())
        assert principal is not None and principal.name == "officer-2" and principal.role is Role.APPROVER
        entry = audit.entries(session, action="token.issue")[-1]
        assert entry.actor.startswith("cli:") and entry.object_id == principal.user_id


def test_admin_router_refuses_other_roles(db_url: str, tokens: dict[str, str]) -> None:
    client = _admin_client(db_url)
    assert client.get("/v1/admin/users").status_code == 401
    for role in ("onboarding", "analyst", "approver", "auditor", "dpo"):
        headers = {"Authorization": f"Bearer {tokens[role]}"}
        assert client.get("/v1/admin/users", headers=headers).status_code == 403, role
        body = {"name": f"sneaky-{role}", "role": "admin"}
        assert client.post("/v1/admin/users", json=body, headers=headers).status_code == 403, role


def test_cli_list_approval_is_audited_under_the_user_name(cli_env: str) -> None:
    """``kyc lists approve --user NAME`` leaves an audit row like the API's, under the verified user
    (NAME must be an existing, active user allowed to approve; see ``tests/cli/test_lists_approve.py``)."""
    with transaction(cli_env) as session:
        _alice, alice_token = access.create_user(session, "alice", Role.ADMIN)
        bob, bob_token = access.create_user(session, "bob", Role.ADMIN)
    path = list_file("un_sc/2026-02-27_watchman/UN_consolidated.xml")
    files = [RawFile(path.name, path.read_bytes())]
    parsed = UnScAdapter().parse(files)
    with transaction(cli_env) as session:
        pending = store_version(
            session,
            source="un_sc",
            files=files,
            parsed=parsed,
            parser_version="test",
            origin=str(path),
            require_approval=True,
            created_by="alice",
        )
    runner = CliRunner()
    own = runner.invoke(
        cli_app, ["lists", "approve", str(pending.version_id), "--user", "alice"], env={"KYC_TOKEN": alice_token}
    )
    assert own.exit_code == 2 and "cannot also approve" in own.stderr
    assert runner.invoke(cli_app, ["lists", "approve", str(pending.version_id), "--user", "  "]).exit_code == 2
    approved = runner.invoke(
        cli_app, ["lists", "approve", str(pending.version_id), "--user", "bob"], env={"KYC_TOKEN": bob_token}
    )
    assert approved.exit_code == 0, approved.output
    with transaction(cli_env) as session:
        rows = audit.entries(session, action="list_version.approve")
        assert len(rows) == 1  # the refused attempt by the importer left none
        row = rows[0]
        assert (row.actor, row.actor_name, row.role) == (bob.user_id, "bob", "admin")
        assert (row.object_type, row.object_id, row.purpose) == (
            "list_version",
            str(pending.version_id),
            "list_management",
        )
        assert row.details["source"] == "un_sc" and row.details["os_account"].startswith("cli:")
        assert row.details["channel"] == "cli"
        assert audit.verify(session).ok
