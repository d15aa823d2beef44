"""Official lists: one row per source, its ingested versions with their raw files, entries and diffs, and every
fetch attempt. A version keeps its raw bytes so that any past screening can be reproduced."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kyc.storage.base import Base, utcnow


class ListSource(Base):
    """One row per official source: which version is active and how the last fetch went.

    The active pointer lives here so that activating a version is one row update inside the ingest
    transaction, and a failed download is visible as staleness without touching the active version.
    """

    __tablename__ = "list_sources"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    active_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("list_versions.id", use_alter=True, name="fk_list_sources_active_version")
    )
    etag: Mapped[str | None] = mapped_column(String(512))
    last_modified: Mapped[str | None] = mapped_column(String(128))
    last_checked_at: Mapped[datetime | None]
    last_success_at: Mapped[datetime | None]
    last_outcome: Mapped[str | None] = mapped_column(String(32))
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[datetime | None]


class ListVersion(Base):
    """One ingested file (or file set) of a source, kept with its raw bytes so screenings can be replayed."""

    __tablename__ = "list_versions"
    __table_args__ = (Index("ix_list_versions_source_sha", "source", "sha256"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(16), default="active")
    """``active``, ``superseded`` or ``pending`` (awaiting a second user's approval, fi_national)."""
    sha256: Mapped[str] = mapped_column(String(64))
    fetched_at: Mapped[datetime] = mapped_column(default=utcnow)
    published_at: Mapped[datetime | None]
    activated_at: Mapped[datetime | None]
    entry_count: Mapped[int] = mapped_column(Integer)
    parser_version: Mapped[str] = mapped_column(String(32))
    file_format: Mapped[str] = mapped_column(String(64))
    origin: Mapped[str] = mapped_column(Text)
    """The URL or local paths the bytes came from."""
    previous_version_id: Mapped[int | None] = mapped_column(ForeignKey("list_versions.id"))
    added_count: Mapped[int] = mapped_column(Integer, default=0)
    removed_count: Mapped[int] = mapped_column(Integer, default=0)
    changed_count: Mapped[int] = mapped_column(Integer, default=0)
    created_by: Mapped[str | None] = mapped_column(String(128))
    approved_by: Mapped[str | None] = mapped_column(String(128))
    approved_at: Mapped[datetime | None]

    files: Mapped[list[ListVersionFile]] = relationship(back_populates="version", cascade="all, delete-orphan")


class ListVersionFile(Base):
    __tablename__ = "list_version_files"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("list_versions.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(512))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    compression: Mapped[str] = mapped_column(String(16), default="lzma")
    data: Mapped[bytes] = mapped_column(LargeBinary)

    version: Mapped[ListVersion] = relationship(back_populates="files")


class ListEntry(Base):
    """An entry as stored in one version; ``data`` is ``kyc.entry.Entry.to_data()``."""

    __tablename__ = "list_entries"
    __table_args__ = (UniqueConstraint("version_id", "source_ref", name="uq_list_entries_version_ref"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("list_versions.id", ondelete="CASCADE"), index=True)
    source_ref: Mapped[str] = mapped_column(String(128))
    schema: Mapped[str] = mapped_column(String(32))
    content_hash: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)


class ListChange(Base):
    """The diff of a version against the one it replaced: what delta screening reads."""

    __tablename__ = "list_changes"
    __table_args__ = (Index("ix_list_changes_version", "version_id", "change"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("list_versions.id", ondelete="CASCADE"))
    source_ref: Mapped[str] = mapped_column(String(128))
    change: Mapped[str] = mapped_column(String(16))
    """``added``, ``removed`` or ``changed``."""
    old_hash: Mapped[str | None] = mapped_column(String(64))
    new_hash: Mapped[str | None] = mapped_column(String(64))


class FetchLog(Base):
    """Every ingestion attempt, successful or not: the history behind ``kyc lists status``."""

    __tablename__ = "list_fetch_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    outcome: Mapped[str] = mapped_column(String(32))
    """``stored``, ``unchanged``, ``not_modified``, ``rejected``, ``failed``."""
    origin: Mapped[str | None] = mapped_column(Text)
    message: Mapped[str | None] = mapped_column(Text)
    version_id: Mapped[int | None] = mapped_column(ForeignKey("list_versions.id", ondelete="SET NULL"))
