"""designated subjects and cases: listing keys, subjects, listings, cases and their record, PEP approvals

Revision ID: 0009_cases
Revises: 0008_security
Create Date: 2026-12-03

* ``listing_keys`` / ``listing_key_versions``: linking keys per list version; versions ingested before the upgrade
  get theirs when links are next recomputed (the next ingestion, or ``kyc lists relink``).
* ``designated_subjects`` / ``listings``: the links over the active versions.
* ``cases`` (+ ``case_decisions``, ``case_comments``, ``case_events``) and ``screening_hits.case_id``: every
  existing hit is put in a case of its party and entry here (``entry:<source>:<source_ref>``); the next
  recomputation of links merges the cases of entries that designate the same subject.
* ``pep_approvals``; ``customers.designation_basis``, ``edd_required``, ``refused_reason``.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0009_cases"
down_revision = "0008_security"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def _tables() -> None:
    op.create_table(
        "listing_keys",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("version_id", sa.Integer, sa.ForeignKey("list_versions.id", ondelete="CASCADE"), nullable=False),
        sa.Column("source_ref", sa.String(128), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
    )
    op.create_index("ix_listing_keys_version", "listing_keys", ["version_id"])
    op.create_table(
        "listing_key_versions",
        sa.Column("version_id", sa.Integer, sa.ForeignKey("list_versions.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("keys", sa.Integer, nullable=False),
        sa.Column("computed_at", TS, nullable=False),
    )
    op.create_table(
        "designated_subjects",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(200), nullable=False, unique=True),
        sa.Column("schema", sa.String(32), nullable=False),
        sa.Column("name", sa.String(1000), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_table(
        "listings",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "subject_id", sa.Integer, sa.ForeignKey("designated_subjects.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("source_ref", sa.String(128), nullable=False),
        sa.Column("version_id", sa.Integer, sa.ForeignKey("list_versions.id", ondelete="CASCADE"), nullable=False),
        sa.Column("basis", sa.JSON, nullable=False),
        sa.Column("linked_at", TS, nullable=False),
        sa.UniqueConstraint("source", "source_ref", name="uq_listings_source_ref"),
    )
    op.create_index("ix_listings_subject", "listings", ["subject_id"])
    op.create_table(
        "cases",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("customer_id", sa.String(36), sa.ForeignKey("customers.id", ondelete="CASCADE"), nullable=False),
        sa.Column("job_id", sa.String(36), sa.ForeignKey("screening_jobs.id", ondelete="CASCADE"), nullable=False),
        sa.Column("party_id", sa.String(36), sa.ForeignKey("screening_parties.id", ondelete="CASCADE"), nullable=False),
        sa.Column("subject_key", sa.String(200), nullable=False),
        sa.Column("basis", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("priority", sa.String(8), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("verdict", sa.String(16), nullable=True),
        sa.Column("sources", sa.JSON, nullable=False),
        sa.Column("source_filter", sa.String(400), nullable=False),
        sa.Column("top_score", sa.Float, nullable=False),
        sa.Column("assignee_id", sa.String(64), nullable=True),
        sa.Column("assignee_name", sa.String(128), nullable=True),
        sa.Column("details", sa.JSON, nullable=True),
        sa.Column("reopen_reason", sa.Text, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("opened_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("closed_at", TS, nullable=True),
        sa.Column("reopened_at", TS, nullable=True),
        sa.UniqueConstraint("party_id", "subject_key", name="uq_cases_party_subject"),
    )
    op.create_index("ix_cases_queue", "cases", ["status", "priority", "opened_at"])
    waiting = sa.text("status <> 'closed'")
    op.create_index(
        "ix_cases_waiting",
        "cases",
        ["priority", "opened_at", "id"],
        postgresql_where=waiting,
        sqlite_where=waiting,
    )
    op.create_index("ix_cases_customer", "cases", ["customer_id"])
    op.create_index("ix_cases_assignee", "cases", ["assignee_id", "status"])
    op.create_index("ix_cases_job_id", "cases", ["job_id"])
    for name, columns in (
        (
            "case_decisions",
            [
                sa.Column("decision", sa.String(16), nullable=False),
                sa.Column("reason", sa.Text, nullable=False),
                sa.Column("user_id", sa.String(64), nullable=False),
                sa.Column("user_name", sa.String(128), nullable=True),
                sa.Column("role", sa.String(32), nullable=True),
                sa.Column("status_before", sa.String(16), nullable=False),
                sa.Column("status_after", sa.String(16), nullable=False),
                sa.Column("four_eyes", sa.Boolean, nullable=False),
                sa.Column("hit_ids", sa.JSON, nullable=False),
            ],
        ),
        (
            "case_comments",
            [
                sa.Column("user_id", sa.String(64), nullable=False),
                sa.Column("user_name", sa.String(128), nullable=True),
                sa.Column("text", sa.Text, nullable=False),
            ],
        ),
        (
            "case_events",
            [
                sa.Column("action", sa.String(32), nullable=False),
                sa.Column("actor", sa.String(128), nullable=False),
                sa.Column("details", sa.JSON, nullable=True),
            ],
        ),
    ):
        op.create_table(
            name,
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("case_id", sa.String(36), sa.ForeignKey("cases.id", ondelete="CASCADE"), nullable=False),
            *columns,
            sa.Column("created_at", TS, nullable=False),
        )
        op.create_index(f"ix_{name}_case", name, ["case_id", "id"])
    op.create_table(
        "pep_approvals",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("customer_id", sa.String(36), sa.ForeignKey("customers.id", ondelete="CASCADE"), nullable=False),
        sa.Column("job_id", sa.String(36), sa.ForeignKey("screening_jobs.id", ondelete="CASCADE"), nullable=False),
        sa.Column("party_id", sa.String(36), sa.ForeignKey("screening_parties.id", ondelete="CASCADE"), nullable=False),
        sa.Column("person_key", sa.String(128), nullable=False),
        sa.Column("pep_kind", sa.String(16), nullable=False),
        sa.Column("basis", sa.JSON, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("requested_at", TS, nullable=False),
        sa.Column("decided_by", sa.String(64), nullable=True),
        sa.Column("decided_by_name", sa.String(128), nullable=True),
        sa.Column("decided_at", TS, nullable=True),
        sa.Column("reason", sa.Text, nullable=True),
    )
    op.create_index("ix_pep_approvals_status", "pep_approvals", ["status", "id"])
    op.create_index("ix_pep_approvals_customer_id", "pep_approvals", ["customer_id"])


_PENDING = {"open", "proposed", "escalated"}


def _status(statuses: set[str]) -> tuple[str, str | None]:
    if "open" in statuses:
        return "open", None
    if "escalated" in statuses:
        return "escalated", None
    if "proposed" in statuses:
        return "proposed", None
    if "confirmed" in statuses:
        return "closed", "true_match"
    if statuses & {"dismissed", "suppressed"}:
        return "closed", "false_positive"
    return "closed", "delisted"


def _backfill() -> None:
    """Every existing hit in a case of its party and entry (subjects merge them when links are next computed)."""
    bind = op.get_bind()
    hits_t = sa.table(
        "screening_hits",
        *(sa.column(n) for n in ("id", "party_id", "job_id", "source", "source_ref", "status", "priority", "kind")),
        sa.column("score", sa.Float),
        sa.column("created_at", TS),
    )
    jobs_t = sa.table("screening_jobs", sa.column("id"), sa.column("customer_id"))
    rows = bind.execute(sa.select(hits_t, jobs_t.c.customer_id).join(jobs_t, jobs_t.c.id == hits_t.c.job_id)).all()
    groups: dict[tuple[str, str], list[Any]] = defaultdict(list)
    for row in rows:
        groups[(row.party_id, f"entry:{row.source}:{row.source_ref}")].append(row)
    now = datetime.now(UTC)
    cases = sa.table(
        "cases",
        *(
            sa.column(name)
            for name in (
                "id",
                "customer_id",
                "job_id",
                "party_id",
                "subject_key",
                "basis",
                "kind",
                "priority",
                "status",
                "verdict",
                "source_filter",
            )
        ),
        sa.column("sources", sa.JSON),
        sa.column("top_score", sa.Float),
        *(sa.column(name, TS) for name in ("created_at", "opened_at", "updated_at", "closed_at")),
    )
    hits = sa.table("screening_hits", sa.column("id"), sa.column("case_id"))
    for (party_id, key), members in groups.items():
        case_id = str(uuid.uuid4())
        status, verdict = _status({m.status for m in members})
        first = min(m.created_at for m in members)
        source = members[0].source
        bind.execute(
            cases.insert().values(
                id=case_id,
                customer_id=members[0].customer_id,
                job_id=members[0].job_id,
                party_id=party_id,
                subject_key=key,
                basis="listing",
                kind=members[0].kind,
                priority="high" if any(m.priority == "high" for m in members) else "normal",
                status=status,
                verdict=verdict,
                sources=[source],
                source_filter=f"|{source}|",
                top_score=max(float(m.score) for m in members),
                created_at=first,
                opened_at=first,
                updated_at=now,
                closed_at=now if status == "closed" else None,
            )
        )
        bind.execute(hits.update().where(hits.c.id.in_([m.id for m in members])).values(case_id=case_id))


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def upgrade() -> None:
    _tables()
    # Plain ALTER TABLE on both databases: a batch "move and copy" of screening_hits or customers on SQLite would
    # drop the old table, and with foreign keys on that deletes the rows hanging off it (decisions, jobs).
    if _sqlite():
        op.execute("ALTER TABLE screening_hits ADD COLUMN case_id VARCHAR(36) REFERENCES cases(id) ON DELETE SET NULL")
    else:
        op.add_column("screening_hits", sa.Column("case_id", sa.String(36), nullable=True))
        op.create_foreign_key(
            "fk_screening_hits_case", "screening_hits", "cases", ["case_id"], ["id"], ondelete="SET NULL"
        )
    op.create_index("ix_screening_hits_case_id", "screening_hits", ["case_id"])
    op.add_column("customers", sa.Column("designation_basis", sa.String(200), nullable=True))
    op.add_column("customers", sa.Column("edd_required", sa.Boolean, nullable=False, server_default=sa.false()))
    op.add_column("customers", sa.Column("refused_reason", sa.Text, nullable=True))
    _backfill()


def downgrade() -> None:
    op.drop_index("ix_screening_hits_case_id", table_name="screening_hits")
    if _sqlite():  # SQLite 3.35+ drops columns in place (a batch copy would cascade-delete dependent rows)
        for table, column in (
            ("customers", "refused_reason"),
            ("customers", "edd_required"),
            ("customers", "designation_basis"),
        ):
            op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
    else:
        op.drop_constraint("fk_screening_hits_case", "screening_hits", type_="foreignkey")
        op.drop_column("screening_hits", "case_id")
        for column in ("refused_reason", "edd_required", "designation_basis"):
            op.drop_column("customers", column)
    for name in (
        "pep_approvals",
        "case_events",
        "case_comments",
        "case_decisions",
        "cases",
        "listings",
        "designated_subjects",
        "listing_key_versions",
        "listing_keys",
    ):
        op.drop_table(name)
    if _sqlite():
        op.execute("ALTER TABLE screening_hits DROP COLUMN case_id")
