"""Review and monitoring records (migration 0005): decisions, suppressions, authority notifications, runs.

Decisions are append-only: a hit's status is derived state, the decision rows are the evidence of who decided what,
when and why (four eyes needs both names on record). Rows hang off hits and customers with ``ON DELETE CASCADE``
so that the retention purge, which deletes jobs and customers, takes them along instead of failing on a foreign key.

The columns issue 5 adds to the screening tables (customer outcome/risk/blocking/schedule, hit suppression keys and
delisting) are declared on ``Customer`` and ``Hit`` in ``screening_models`` and created by the same migration.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kyc.storage.models import Base, utcnow


class HitDecision(Base):
    """One officer's verdict on a hit: a proposal, an approval or rejection of one, or an escalation."""

    __tablename__ = "hit_decisions"
    __table_args__ = (Index("ix_hit_decisions_hit", "hit_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    hit_id: Mapped[str] = mapped_column(ForeignKey("screening_hits.id", ondelete="CASCADE"))
    decision: Mapped[str] = mapped_column(String(16))
    """``false_positive``, ``true_match``, ``escalate``, ``approve`` or ``reject``."""
    reason: Mapped[str] = mapped_column(Text)
    user_id: Mapped[str] = mapped_column(String(64))
    user_name: Mapped[str | None] = mapped_column(String(128))
    role: Mapped[str | None] = mapped_column(String(32))
    proposal_id: Mapped[int | None] = mapped_column(Integer)
    """For ``approve``/``reject``: the proposal decided on."""
    status_before: Mapped[str] = mapped_column(String(16))
    status_after: Mapped[str] = mapped_column(String(16))
    four_eyes: Mapped[bool] = mapped_column(default=False)
    """The decision (or the proposal it answers) needed a second officer."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Suppression(Base):
    """A dismissed hit's key: the same party data against the same entry content is not raised again."""

    __tablename__ = "hit_suppressions"
    __table_args__ = (Index("ix_hit_suppressions_lookup", "customer_id", "source", "source_ref"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    party_fingerprint: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(64))
    source_ref: Mapped[str] = mapped_column(String(128))
    entry_hash: Mapped[str] = mapped_column(String(64))
    hit_id: Mapped[str | None] = mapped_column(ForeignKey("screening_hits.id", ondelete="SET NULL"))
    decision_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    lifted_at: Mapped[datetime | None]
    lifted_reason: Mapped[str | None] = mapped_column(Text)


class AuthorityNotification(Base):
    """A confirmed sanctions match that must be reported (Finland: the National Enforcement Authority)."""

    __tablename__ = "authority_notifications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    hit_id: Mapped[str | None] = mapped_column(ForeignKey("screening_hits.id", ondelete="SET NULL"))
    authority: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(64))
    source_ref: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    """``pending`` until an officer records it as ``sent`` (with the authority's reference)."""
    created_by: Mapped[str] = mapped_column(String(64))
    """The approver whose decision completed the four eyes."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
    """When it was sent, as the officer recording it says (migration 0006 added who recorded it and when)."""
    reference: Mapped[str | None] = mapped_column(String(200))
    sent_by: Mapped[str | None] = mapped_column(String(64))
    sent_by_name: Mapped[str | None] = mapped_column(String(128))
    sent_recorded_at: Mapped[datetime | None]


class MonitoringRun(Base):
    """One delta screening, full rescreen or targeted rescreen: what ran, against what, with what effect.

    ``(kind, version_id)`` is unique, so a list version is delta-screened once however many triggers fire
    (ingest task, approval, catch-up sweep).
    """

    __tablename__ = "monitoring_runs"
    __table_args__ = (UniqueConstraint("kind", "version_id", name="uq_monitoring_runs_kind_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))
    """``delta``, ``full``, ``party``, ``config`` (a rescreen after a configuration change) or ``config_set``."""
    version_id: Mapped[int | None] = mapped_column(ForeignKey("list_versions.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(16), default="running")
    config_hash: Mapped[str | None] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    parties: Mapped[int] = mapped_column(Integer, default=0)
    new_hits: Mapped[int] = mapped_column(Integer, default=0)
    reopened: Mapped[int] = mapped_column(Integer, default=0)
    delisted: Mapped[int] = mapped_column(Integer, default=0)
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
