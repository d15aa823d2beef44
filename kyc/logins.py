# Over 400 lines: password, second factor, backoff and sessions make one login decision; split, a path could skip one.
"""People logging in to the workbench: passwords, the TOTP second factor, backoff and lockout, browser sessions.

Systems keep their bearer tokens (``kyc.tokens``); people log in with a password hashed with argon2id and, for the
roles that can approve, administer or read data subjects' data (``KYC_UI_TOTP_ROLES``), a TOTP code. A person who
must use TOTP and has none yet gets a session limited to enrolment: a QR code of a fresh secret, confirmed by a
code from it. A code is accepted once (its time step is remembered), so an observed code cannot be replayed.

Failed logins are counted per user: after ``ui_backoff_after`` each further attempt must wait, doubling from
``ui_backoff_seconds``; after ``ui_lockout_after`` the account is locked for ``ui_lockout_minutes``. A wrong
password and an unknown user are answered alike, and the password is checked against a dummy hash for an unknown
user so the answer takes as long. :func:`login` returns its outcome instead of raising, because a failure must be
counted and audited in the same transaction the caller commits.

Sessions are server-side: the cookie holds a random token, the database its sha256, so a session is revoked by a
row update (logout, an admin disabling the user or resetting the second factor). Each ends ``ui_idle_minutes`` after
its last request and ``ui_absolute_hours`` after login, whichever is first. Every login, failed login, refusal,
expiry and logout is audited under the purpose ``security``.
"""

from __future__ import annotations

import contextlib
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from kyc import audit, crypto
from kyc.access import Principal, Role, UnknownUser
from kyc.errors import Conflict, Invalid
from kyc.settings import Settings
from kyc.storage.access import User
from kyc.storage.base import utcnow
from kyc.storage.logins import Credential, WebSession

MIN_PASSWORD = 12
MAX_PASSWORD = 256
LANGUAGES = ("en", "fi")
ISSUER = "KYC screening"
_HASHER = PasswordHasher()  # argon2id, the library's current recommended parameters
_DUMMY_HASH = _HASHER.hash(secrets.token_hex(16))
SECURITY = "security"


class Failure(StrEnum):
    INVALID = "invalid_credentials"
    """Unknown user, disabled user, no password set, or a wrong password: all answered alike."""
    SECOND_FACTOR = "second_factor"
    """The password was right, the TOTP code missing or wrong."""
    BACKOFF = "backoff"
    LOCKED = "locked"


@dataclass(frozen=True)
class LoginOutcome:
    token: str | None = None
    """The new session's cookie value (only on success)."""
    failure: Failure | None = None
    wait_seconds: float = 0.0
    enrolment_due: bool = False
    """Logged in with the password only: the person must enrol a second factor before anything else."""

    @property
    def ok(self) -> bool:
        return self.token is not None


@dataclass(frozen=True)
class SessionInfo:
    """A live browser session as the workbench sees it."""

    id: int
    principal: Principal
    csrf_token: str
    second_factor: bool
    """Whether the session may be used beyond enrolling a second factor."""
    language: str | None
    expires_at: datetime


class WeakPassword(Invalid):
    code = "weak_password"


class EnrolmentRefused(Conflict):
    code = "enrolment_refused"


def hash_session_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def needs_second_factor(role: Role | str, settings: Settings) -> bool:
    return str(role) in settings.ui_totp_roles


def _user(session: Session, name: str) -> User:
    user = session.scalars(select(User).where(User.name == name)).one_or_none()
    if user is None:
        raise UnknownUser(f"no user named {name!r}")
    return user


def _credential(session: Session, user_id: str) -> Credential:
    found = session.get(Credential, user_id)
    if found is None:
        found = Credential(user_id=user_id, failed_logins=0)
        session.add(found)
        session.flush()
    return found


def _principal(user: User) -> Principal:
    return Principal(user.id, user.name, Role(user.role))


def check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise WeakPassword(f"a password needs at least {MIN_PASSWORD} characters", field="password")
    if len(password) > MAX_PASSWORD:
        raise WeakPassword(f"a password has at most {MAX_PASSWORD} characters", field="password")
    if len(set(password)) < 5:
        raise WeakPassword("a password needs at least 5 different characters", field="password")


def set_password(session: Session, name: str, password: str, *, actor: Principal | str) -> None:
    """Set (or reset) a person's password; their open sessions end, the failure count and any lock are cleared."""
    check_password_strength(password)
    user = _user(session, name)
    credential = _credential(session, user.id)
    credential.password_hash = _HASHER.hash(password)
    credential.password_set_at = utcnow()
    credential.failed_logins = 0
    credential.locked_until = None
    revoke_user_sessions(session, user.id, reason="password_set")
    audit.record(
        session, actor=actor, action="user.password.set", object_type="user", object_id=user.id, purpose=SECURITY
    )


def reset_second_factor(session: Session, name: str, *, actor: Principal | str) -> None:
    """Forget a person's TOTP secret (a lost phone): their sessions end and the next login enrols a new one."""
    user = _user(session, name)
    credential = _credential(session, user.id)
    credential.totp_secret = None
    credential.totp_confirmed_at = None
    credential.last_totp_step = None
    revoke_user_sessions(session, user.id, reason="second_factor_reset")
    audit.record(
        session, actor=actor, action="user.totp.reset", object_type="user", object_id=user.id, purpose=SECURITY
    )


def unlock(session: Session, name: str, *, actor: Principal | str) -> None:
    user = _user(session, name)
    credential = _credential(session, user.id)
    credential.failed_logins = 0
    credential.locked_until = None
    audit.record(session, actor=actor, action="user.unlock", object_type="user", object_id=user.id, purpose=SECURITY)


def _failed(
    session: Session,
    credential: Credential | None,
    user_id: str,
    failure: Failure,
    settings: Settings,
    now: datetime,
    client: str | None,
) -> LoginOutcome:
    details: dict[str, object] = {"reason": failure.value}
    if client:
        details["client"] = client[:64]
    if credential is not None and failure in (Failure.INVALID, Failure.SECOND_FACTOR):
        credential.failed_logins = (credential.failed_logins or 0) + 1
        credential.last_failed_at = now
        details["failures"] = credential.failed_logins
        if credential.failed_logins >= settings.ui_lockout_after:
            credential.locked_until = now + timedelta(minutes=settings.ui_lockout_minutes)
            details["locked_until"] = credential.locked_until.isoformat()
    audit.record(
        session,
        actor=user_id,
        action="login.failed",
        object_type="user",
        object_id=user_id,
        purpose=SECURITY,
        details=details,
    )
    wait = _backoff(credential, settings, now) if credential is not None else 0.0
    return LoginOutcome(failure=failure, wait_seconds=wait)


def _backoff(credential: Credential, settings: Settings, now: datetime) -> float:
    """Seconds until the next attempt is allowed (0 when it is)."""
    if credential.locked_until is not None and credential.locked_until > now:
        return (credential.locked_until - now).total_seconds()
    failures = credential.failed_logins or 0
    if failures < settings.ui_backoff_after or credential.last_failed_at is None:
        return 0.0
    delay = min(settings.ui_backoff_seconds * 2 ** (failures - settings.ui_backoff_after), 3600.0)
    remaining = (credential.last_failed_at + timedelta(seconds=delay) - now).total_seconds()
    return max(remaining, 0.0)


def _verify_totp(credential: Credential, code: str | None, now: datetime) -> bool:
    """The code of the current, previous or next 30 s step, once only."""
    if not code or credential.totp_secret is None:
        return False
    code = code.strip().replace(" ", "")
    if not code.isdigit():
        return False
    totp = pyotp.TOTP(crypto.decrypt(credential.totp_secret))
    step = int(now.timestamp()) // totp.interval
    for candidate in (step, step - 1, step + 1):
        if secrets.compare_digest(totp.at(candidate * totp.interval), code):
            if credential.last_totp_step is not None and candidate <= credential.last_totp_step:
                return False
            credential.last_totp_step = candidate
            return True
    return False


def login(
    session: Session,
    name: str,
    password: str,
    totp_code: str | None,
    *,
    settings: Settings,
    client: str | None = None,
    now: datetime | None = None,
) -> LoginOutcome:
    """Check a login and open a session; never raises for a refused login (see the module docstring)."""
    now = now or utcnow()
    user = session.scalars(select(User).where(User.name == name)).one_or_none() if name else None
    credential = session.get(Credential, user.id) if user is not None else None
    if user is None or credential is None or credential.password_hash is None or user.disabled_at is not None:
        with contextlib.suppress(VerificationError):
            _HASHER.verify(_DUMMY_HASH, password or "-")
        return _failed(session, credential, user.id if user else "unknown", Failure.INVALID, settings, now, client)
    wait = _backoff(credential, settings, now)
    if wait > 0:
        locked = credential.locked_until is not None and credential.locked_until > now
        refusal = Failure.LOCKED if locked else Failure.BACKOFF
        _failed(session, None, user.id, refusal, settings, now, client)  # audited, not counted
        return LoginOutcome(failure=refusal, wait_seconds=wait)
    try:
        _HASHER.verify(credential.password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return _failed(session, credential, user.id, Failure.INVALID, settings, now, client)
    enrolled = credential.totp_confirmed_at is not None
    required = needs_second_factor(user.role, settings) or enrolled
    if enrolled and not _verify_totp(credential, totp_code, now):
        return _failed(session, credential, user.id, Failure.SECOND_FACTOR, settings, now, client)
    if _HASHER.check_needs_rehash(credential.password_hash):
        credential.password_hash = _HASHER.hash(password)
    credential.failed_logins = 0
    credential.locked_until = None
    token = secrets.token_urlsafe(32)
    second_factor = enrolled or not required
    session.add(
        WebSession(
            token_hash=hash_session_token(token),
            user_id=user.id,
            created_at=now,
            last_seen_at=now,
            expires_at=now + timedelta(hours=settings.ui_absolute_hours),
            csrf_token=secrets.token_urlsafe(32),
            second_factor=second_factor,
        )
    )
    details: dict[str, object] = {"second_factor": enrolled, "enrolment_due": not second_factor}
    if client:
        details["client"] = client[:64]
    audit.record(
        session,
        actor=_principal(user),
        action="login",
        object_type="user",
        object_id=user.id,
        purpose=SECURITY,
        details=details,
    )
    return LoginOutcome(token=token, enrolment_due=not second_factor)


def current_session(
    session: Session, token: str | None, *, settings: Settings, now: datetime | None = None
) -> SessionInfo | None:
    """The live session behind a cookie, its last use moved to now; None (and the session ended, audited, when it
    just timed out) for a missing, unknown, revoked or expired one, or a disabled user."""
    if not token or len(token) > 128:
        return None
    now = now or utcnow()
    row = session.execute(
        select(WebSession, User)
        .join(User, User.id == WebSession.user_id)
        .where(WebSession.token_hash == hash_session_token(token))
    ).first()
    if row is None:
        return None
    web, user = row
    if web.revoked_at is not None:
        return None
    reason = None
    if user.disabled_at is not None:
        reason = "user_disabled"
    elif web.expires_at <= now:
        reason = "absolute_timeout"
    elif web.last_seen_at + timedelta(minutes=settings.ui_idle_minutes) <= now:
        reason = "idle_timeout"
    if reason is not None:
        web.revoked_at = now
        web.revoked_reason = reason
        audit.record(
            session,
            actor=user.id,
            action="session.expired",
            object_type="web_session",
            object_id=str(web.id),
            purpose=SECURITY,
            details={"reason": reason},
        )
        return None
    web.last_seen_at = now
    credential = session.get(Credential, user.id)
    return SessionInfo(
        id=web.id,
        principal=_principal(user),
        csrf_token=web.csrf_token,
        second_factor=web.second_factor,
        language=credential.language if credential is not None else None,
        expires_at=web.expires_at,
    )


def logout(session: Session, info: SessionInfo) -> None:
    session.execute(
        update(WebSession)
        .where(WebSession.id == info.id, WebSession.revoked_at.is_(None))
        .values(revoked_at=utcnow(), revoked_reason="logout")
    )
    audit.record(
        session,
        actor=info.principal,
        action="logout",
        object_type="web_session",
        object_id=str(info.id),
        purpose=SECURITY,
    )


def revoke_user_sessions(session: Session, user_id: str, *, reason: str) -> int:
    """End every open session of a user (disabled, password or second factor reset)."""
    result = session.execute(
        update(WebSession)
        .where(WebSession.user_id == user_id, WebSession.revoked_at.is_(None))
        .values(revoked_at=utcnow(), revoked_reason=reason)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def begin_enrolment(session: Session, info: SessionInfo) -> str:
    """A fresh TOTP secret for the session's user (not yet confirmed); the provisioning URI for the QR code."""
    credential = _credential(session, info.principal.user_id)
    if credential.totp_confirmed_at is not None:
        raise EnrolmentRefused("a second factor is already enrolled; an admin can reset it")
    secret = pyotp.random_base32()
    credential.totp_secret = crypto.encrypt(secret)
    return pyotp.TOTP(secret).provisioning_uri(name=info.principal.name, issuer_name=ISSUER)


def pending_secret(session: Session, info: SessionInfo) -> str | None:
    credential = session.get(Credential, info.principal.user_id)
    if credential is None or credential.totp_secret is None or credential.totp_confirmed_at is not None:
        return None
    return crypto.decrypt(credential.totp_secret)


def confirm_enrolment(session: Session, info: SessionInfo, code: str, *, now: datetime | None = None) -> bool:
    """Confirm the pending secret with a code from it: the session is then complete. False for a wrong code."""
    now = now or utcnow()
    credential = _credential(session, info.principal.user_id)
    if credential.totp_confirmed_at is not None or credential.totp_secret is None:
        raise EnrolmentRefused("no second factor is being enrolled")
    if not _verify_totp(credential, code, now):
        return False
    credential.totp_confirmed_at = now
    session.execute(update(WebSession).where(WebSession.id == info.id).values(second_factor=True))
    audit.record(
        session,
        actor=info.principal,
        action="user.totp.enrolled",
        object_type="user",
        object_id=info.principal.user_id,
        purpose=SECURITY,
    )
    return True


def set_language(session: Session, user_id: str, language: str) -> None:
    if language not in LANGUAGES:
        raise Invalid(f"language must be one of {', '.join(LANGUAGES)}", field="language")
    _credential(session, user_id).language = language


@dataclass(frozen=True)
class LoginState:
    """What an admin sees of a person's login (never a hash or secret)."""

    password_set: bool
    second_factor: bool
    failed_logins: int
    locked_until: datetime | None
    open_sessions: int


def login_states(session: Session, now: datetime | None = None) -> dict[str, LoginState]:
    now = now or utcnow()
    credentials = {c.user_id: c for c in session.scalars(select(Credential))}
    open_sessions: dict[str, int] = {}
    for user_id in session.scalars(
        select(WebSession.user_id).where(WebSession.revoked_at.is_(None), WebSession.expires_at > now)
    ):
        open_sessions[user_id] = open_sessions.get(user_id, 0) + 1
    ids = set(credentials) | set(open_sessions)
    return {
        uid: LoginState(
            password_set=uid in credentials and credentials[uid].password_hash is not None,
            second_factor=uid in credentials and credentials[uid].totp_confirmed_at is not None,
            failed_logins=credentials[uid].failed_logins if uid in credentials else 0,
            locked_until=credentials[uid].locked_until if uid in credentials else None,
            open_sessions=open_sessions.get(uid, 0),
        )
        for uid in ids
    }
