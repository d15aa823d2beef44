"""Designated subjects and cases: the same person, organisation or vessel across lists, and what officers decide.

* ``listing_keys`` — the linking keys of every entry of a list version (UN reference, strong identifiers), computed
  once per version, so links are reproducible from the versions alone;
* ``designated_subjects`` / ``listings`` — the current links over the active versions (recomputed when a version
  becomes active), one listing row per linked entry;
* ``cases`` — one party against one subject (or one unlinked entry), or a customer owned or controlled by listed
  persons; ``case_decisions``, ``case_comments`` and ``case_events`` are its record;
* ``pep_approvals`` — senior management's approval of a relationship with a PEP, family member or close associate.

Case rows hang off customers and parties with ``ON DELETE CASCADE`` so that the retention purge takes them along.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from kyc.storage.base import Base, new_id, utcnow


class ListingKey(Base):
    """One linking key of one entry of one list version (``un:QDi.430``, ``passport:KP:563120356``, ``imo:…``)."""

    __tablename__ = "listing_keys"
    __table_args__ = (Index("ix_listing_keys_version", "version_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("list_versions.id", ondelete="CASCADE"))
    source_ref: Mapped[str] = mapped_column(String(128))
    key: Mapped[str] = mapped_column(String(200))


class KeyedVersion(Base):
    """A list version whose keys were computed (a version with no linkable entry has no key rows, but has this)."""

    __tablename__ = "listing_key_versions"

    version_id: Mapped[int] = mapped_column(ForeignKey("list_versions.id", ondelete="CASCADE"), primary_key=True)
    keys: Mapped[int] = mapped_column(Integer, default=0)
    computed_at: Mapped[datetime] = mapped_column(default=utcnow)


class DesignatedSubject(Base):
    """One designated person, organisation or vessel listed by more than one source (or twice by one)."""

    __tablename__ = "designated_subjects"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    """The component's preferred key (its UN reference when it has one): stable while the links hold."""
    schema: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(1000))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Listing(Base):
    """An active entry linked to a subject, and the keys that link it."""

    __tablename__ = "listings"
    __table_args__ = (
        UniqueConstraint("source", "source_ref", name="uq_listings_source_ref"),
        Index("ix_listings_subject", "subject_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("designated_subjects.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(String(64))
    source_ref: Mapped[str] = mapped_column(String(128))
    version_id: Mapped[int] = mapped_column(ForeignKey("list_versions.id", ondelete="CASCADE"))
    basis: Mapped[list[str]] = mapped_column(JSON)
    """The keys this entry shares with other listings of the subject."""
    linked_at: Mapped[datetime] = mapped_column(default=utcnow)


class Case(Base):
    """One party against one subject (``subject_key``), holding that party's hits on every listing of it.

    ``basis`` is ``listing`` for a case of hits, ``ownership`` for a customer owned or controlled by listed persons
    (no hits of its own: ``details`` names the parties and shares). The status is derived from the hits
    (``kyc.cases``) or, for an ownership case, from its decisions.
    """

    __tablename__ = "cases"
    __table_args__ = (
        UniqueConstraint("party_id", "subject_key", name="uq_cases_party_subject"),
        Index("ix_cases_queue", "status", "priority", "opened_at"),
        Index(
            "ix_cases_waiting",
            "priority",
            "opened_at",
            "id",
            postgresql_where=text("status <> 'closed'"),
            sqlite_where=text("status <> 'closed'"),
        ),
        Index("ix_cases_customer", "customer_id"),
        Index("ix_cases_assignee", "assignee_id", "status"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    job_id: Mapped[str] = mapped_column(ForeignKey("screening_jobs.id", ondelete="CASCADE"), index=True)
    party_id: Mapped[str] = mapped_column(ForeignKey("screening_parties.id", ondelete="CASCADE"))
    subject_key: Mapped[str] = mapped_column(String(200))
    """``subject:<key>`` of a designated subject, ``entry:<source>:<source_ref>`` of an unlinked entry, or
    ``ownership`` for the ownership-and-control case of a customer."""
    basis: Mapped[str] = mapped_column(String(16), default="listing")
    kind: Mapped[str] = mapped_column(String(16), default="sanction")
    priority: Mapped[str] = mapped_column(String(8), default="normal")
    status: Mapped[str] = mapped_column(String(16), default="open")
    """``open``, ``in_review``, ``proposed``, ``escalated`` or ``closed`` (with ``verdict``)."""
    verdict: Mapped[str | None] = mapped_column(String(16))
    """For a closed case: ``true_match``, ``false_positive`` or ``delisted``."""
    sources: Mapped[list[str]] = mapped_column(JSON, default=list)
    """The sources of its hits (the queue filters on them)."""
    source_filter: Mapped[str] = mapped_column(String(400), default="")
    """``|un_sc|uk_ofsi|`` — the sources as one string, so ``source=`` is an indexable LIKE on every database."""
    top_score: Mapped[float] = mapped_column(default=0.0)
    assignee_id: Mapped[str | None] = mapped_column(String(64))
    assignee_name: Mapped[str | None] = mapped_column(String(128))
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    reopen_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    """When it last started waiting for an officer (creation or reopening): the SLA counts from here."""
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None]
    reopened_at: Mapped[datetime | None]


class CaseDecision(Base):
    """One officer's verdict on a case (its hits keep their own decision rows as well)."""

    __tablename__ = "case_decisions"
    __table_args__ = (Index("ix_case_decisions_case", "case_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    decision: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    user_id: Mapped[str] = mapped_column(String(64))
    user_name: Mapped[str | None] = mapped_column(String(128))
    role: Mapped[str | None] = mapped_column(String(32))
    status_before: Mapped[str] = mapped_column(String(16))
    status_after: Mapped[str] = mapped_column(String(16))
    four_eyes: Mapped[bool] = mapped_column(default=False)
    hit_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CaseComment(Base):
    __tablename__ = "case_comments"
    __table_args__ = (Index("ix_case_comments_case", "case_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(String(64))
    user_name: Mapped[str | None] = mapped_column(String(128))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CaseEvent(Base):
    """The case's history: opened, hit added, reopened (with the reason), assigned, decided, closed."""

    __tablename__ = "case_events"
    __table_args__ = (Index("ix_case_events_case", "case_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    action: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(128))
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PepApproval(Base):
    """Senior management's approval of a relationship with a PEP, family member or close associate."""

    __tablename__ = "pep_approvals"
    __table_args__ = (Index("ix_pep_approvals_status", "status", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("screening_jobs.id", ondelete="CASCADE"))
    party_id: Mapped[str] = mapped_column(ForeignKey("screening_parties.id", ondelete="CASCADE"))
    person_key: Mapped[str] = mapped_column(String(128))
    """The person across screenings of the customer (blind index of the identity code, or name and birth date):
    an approval holds for later screenings of the same person."""
    pep_kind: Mapped[str] = mapped_column(String(16))
    basis: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default="requested")
    """``requested``, ``approved`` or ``refused``."""
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_by_name: Mapped[str | None] = mapped_column(String(128))
    decided_at: Mapped[datetime | None]
    reason: Mapped[str | None] = mapped_column(Text)
