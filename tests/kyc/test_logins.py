"""Workbench logins in the core: argon2id passwords, TOTP (required by role, enrolled, not replayable), backoff and
lockout, idle and absolute session expiry, logout, and the audit rows for each; on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pyotp
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from cli.main import app
from kyc import logins
from kyc.access import Role, create_user, revoke_user
from kyc.settings import Settings, get_settings
from kyc.storage.access import AuditLog
from kyc.storage.base import utcnow
from kyc.storage.db import transaction
from kyc.storage.logins import Credential

pytestmark = pytest.mark.usefixtures("encryption_key")
PASSWORD = "correct horse battery"


def _person(settings: Settings, name: str, role: Role) -> None:
    with transaction(settings.database_url) as session:
        create_user(session, name, role)
        logins.set_password(session, name, PASSWORD, actor="test")


def _login(settings: Settings, name: str, password: str = PASSWORD, code: str | None = None, **kw: object):  # type: ignore[no-untyped-def]
    with transaction(settings.database_url) as session:
        return logins.login(session, name, password, code, settings=settings, **kw)  # type: ignore[arg-type]


def _actions(settings: Settings) -> list[str]:
    with transaction(settings.database_url) as session:
        return list(session.scalars(select(AuditLog.action).order_by(AuditLog.id)))


def test_password_is_argon2id_and_weak_ones_are_refused(settings: Settings) -> None:
    _person(settings, "ann", Role.ANALYST)
    with transaction(settings.database_url) as session:
        stored = session.scalars(select(Credential.password_hash)).one()
        assert stored is not None and stored.startswith("$argon2id$")
        with pytest.raises(logins.WeakPassword):
            logins.set_password(session, "ann", "short", actor="test")
        with pytest.raises(logins.WeakPassword):
            logins.set_password(session, "ann", "aaaaaaaaaaaaaaaa", actor="test")


def test_analyst_logs_in_with_password_only_and_sessions_expire(settings: Settings) -> None:
    _person(settings, "ann", Role.ANALYST)
    outcome = _login(settings, "ann")
    assert outcome.ok and not outcome.enrolment_due
    with transaction(settings.database_url) as session:
        info = logins.current_session(session, outcome.token, settings=settings)
        assert info is not None and info.second_factor and info.principal.name == "ann"
    idle = utcnow() + timedelta(minutes=settings.ui_idle_minutes + 1)
    with transaction(settings.database_url) as session:
        assert logins.current_session(session, outcome.token, settings=settings, now=idle) is None
    with transaction(settings.database_url) as session:  # ended for good, even when asked "earlier" again
        assert logins.current_session(session, outcome.token, settings=settings) is None

    busy = _login(settings, "ann")
    later = utcnow()
    with transaction(settings.database_url) as session:  # active every 20 minutes: still ends after 12 hours
        for _ in range(int(settings.ui_absolute_hours * 3) - 1):
            later += timedelta(minutes=20)
            assert logins.current_session(session, busy.token, settings=settings, now=later) is not None
        later += timedelta(minutes=20)
        assert logins.current_session(session, busy.token, settings=settings, now=later) is None
    actions = _actions(settings)
    assert actions.count("login") == 2 and actions.count("session.expired") == 2


def test_wrong_passwords_back_off_then_lock(settings: Settings) -> None:
    settings = settings.model_copy(update={"ui_backoff_seconds": 0.0})
    _person(settings, "ann", Role.ANALYST)
    assert _login(settings, "nobody").failure is logins.Failure.INVALID
    for _ in range(settings.ui_lockout_after):
        assert _login(settings, "ann", "wrong password!").failure is logins.Failure.INVALID
    locked = _login(settings, "ann")  # the right password, too late
    assert locked.failure is logins.Failure.LOCKED and locked.wait_seconds > 60
    with transaction(settings.database_url) as session:
        logins.unlock(session, "ann", actor="test")
    assert _login(settings, "ann").ok

    slow = settings.model_copy(update={"ui_backoff_seconds": 30.0})
    for _ in range(slow.ui_backoff_after):
        _login(slow, "ann", "wrong password!")
    waiting = _login(slow, "ann")
    assert waiting.failure is logins.Failure.BACKOFF and 0 < waiting.wait_seconds <= 30
    assert _actions(settings).count("login.failed") >= settings.ui_lockout_after + 3


def test_disabled_user_cannot_log_in_and_loses_its_sessions(settings: Settings) -> None:
    _person(settings, "ann", Role.ANALYST)
    outcome = _login(settings, "ann")
    with transaction(settings.database_url) as session:
        revoke_user(session, "ann")
    with transaction(settings.database_url) as session:
        assert logins.current_session(session, outcome.token, settings=settings) is None
    assert _login(settings, "ann").failure is logins.Failure.INVALID


def test_approver_enrols_totp_then_needs_a_fresh_code(settings: Settings) -> None:
    _person(settings, "bob", Role.APPROVER)
    first = _login(settings, "bob")
    assert first.ok and first.enrolment_due
    with transaction(settings.database_url) as session:
        info = logins.current_session(session, first.token, settings=settings)
        assert info is not None and not info.second_factor
        uri = logins.begin_enrolment(session, info)
    secret = pyotp.parse_uri(uri).secret
    with transaction(settings.database_url) as session:
        info = logins.current_session(session, first.token, settings=settings)
        assert info is not None
        assert not logins.confirm_enrolment(session, info, "000000" if pyotp.TOTP(secret).now() != "000000" else "1")
        used = pyotp.TOTP(secret).now()
        assert logins.confirm_enrolment(session, info, used)
    with transaction(settings.database_url) as session:
        info = logins.current_session(session, first.token, settings=settings)
        assert info is not None and info.second_factor

    assert _login(settings, "bob").failure is logins.Failure.SECOND_FACTOR  # no code
    # the code used for enrolment cannot be used again; the next step's code can
    assert _login(settings, "bob", code=used).failure is logins.Failure.SECOND_FACTOR
    later = utcnow() + timedelta(seconds=30)
    assert _login(settings, "bob", code=pyotp.TOTP(secret).at(later), now=later).ok

    with transaction(settings.database_url) as session:
        logins.reset_second_factor(session, "bob", actor="test")
    assert _login(settings, "bob").enrolment_due
    assert {"user.totp.enrolled", "user.totp.reset", "login.failed", "login"} <= set(_actions(settings))


def test_logout_ends_the_session(settings: Settings) -> None:
    _person(settings, "ann", Role.ANALYST)
    outcome = _login(settings, "ann")
    with transaction(settings.database_url) as session:
        info = logins.current_session(session, outcome.token, settings=settings)
        assert info is not None
        logins.logout(session, info)
    with transaction(settings.database_url) as session:
        assert logins.current_session(session, outcome.token, settings=settings) is None
    assert "logout" in _actions(settings)


@pytest.fixture
def cli_db(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("KYC_DATABASE_URL", db_url)
    get_settings.cache_clear()
    yield db_url
    get_settings.cache_clear()


def test_cli_sets_a_password_from_stdin(cli_db: str) -> None:
    with transaction(cli_db) as session:
        create_user(session, "ann", Role.ANALYST)
    runner = CliRunner()
    assert runner.invoke(app, ["users", "password", "ann"], input="short\n").exit_code == 2
    result = runner.invoke(app, ["users", "password", "ann"], input=PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    assert _login(Settings(database_url=cli_db), "ann").ok
    assert runner.invoke(app, ["users", "password", "nobody"], input=PASSWORD + "\n").exit_code == 2
