"""People logging in to the workbench: password and second factor per user, server-side browser sessions (so an
administrator can revoke them), and which officer has claimed which hit for review."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from kyc.storage.base import Base, utcnow


class Credential(Base):
    """A person's password (argon2id hash) and TOTP secret (encrypted like identity codes), with the count of
    consecutive failed logins that drives backoff and lockout. Systems have no row: they use bearer tokens."""

    __tablename__ = "credentials"

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), primary_key=True)
    password_hash: Mapped[str | None] = mapped_column(String(256))
    password_set_at: Mapped[datetime | None]
    totp_secret: Mapped[str | None] = mapped_column(Text)
    """Fernet-encrypted base32 secret; confirmed once the user entered a code from it (``totp_confirmed_at``)."""
    totp_confirmed_at: Mapped[datetime | None]
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    last_failed_at: Mapped[datetime | None]
    locked_until: Mapped[datetime | None]
    language: Mapped[str | None] = mapped_column(String(8))
    """The workbench language the person chose (``en``, ``fi``)."""
    last_totp_step: Mapped[int | None] = mapped_column(Integer)
    """The TOTP time step last accepted: a code is good for one login only (no replay within its 30 s)."""


class WebSession(Base):
    """A browser session: the cookie holds a random token, the database only its sha256. Ends at ``expires_at``
    (absolute), after the idle timeout since ``last_seen_at``, at logout or when revoked."""

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    csrf_token: Mapped[str] = mapped_column(String(64))
    second_factor: Mapped[bool] = mapped_column(Boolean, default=False)
    """False while a person who must use TOTP has only given the password (enrolment or code still due)."""
    revoked_at: Mapped[datetime | None]
    revoked_reason: Mapped[str | None] = mapped_column(String(32))
