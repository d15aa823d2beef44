"""Bearer tokens: how they are minted, stored, found, listed and revoked — each of them audited.

A token is ``kyc_`` plus 32 random bytes from ``secrets``; only its sha256 is stored, so the plaintext is shown once
and a database dump does not let anyone log in. Who may hold a token for whom is decided in ``kyc.access``.

A stolen token must be losable safely, so:

* every token **expires**: people's after ``KYC_TOKEN_DAYS_PEOPLE`` (30), systems' (onboarding, screening API
  clients) after ``KYC_TOKEN_DAYS_SYSTEMS`` (180);
* a user holds at most ``KYC_MAX_ACTIVE_TOKENS`` unexpired, unrevoked tokens; minting beyond that is refused;
* over HTTP a token can only be **replaced** (the calling token is revoked in the same transaction), never
  multiplied: a thief cannot mint spare tokens that survive the victim's rotation, and a rotation by the thief
  locks the victim out, which the victim notices. Further tokens are minted only on the server (``kyc users``);
* tokens are listed (never their plaintext or hash: an id, the last four characters, dates, who minted them) and
  revoked one by one, by their owner or an admin.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.orm import Session

from kyc import audit
from kyc.errors import Conflict, NotFound
from kyc.settings import Settings, get_settings
from kyc.storage.access import ApiToken
from kyc.storage.base import utcnow

if TYPE_CHECKING:
    from kyc.access import Principal

TOKEN_PREFIX = "kyc_"  # noqa: S105 (a public marker, not a secret)
MAX_TOKEN_LENGTH = 256
SYSTEM_ROLES = frozenset({"onboarding", "screening_api"})
"""Roles held by systems rather than people: their tokens live longer (they are rotated by deployments)."""
PURPOSE = "security"


class TooManyTokens(Conflict):
    code = "too_many_tokens"


class TokenNotFound(NotFound):
    """No such token of that user (another user's token is not told apart from a missing one)."""


@dataclass(frozen=True)
class TokenInfo:
    """A token as listed: never its plaintext or hash."""

    id: int
    user_id: str
    hint: str | None
    created_at: datetime
    expires_at: datetime
    created_by: str | None
    revoked_at: datetime | None
    revoked_by: str | None

    def active(self, now: datetime) -> bool:
        return self.revoked_at is None and self.expires_at > now


@dataclass(frozen=True)
class Minted:
    token: str
    """The plaintext: shown once, to whoever minted it."""
    info: TokenInfo


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def looks_like_token(token: str | None) -> bool:
    """Cheap shape check before any database look-up."""
    return token is not None and token.startswith(TOKEN_PREFIX) and len(token) <= MAX_TOKEN_LENGTH


def lifetime(role: str, settings: Settings | None = None) -> timedelta:
    config = settings or get_settings()
    days = config.token_days_systems if role in SYSTEM_ROLES else config.token_days_people
    return timedelta(days=days)


def _actor_id(actor: Principal | str) -> str:
    return actor if isinstance(actor, str) else actor.user_id


def _info(row: ApiToken) -> TokenInfo:
    return TokenInfo(
        row.id, row.user_id, row.hint, row.created_at, row.expires_at, row.created_by, row.revoked_at, row.revoked_by
    )


def _active(now: datetime) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    return ApiToken.revoked_at.is_(None), ApiToken.expires_at > now


def count_active(session: Session, user_id: str, now: datetime | None = None) -> int:
    moment = now or utcnow()
    query = select(func.count()).select_from(ApiToken).where(ApiToken.user_id == user_id, *_active(moment))
    return int(session.execute(query).scalar_one())


def mint(
    session: Session,
    user_id: str,
    role: str,
    *,
    actor: Principal | str,
    settings: Settings | None = None,
    action: str = "token.issue",
    details: dict[str, object] | None = None,
) -> Minted:
    """A new token for ``user_id`` within the bound of active tokens; audited (id, expiry, who), never the token."""
    config = settings or get_settings()
    now = utcnow()
    active = count_active(session, user_id, now)
    if active >= config.max_active_tokens:
        raise TooManyTokens(
            f"the user already holds {active} active tokens (KYC_MAX_ACTIVE_TOKENS={config.max_active_tokens}): "
            "revoke one first (kyc users revoke-token NAME ID, or DELETE /v1/me/tokens/{id})"
        )
    token = new_token()
    row = ApiToken(
        user_id=user_id,
        token_hash=hash_token(token),
        created_at=now,
        expires_at=now + lifetime(role, config),
        created_by=_actor_id(actor),
        hint=token[-4:],
    )
    session.add(row)
    session.flush()
    info = _info(row)
    audit.record(
        session,
        actor=actor,
        action=action,
        object_type="user",
        object_id=user_id,
        purpose=PURPOSE,
        details={"token_id": info.id, "expires_at": info.expires_at.isoformat(), **(details or {})},
    )
    return Minted(token, info)


def find_active(session: Session, token: str, now: datetime | None = None) -> ApiToken | None:
    """The unrevoked, unexpired row of a plaintext token, or None."""
    return session.scalars(
        select(ApiToken).where(ApiToken.token_hash == hash_token(token), *_active(now or utcnow()))
    ).one_or_none()


def list_tokens(session: Session, user_id: str) -> list[TokenInfo]:
    """Every token of a user, newest first (revoked and expired ones too: they are part of the record)."""
    rows = session.scalars(select(ApiToken).where(ApiToken.user_id == user_id).order_by(ApiToken.id.desc()))
    return [_info(row) for row in rows]


def revoke(session: Session, user_id: str, token_id: int, *, actor: Principal | str, reason: str) -> TokenInfo:
    """Revoke one token of ``user_id`` by its id; audited. Revoking a revoked one is a no-op (nothing recorded)."""
    row = session.get(ApiToken, token_id, with_for_update=True)
    if row is None or row.user_id != user_id:
        raise TokenNotFound(f"token {token_id} not found")
    if row.revoked_at is None:
        _mark_revoked(row, actor)
        audit.record(
            session,
            actor=actor,
            action="token.revoke",
            object_type="user",
            object_id=user_id,
            purpose=PURPOSE,
            details={"token_id": row.id, "reason": reason},
        )
    return _info(row)


def _mark_revoked(row: ApiToken, actor: Principal | str) -> None:
    row.revoked_at, row.revoked_by = utcnow(), _actor_id(actor)


def revoke_plaintext(session: Session, token: str, *, actor: Principal | str) -> bool:
    """Revoke one token by its plaintext (e.g. one that leaked); True when it was active."""
    found = find_active(session, token)
    if found is None:
        return False
    revoke(session, found.user_id, found.id, actor=actor, reason="leaked")
    return True


def rotate(session: Session, principal: Principal, current: str) -> Minted:
    """Replace the caller's ``current`` token by a new one in one transaction (the only mint over HTTP).

    ``current`` must be an active token of the caller itself: rotation never touches anyone else's token.
    """
    found = find_active(session, current)
    if found is None or found.user_id != principal.user_id:
        raise Conflict("revoke_current: the calling token is not an active token of the calling user")
    _mark_revoked(found, principal)
    session.flush()
    return mint(
        session,
        principal.user_id,
        str(principal.role),
        actor=principal,
        action="token.rotate",
        details={"revoked_token_id": found.id},
    )


def revoke_all(session: Session, user_id: str, actor: Principal | str) -> int:
    """Revoke every active token of a user; returns how many there were (the caller audits)."""
    result = session.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=utcnow(), revoked_by=_actor_id(actor))
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def active_counts(session: Session, now: datetime | None = None) -> dict[str, int]:
    """user id -> number of active (unrevoked, unexpired) tokens."""
    rows = session.execute(
        select(ApiToken.user_id, func.count()).where(*_active(now or utcnow())).group_by(ApiToken.user_id)
    )
    return {user_id: int(count) for user_id, count in rows}


def audit_listing(session: Session, user_id: str, actor: Principal | str, tokens: Sequence[TokenInfo]) -> None:
    audit.record(
        session,
        actor=actor,
        action="token.list",
        object_type="user",
        object_id=user_id,
        purpose=PURPOSE,
        details={"returned": len(tokens)},
    )
