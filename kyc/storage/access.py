"""Who may do what, and the record of what they did: users, bearer tokens (stored hashed), the hash-chained
audit log with its head, the generations of each client's webhook signing secret (no secret stored), and the key
check that tells whether the configured keys can read the stored personal data."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    ForeignKey,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from kyc.storage.base import Base, utcnow


class User(Base):
    """A person or system with one role. Users are disabled, never deleted: audit rows keep pointing at them."""

    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    role: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(128))
    disabled_at: Mapped[datetime | None]


class ApiToken(Base):
    """A bearer token, stored only as its sha256: a database dump does not let anyone log in.

    Every token expires (``KYC_TOKEN_DAYS_PEOPLE`` / ``_SYSTEMS``); ``hint`` (its last four characters) lets its
    owner tell tokens apart in a listing without the token being recoverable."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    created_by: Mapped[str | None] = mapped_column(String(128))
    """Who minted it: ``cli:<os user>`` on the server, or the user itself rotating."""
    hint: Mapped[str | None] = mapped_column(String(8))
    revoked_at: Mapped[datetime | None]
    revoked_by: Mapped[str | None] = mapped_column(String(128))


class AuditLog(Base):
    """One audited action. Rows are chained: ``row_hash`` covers ``prev_hash`` and every field of the row.

    Ids are assigned by ``kyc.audit.record`` under a lock, contiguous from 1, so a deleted row leaves a gap the
    verifier sees; triggers refuse UPDATE and DELETE, the chain catches whoever bypasses them.
    """

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(128))
    """The user id, or ``system:<component>`` for the scheduler, workers and the CLI."""
    actor_name: Mapped[str | None] = mapped_column(String(128))
    role: Mapped[str | None] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(64), index=True)
    object_type: Mapped[str] = mapped_column(String(64))
    object_id: Mapped[str] = mapped_column(String(128))
    purpose: Mapped[str] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column()
    prev_hash: Mapped[str] = mapped_column(String(64))
    row_hash: Mapped[str] = mapped_column(String(64), unique=True)


class AuditHead(Base):
    """The single row holding the newest id and hash of the chain.

    Writing it first serialises appenders on SQLite (the write lock is taken before the chain is read) and it
    anchors the tail, so deleting the newest rows is detected too (and, should the head be moved back with them,
    by the checkpoints outside the database).
    """

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_id: Mapped[int] = mapped_column(Integer)
    last_hash: Mapped[str] = mapped_column(String(64))
    legacy_until: Mapped[int] = mapped_column(Integer, default=0)
    """Entries up to this id were written before the chain was keyed (plain SHA-256); fixed at the upgrade.

    Triggers refuse deleting the head, moving ``last_id`` back and changing this boundary; checkpoints repeat it."""


class WebhookKey(Base):
    """Which generation of a client's HKDF-derived webhook secret signs its callbacks (``kyc.webhooks``).

    No row means generation 1. Rotating bumps the generation; the previous one keeps signing next to it until
    ``previous_until`` so that the client can switch without losing callbacks. No secret is stored here.
    """

    __tablename__ = "webhook_keys"

    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    """The onboarding user's id (``screening_jobs.submitted_by``)."""
    generation: Mapped[int] = mapped_column(Integer, default=1)
    previous_generation: Mapped[int | None] = mapped_column(Integer)
    previous_until: Mapped[datetime | None]
    rotated_at: Mapped[datetime] = mapped_column(default=utcnow)
    rotated_by: Mapped[str] = mapped_column(String(128))


class KeyCheck(Base):
    """What the stored personal data needs of the keys (one row): a canary encrypted with the current encryption
    key and the fingerprints of the blind-index keys the stored indexes were built with (``kyc.keycheck``).

    Fingerprints are public names of keys (HMACs of a constant under the key), never the keys."""

    __tablename__ = "key_checks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    canary: Mapped[str] = mapped_column(Text)
    key_fingerprint: Mapped[str] = mapped_column(String(32))
    blind_fingerprints: Mapped[list[str]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
