"""Data-subject requests and the corrections they lead to.

Both reference parties by id; a correction keeps the value it replaced, because the screening that used the old
value must stay explainable for the AML retention period (AML Act 444/2017, 3:3). Both are deleted with the party."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    ForeignKey,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from kyc.storage.base import Base, utcnow


class SubjectRequest(Base):
    """One data-subject request handled by the DPO: export, correction or erasure, and what came of it."""

    __tablename__ = "subject_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))
    """``access`` (export), ``rectification`` or ``erasure``."""
    outcome: Mapped[str] = mapped_column(String(16))
    """``fulfilled``, ``refused`` or ``not_found``."""
    legal_reason: Mapped[str | None] = mapped_column(Text)
    party_ids: Mapped[dict[str, Any]] = mapped_column()
    """``{"ids": [...]}``: the parties the request covered (ids only)."""
    reference: Mapped[str | None] = mapped_column(String(128))
    """The DPO's own case reference for the request, if any."""
    handled_by: Mapped[str] = mapped_column(String(128))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    retention_until: Mapped[datetime | None]
    """For a refusal: until when the records are kept, so the DPO can tell the subject."""


class SubjectCorrection(Base):
    """One corrected field of a party: who changed it, why, and what it was (personal ids only masked)."""

    __tablename__ = "subject_corrections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    party_id: Mapped[str] = mapped_column(ForeignKey("screening_parties.id", ondelete="CASCADE"), index=True)
    field: Mapped[str] = mapped_column(String(32))
    old_value: Mapped[str | None] = mapped_column(Text)
    new_value: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    reference: Mapped[str | None] = mapped_column(String(128))
    corrected_by: Mapped[str] = mapped_column(String(128))
    corrected_at: Mapped[datetime] = mapped_column(default=utcnow)
