"""Customers, their screening jobs and parties, webhook deliveries and the purge log.

Every record that holds personal data carries ``purpose``, ``legal_basis`` and ``retention_until`` so that the
purge task and a data protection officer can answer "why is this kept, and until when" from the row alone.
Personal identity codes are never stored in clear: ciphertext plus a keyed blind index for look-ups plus a mask
for display. Ids that leave the system (jobs, hits) are random UUID strings, not guessable sequences."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kyc.storage.base import Base, new_id, utcnow

if TYPE_CHECKING:
    from kyc.storage.hits import Hit  # relationship target; both modules are loaded by the package

PURPOSE = "AML/CFT customer due diligence and sanctions compliance"


LEGAL_BASIS = "GDPR Art. 6(1)(c); Finnish AML Act 444/2017, chapter 3"


class Customer(Base):
    """A business customer; the unit of retention (its relationship's end starts the retention period)."""

    __tablename__ = "customers"
    __table_args__ = (
        Index("ix_customers_client_business", "client_id", "business_id"),
        Index("ix_customers_client_registration", "client_id", "registration", "country"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    client_id: Mapped[str | None] = mapped_column(String(64))
    """The onboarding client (its user id) whose submission created this record, migration 0007. A submission finds
    and updates only its own client's customers: another client's record for the same company is left alone."""
    name: Mapped[str] = mapped_column(String(500))
    business_id: Mapped[str | None] = mapped_column(String(32), index=True)
    """Finnish Y-tunnus, normalised ``1234567-1``."""
    registration: Mapped[str | None] = mapped_column(String(64))
    """A foreign registration number when there is no Y-tunnus."""
    country: Mapped[str] = mapped_column(String(2))
    client_reference: Mapped[str | None] = mapped_column(String(128), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    relationship_ended_at: Mapped[datetime | None]
    purpose: Mapped[str] = mapped_column(String(200), default=PURPOSE)
    legal_basis: Mapped[str] = mapped_column(String(200), default=LEGAL_BASIS)
    retention_until: Mapped[datetime] = mapped_column(index=True)
    legal_hold: Mapped[bool] = mapped_column(Boolean, default=False)
    # Review and monitoring state (set by the review and monitoring modules)
    risk: Mapped[str] = mapped_column(String(8), default="medium")
    """``low``, ``medium`` or ``high``: sets how often the full rescreen comes round."""
    outcome: Mapped[str | None] = mapped_column(String(16))
    """The outcome of the customer's current screening (its latest completed job), after decisions."""
    blocked_at: Mapped[datetime | None]
    """Set when officers confirm a sanctions match (four eyes); never automatically."""
    next_rescreen_at: Mapped[datetime | None] = mapped_column(index=True)
    last_rescreened_at: Mapped[datetime | None]
    designation_basis: Mapped[str | None] = mapped_column(String(200))
    """Set when officers confirm that listed persons own or control the customer (``kyc.ownership``)."""
    edd_required: Mapped[bool] = mapped_column(Boolean, default=False)
    """A PEP relationship awaits (or has) senior management's approval: enhanced due diligence applies."""
    refused_reason: Mapped[str | None] = mapped_column(Text)
    """Why onboarding was ended (senior management refused a PEP relationship)."""

    jobs: Mapped[list[ScreeningJob]] = relationship(back_populates="customer", cascade="all, delete-orphan")


class ScreeningJob(Base):
    """One screening request. The row is the source of truth: the broker message is only a wake-up call."""

    __tablename__ = "screening_jobs"
    __table_args__ = (
        UniqueConstraint("submitted_by", "idempotency_key", name="uq_screening_jobs_idempotency"),
        Index("ix_screening_jobs_status_updated", "status", "updated_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    """``queued``, ``running``, ``completed`` or ``failed``."""
    outcome: Mapped[str | None] = mapped_column(String(16))
    """``clear``, ``review`` or ``match`` (``match`` only ever from an officer's decision)."""
    edd_required: Mapped[bool] = mapped_column(Boolean, default=False)
    client_reference: Mapped[str | None] = mapped_column(String(128))
    callback_url: Mapped[str | None] = mapped_column(String(2048))
    idempotency_key: Mapped[str] = mapped_column(String(200))
    request_hash: Mapped[str] = mapped_column(String(64))
    submitted_by: Mapped[str] = mapped_column(String(64))
    """The principal's user id; idempotency keys are scoped per submitter."""
    trigger: Mapped[str] = mapped_column(String(32), default="onboarding")
    purpose: Mapped[str] = mapped_column(String(200), default=PURPOSE)
    legal_basis: Mapped[str] = mapped_column(String(200), default=LEGAL_BASIS)
    list_versions: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    """source → list version id used for this screening."""
    engine_version: Mapped[str | None] = mapped_column(String(64))
    config_hash: Mapped[str | None] = mapped_column(String(64))
    retention_until: Mapped[datetime] = mapped_column(index=True)
    legal_hold: Mapped[bool] = mapped_column(Boolean, default=False)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    enqueued_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]

    customer: Mapped[Customer] = relationship(back_populates="jobs")
    parties: Mapped[list[Party]] = relationship(
        back_populates="job", cascade="all, delete-orphan", order_by="Party.position"
    )
    hits: Mapped[list[Hit]] = relationship(back_populates="job", cascade="all, delete-orphan", order_by="Hit.position")


class Party(Base):
    """Someone screened in a job: the customer organisation or one of its persons with a role."""

    __tablename__ = "screening_parties"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    job_id: Mapped[str] = mapped_column(ForeignKey("screening_jobs.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    """Order in the request; ``persons[i]`` is position ``i + 1``, the customer is 0."""
    role: Mapped[str] = mapped_column(String(32))
    """``customer``, ``representative``, ``responsible_person`` or ``beneficial_owner``."""
    schema: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(500))
    birth_date: Mapped[str | None] = mapped_column(String(10))
    nationality: Mapped[str | None] = mapped_column(String(2))
    country: Mapped[str | None] = mapped_column(String(2))
    business_id: Mapped[str | None] = mapped_column(String(32))
    registration: Mapped[str | None] = mapped_column(String(64))
    personal_id_encrypted: Mapped[str | None] = mapped_column(Text)
    personal_id_index: Mapped[str | None] = mapped_column(String(128), index=True)
    personal_id_masked: Mapped[str | None] = mapped_column(String(32))
    ownership: Mapped[float | None] = mapped_column(Float)
    declared_pep: Mapped[bool] = mapped_column(Boolean, default=False)
    pep_status: Mapped[str | None] = mapped_column(String(16))
    """``pep``, ``family``, ``associate`` or None."""
    pep_basis: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    edd_required: Mapped[bool] = mapped_column(Boolean, default=False)

    job: Mapped[ScreeningJob] = relationship(back_populates="parties")


class WebhookDelivery(Base):
    """One attempt to deliver a job's completion callback (a retry is a new row)."""

    __tablename__ = "webhook_deliveries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    delivery_id: Mapped[str] = mapped_column(String(36), index=True)
    """Stable across the retries of one notification: receivers de-duplicate on it."""
    job_id: Mapped[str] = mapped_column(ForeignKey("screening_jobs.id", ondelete="CASCADE"), index=True)
    attempt: Mapped[int] = mapped_column(Integer)
    url: Mapped[str] = mapped_column(String(2048))
    status: Mapped[str] = mapped_column(String(16))
    """``delivered``, ``failed`` (will retry), ``abandoned``, or ``queued`` (attempt 0: re-sent by the sweeper)."""
    response_status: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    attempted_at: Mapped[datetime] = mapped_column(default=utcnow)
    duration_ms: Mapped[float | None] = mapped_column(Float)


class PurgeLog(Base):
    """What the retention purge deleted: ids and counts only, never personal data."""

    __tablename__ = "purge_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[str] = mapped_column(String(36))
    retention_until: Mapped[datetime]
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON)
