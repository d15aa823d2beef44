"""Bearer tokens: how they are made, stored, found and revoked.

A token is ``kyc_`` plus 32 random bytes from ``secrets``; only its sha256 is stored, so the plaintext is shown once
and a database dump does not let anyone log in. Who may hold a token for whom is decided in ``kyc.access``; this
module only keeps the token rows.
"""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from kyc.storage.access import ApiToken
from kyc.storage.base import utcnow

TOKEN_PREFIX = "kyc_"  # noqa: S105 (a public marker, not a secret)
MAX_TOKEN_LENGTH = 256


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def looks_like_token(token: str | None) -> bool:
    """Cheap shape check before any database look-up."""
    return bool(token) and token is not None and token.startswith(TOKEN_PREFIX) and len(token) <= MAX_TOKEN_LENGTH


def store_token(session: Session, user_id: str) -> str:
    """A new token for ``user_id``; the plaintext is returned here and nowhere else."""
    token = new_token()
    session.add(ApiToken(user_id=user_id, token_hash=hash_token(token)))
    session.flush()
    return token


def find_active(session: Session, token: str) -> ApiToken | None:
    """The unrevoked row of a plaintext token, or None."""
    return session.scalars(
        select(ApiToken).where(ApiToken.token_hash == hash_token(token), ApiToken.revoked_at.is_(None))
    ).one_or_none()


def revoke_all(session: Session, user_id: str) -> int:
    """Revoke every active token of a user; returns how many there were."""
    result = session.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def active_counts(session: Session) -> dict[str, int]:
    """user id -> number of active tokens."""
    counts: dict[str, int] = {}
    for user_id in session.scalars(select(ApiToken.user_id).where(ApiToken.revoked_at.is_(None))):
        counts[user_id] = counts.get(user_id, 0) + 1
    return counts
