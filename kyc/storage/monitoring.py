"""Monitoring runs: one row per delta screening of a list version, full rescreen or configuration mark."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from kyc.storage.base import Base, utcnow


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
