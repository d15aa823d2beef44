"""Hits and what officers do with them: decisions (append-only evidence of who decided what, when and why),
suppressions of dismissed hits, authority notifications of confirmed sanctions matches and block lifts.

A hit's status is derived state; the decision rows are the record. Rows hang off hits and customers with
``ON DELETE CASCADE`` so that the retention purge, which deletes jobs and customers, takes them along."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    JSON,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kyc.storage.base import Base, new_id, utcnow

if TYPE_CHECKING:
    from kyc.storage.jobs import ScreeningJob  # relationship target; both modules are loaded by the package


class Hit(Base):
    """A party matched to a list entry, with everything needed to replay and explain it."""

    __tablename__ = "screening_hits"
    __table_args__ = (
        Index("ix_screening_hits_status", "status"),
        Index("ix_screening_hits_queue", "priority", "created_at", "id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    job_id: Mapped[str] = mapped_column(ForeignKey("screening_jobs.id", ondelete="CASCADE"), index=True)
    party_id: Mapped[str] = mapped_column(ForeignKey("screening_parties.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(64))
    source_ref: Mapped[str] = mapped_column(String(128))
    version_id: Mapped[int | None] = mapped_column(Integer)
    schema: Mapped[str] = mapped_column(String(32))
    score: Mapped[float] = mapped_column(Float)
    matched_name: Mapped[str] = mapped_column(String(1000))
    query_name: Mapped[str] = mapped_column(String(1000))
    explanation: Mapped[dict[str, Any]] = mapped_column(JSON)
    topics: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    """``{"topics": [...]}`` of the entry (``sanction``, ``role.pep``…)."""
    kind: Mapped[str] = mapped_column(String(16))
    """``sanction`` or ``pep`` (or ``other``): drives priority and PEP classification."""
    priority: Mapped[str] = mapped_column(String(8), default="normal")
    status: Mapped[str] = mapped_column(String(16), default="open")
    engine_version: Mapped[str] = mapped_column(String(64))
    config_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Review and monitoring state
    party_fingerprint: Mapped[str | None] = mapped_column(String(64))
    """Suppression key, party side: digest of the screened party data (``kyc.suppression.party_fingerprint``)."""
    entry_hash: Mapped[str | None] = mapped_column(String(64))
    """Suppression key, list side: the entry's content hash when the hit was raised or last re-checked."""
    origin: Mapped[str | None] = mapped_column(String(16))
    """What raised it: None (the job's own screening), ``delta``, ``full``, ``party`` or ``config``."""
    updated_at: Mapped[datetime | None]
    delisted_at: Mapped[datetime | None]
    reopened_at: Mapped[datetime | None]
    reopen_reason: Mapped[str | None] = mapped_column(Text)
    case_id: Mapped[str | None] = mapped_column(ForeignKey("cases.id", ondelete="SET NULL"), index=True)
    """The case it belongs to: its party against the entry's designated subject (``kyc.cases``)."""

    job: Mapped[ScreeningJob] = relationship(back_populates="hits")


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


class BlockLift(Base):
    """A request to lift a customer's block and its second officer's answer (``kyc.review.request_block_lift``).

    ``requested`` until an approver other than the requester approves (the block is lifted in the same
    transaction) or rejects it. Rows stay as evidence; they go with the customer when retention deletes it.
    """

    __tablename__ = "block_lifts"
    __table_args__ = (Index("ix_block_lifts_customer", "customer_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    ground: Mapped[str] = mapped_column(String(32))
    """``delisted`` or ``confirmed_in_error`` (see ``kyc.review.blocks.LiftGround``; a licence is no ground: the person
    stays listed and the customer stays blocked)."""
    reason: Mapped[str] = mapped_column(Text)
    reference: Mapped[str | None] = mapped_column(String(200))
    """An optional reference for the request (the delisting notice, the case file)."""
    status: Mapped[str] = mapped_column(String(16), default="requested")
    requested_by: Mapped[str] = mapped_column(String(64))
    requested_by_name: Mapped[str | None] = mapped_column(String(128))
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    blocked_at: Mapped[datetime | None]
    """The block this request is about (a later block needs a new request)."""
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_by_name: Mapped[str | None] = mapped_column(String(128))
    decided_at: Mapped[datetime | None]
    decision_reason: Mapped[str | None] = mapped_column(Text)
