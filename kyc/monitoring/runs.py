"""Bookkeeping of monitoring runs: each version's delta runs once, in chunks, and completes when the last one does."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session

from kyc import audit
from kyc.monitoring.reconcile import ACTOR, RunStats
from kyc.storage.base import utcnow
from kyc.storage.monitoring import MonitoringRun

log = structlog.get_logger(__name__)

CONFIG_MARK = "config_set"
"""The run kind recording which matcher configuration everybody is (being) rescreened with."""
RUN_TIMEOUT = timedelta(minutes=30)
"""A delta run still ``running`` after this long is taken over by the next trigger (its worker died)."""


def claim_run(session: Session, kind: str, version_id: int | None, config_hash: str | None) -> MonitoringRun | None:
    """The run row for this work, or None when it was done already (a duplicate trigger)."""
    if version_id is not None:
        existing = session.execute(
            select(MonitoringRun)
            .where(MonitoringRun.kind == kind, MonitoringRun.version_id == version_id)
            .with_for_update()
        ).scalar_one_or_none()
        if existing is not None:
            if existing.status == "completed" or existing.started_at > utcnow() - RUN_TIMEOUT:
                return None  # done, or in progress (its chunks are queued): a duplicate trigger
            existing.status, existing.started_at, existing.error = "running", utcnow(), None
            return existing
    run = MonitoringRun(
        kind=kind,
        version_id=version_id,
        status="running",
        config_hash=config_hash,
        started_at=utcnow(),
        parties=0,
        new_hits=0,
        reopened=0,
        delisted=0,
    )
    session.add(run)
    session.flush()
    return run


def close_run(run: MonitoringRun, stats: RunStats, details: Mapping[str, object] | None = None) -> None:
    run.status, run.finished_at = "completed", utcnow()
    run.parties, run.new_hits, run.reopened, run.delisted = (
        stats.parties,
        stats.new_hits,
        stats.reopened,
        stats.delisted,
    )
    run.details = {"suppressed": stats.suppressed, **dict(details or {})}


def count_chunk(session: Session, run_id: int, index: int, stats: RunStats) -> None:
    """Add a chunk's counts to its run under a row lock; the last chunk completes the run."""
    run = session.get(MonitoringRun, run_id, with_for_update=True, populate_existing=True)
    assert run is not None
    details = dict(run.details or {})
    done = sorted({*details.get("done", []), index})
    run.parties += stats.parties
    run.new_hits += stats.new_hits
    run.reopened += stats.reopened
    details["done"] = done
    details["suppressed"] = int(details.get("suppressed", 0)) + stats.suppressed
    run.details = details
    if len(done) >= int(details.get("chunks", 0)):
        complete_delta(session, run)


def complete_delta(session: Session, run: MonitoringRun) -> None:
    run.status, run.finished_at = "completed", utcnow()
    audit.record(
        session,
        actor=ACTOR,
        action="monitoring.delta_run",
        object_type="list_version",
        object_id=str(run.version_id),
        details={
            "parties": run.parties,
            "new_hits": run.new_hits,
            "reopened": run.reopened,
            "delisted": run.delisted,
            "chunks": int((run.details or {}).get("chunks", 0)),
        },
    )
    log.info(
        "monitoring.delta",
        version_id=run.version_id,
        parties=run.parties,
        new_hits=run.new_hits,
        reopened=run.reopened,
        delisted=run.delisted,
    )


def chunks(ids: Sequence[str], size: int) -> list[list[str]]:
    return [list(ids[start : start + size]) for start in range(0, len(ids), max(1, size))]
