"""Tables for lifting an asset-freeze block (four eyes) and for per-client webhook secrets (migration 0006).

Kept in their own module, like ``access_models``, so that engineers adding tables concurrently do not edit the same
file; all share ``Base`` so that one metadata describes the whole schema.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from kyc.storage.models import Base, utcnow


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
    """``delisted`` or ``confirmed_in_error`` (see ``kyc.review.LiftGround``; a licence is no ground: the person
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
