"""Tokens that can be lost safely: expiry per kind, a bound per user, minting over HTTP only by replacing the calling
token, listing and revoking one token (API and CLI), every mint and revocation audited — SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import pytest
import structlog
from alembic import command
from fastapi.testclient import TestClient
from sqlalchemy import select, text, update
from typer.testing import CliRunner

from api.app import create_app
from cli.main import app as cli_app
from kyc import access, audit, tokens
from kyc.access import Role
from kyc.settings import Settings, get_settings
from kyc.storage.access import ApiToken
from kyc.storage.base import utcnow
from kyc.storage.db import alembic_config, get_engine, migrate, transaction


@pytest.fixture(autouse=True)
def _env(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    structlog.reset_defaults()
    monkeypatch.setenv("KYC_DATABASE_URL", db_url)
    get_settings.cache_clear()
    yield
    structlog.reset_defaults()
    get_settings.cache_clear()


def _client(db_url: str) -> TestClient:
    return TestClient(create_app(Settings(database_url=db_url)))


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _active(db_url: str, user_id: str) -> int:
    with transaction(db_url) as session:
        return tokens.count_active(session, user_id)


def test_reviewer_reproduction_a_stolen_token_cannot_mint_spares(db_url: str) -> None:
    """50 mints with a stolen token used to succeed (53 active tokens, all surviving the victim's rotation)."""
    with transaction(db_url) as session:
        victim, stolen = access.create_user(session, "ann", Role.ANALYST)
    client = _client(db_url)
    for _ in range(50):
        assert client.post("/v1/me/tokens", headers=_bearer(stolen)).status_code == 422
        assert client.post("/v1/me/tokens", json={}, headers=_bearer(stolen)).status_code == 422
    assert _active(db_url, victim.user_id) == 1
    # What the thief can do is replace the token, which locks the victim out: noticed, and reported.
    swapped = client.post("/v1/me/tokens", json={"revoke_current": True}, headers=_bearer(stolen))
    assert swapped.status_code == 201
    assert client.get("/v1/me/tokens", headers=_bearer(stolen)).status_code == 401
    assert _active(db_url, victim.user_id) == 1
    with transaction(db_url) as session:  # the victim's admin revokes everything on the server
        access.revoke_user(session, "ann")
    assert client.get("/v1/me/tokens", headers=_bearer(swapped.json()["token"])).status_code == 401


def test_tokens_expire_by_kind(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KYC_TOKEN_DAYS_PEOPLE", "7")
    monkeypatch.setenv("KYC_TOKEN_DAYS_SYSTEMS", "90")
    get_settings.cache_clear()
    with transaction(db_url) as session:
        person, person_token = access.create_user(session, "ann", Role.ANALYST)
        system, system_token = access.create_user(session, "crm", Role.ONBOARDING)
    now = utcnow()
    with transaction(db_url) as session:
        expiry = dict(session.execute(select(ApiToken.user_id, ApiToken.expires_at)).all())
        assert timedelta(days=7) - (expiry[person.user_id] - now) < timedelta(minutes=1)
        assert timedelta(days=90) - (expiry[system.user_id] - now) < timedelta(minutes=1)
        assert access.authenticate(session, person_token) == person
    with get_engine(db_url).begin() as conn:
        conn.execute(update(ApiToken).where(ApiToken.user_id == person.user_id).values(expires_at=now))
    with transaction(db_url) as session:
        assert access.authenticate(session, person_token) is None
        assert access.authenticate(session, system_token) == system
        assert tokens.count_active(session, person.user_id) == 0
    expired = _client(db_url).get("/v1/me/tokens", headers=_bearer(person_token))
    assert expired.status_code == 401 and "expired" in expired.json()["message"]


def test_a_user_holds_a_bounded_number_of_tokens(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KYC_MAX_ACTIVE_TOKENS", "2")
    get_settings.cache_clear()
    runner = CliRunner()
    assert runner.invoke(cli_app, ["users", "create", "crm", "--role", "onboarding"]).exit_code == 0
    second = runner.invoke(cli_app, ["users", "token", "crm"])
    assert second.exit_code == 0
    third = runner.invoke(cli_app, ["users", "token", "crm"])
    assert third.exit_code == 2 and "already holds 2 active tokens" in third.stderr
    listed = json.loads(runner.invoke(cli_app, ["users", "tokens", "crm", "--json"]).stdout)
    assert [t["active"] for t in listed] == [True, True] and all("kyc_" not in json.dumps(t) for t in listed)
    assert listed[0]["hint"] == second.stdout.strip()[-4:]
    revoked = runner.invoke(cli_app, ["users", "revoke-token", "crm", str(listed[0]["id"])])
    assert revoked.exit_code == 0 and f"token {listed[0]['id']} of crm is revoked" in revoked.stdout
    assert runner.invoke(cli_app, ["users", "token", "crm"]).exit_code == 0
    assert runner.invoke(cli_app, ["users", "revoke-token", "crm", "999999"]).exit_code == 2
    with transaction(db_url) as session, pytest.raises(tokens.TooManyTokens):
        access.issue_token(session, "crm")


def test_owner_lists_and_revokes_single_tokens_over_http(db_url: str) -> None:
    with transaction(db_url) as session:
        ann, first = access.create_user(session, "ann", Role.ANALYST)
        second = access.issue_token(session, "ann")
        _, bobs = access.create_user(session, "bob", Role.APPROVER)
    client = _client(db_url)
    listed = client.get("/v1/me/tokens", headers=_bearer(first))
    assert listed.status_code == 200 and "kyc_" not in listed.text
    rows = listed.json()["tokens"]
    assert [r["current"] for r in rows] == [False, True] and all(r["active"] for r in rows)
    other_id = rows[0]["id"]
    bob_token_id = client.get("/v1/me/tokens", headers=_bearer(bobs)).json()["tokens"][0]["id"]
    assert client.delete(f"/v1/me/tokens/{bob_token_id}", headers=_bearer(first)).status_code == 404
    gone = client.delete(f"/v1/me/tokens/{other_id}", headers=_bearer(first))
    assert gone.status_code == 200 and gone.json()["active"] is False and gone.json()["revoked_by"] == ann.user_id
    assert client.get("/v1/me/tokens", headers=_bearer(second)).status_code == 401
    assert client.get("/v1/me/tokens", headers=_bearer(bobs)).status_code == 200
    too_big = client.delete("/v1/me/tokens/99999999999999999999", headers=_bearer(first))
    assert too_big.status_code == 422 and too_big.json()["errors"][0]["field"] == "token_id"
    with transaction(db_url) as session:
        revocations = audit.entries(session, action="token.revoke")
        assert [(e.actor, e.details) for e in revocations] == [
            (ann.user_id, {"token_id": other_id, "reason": "by_owner"})
        ]
        assert [e.details["token_id"] for e in audit.entries(session, action="token.issue")] == [
            rows[1]["id"],
            other_id,
            bob_token_id,
        ]
        assert len(audit.entries(session, action="token.list")) == 3


def test_admin_lists_and_revokes_a_users_token_but_never_sees_one(db_url: str) -> None:
    with transaction(db_url) as session:
        _, admin_token = access.create_user(session, "root", Role.ADMIN)
        _, ann_token = access.create_user(session, "ann", Role.ANALYST)
    client = _client(db_url)
    listed = client.get("/v1/admin/users/ann/tokens", headers=_bearer(admin_token))
    assert listed.status_code == 200 and ann_token not in listed.text and "kyc_" not in listed.text
    token_id = listed.json()["tokens"][0]["id"]
    assert client.get("/v1/admin/users/nobody/tokens", headers=_bearer(admin_token)).status_code == 404
    assert client.get("/v1/admin/users/ann/tokens", headers=_bearer(ann_token)).status_code == 403
    revoked = client.post(f"/v1/admin/users/ann/tokens/{token_id}/revoke", headers=_bearer(admin_token))
    assert revoked.status_code == 200 and revoked.json()["active"] is False
    again = client.post(f"/v1/admin/users/ann/tokens/{token_id}/revoke", headers=_bearer(admin_token))
    assert again.status_code == 200  # idempotent, and recorded once
    assert client.get("/v1/me/tokens", headers=_bearer(ann_token)).status_code == 401
    with transaction(db_url) as session:
        entries = audit.entries(session, action="token.revoke")
        assert [(e.actor_name, e.details["reason"]) for e in entries] == [("root", "by_admin")]
        user = session.scalars(select(ApiToken).where(ApiToken.id == token_id)).one()
        assert user.revoked_by is not None


def test_rotation_keeps_the_count_and_records_both_tokens(db_url: str) -> None:
    with transaction(db_url) as session:
        ann, token = access.create_user(session, "ann", Role.ANALYST)
    client = _client(db_url)
    for _ in range(5):
        rotated = client.post("/v1/me/tokens", json={"revoke_current": True}, headers=_bearer(token))
        assert rotated.status_code == 201, rotated.text
        token = rotated.json()["token"]
    assert _active(db_url, ann.user_id) == 1
    with transaction(db_url) as session:
        rotations = audit.entries(session, action="token.rotate")
        assert len(rotations) == 5
        assert all(set(e.details) == {"token_id", "revoked_token_id", "expires_at"} for e in rotations)
        assert len(tokens.list_tokens(session, ann.user_id)) == 6


def test_tokens_issued_before_the_upgrade_expire_90_days_after_it(db_url: str) -> None:
    with transaction(db_url) as session:
        ann, token = access.create_user(session, "ann", Role.ANALYST)
    config = alembic_config(db_url)
    engine = get_engine(db_url)
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "0007")
        with engine.begin() as connection:
            assert connection.execute(text("SELECT count(*) FROM api_tokens")).scalar_one() == 1
    finally:
        migrate(db_url)
    with transaction(db_url) as session:
        expires = session.scalars(select(ApiToken.expires_at)).one()
        assert timedelta(days=89) < expires - utcnow() <= timedelta(days=90)
        assert access.authenticate(session, token) == ann
