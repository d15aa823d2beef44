"""Monitoring tasks: delta screening per list version, chunked full rescreens, and the beat ``tick``.

Triggers: ``ingest_source_task`` enqueues ``kyc.monitoring.delta`` for every stored version; the tick (beat, every
``monitoring_interval_minutes``) is the safety net and the scheduler — it enqueues a delta for any active version
without a completed run (a CLI import, an approved fi_national version, a lost message), a full rescreen of everybody
when the matcher's configuration changed, and the customers whose risk-based rescreen is due. Every task reads its
state from the database and is idempotent (a version's delta runs once; a rescreen of the same data changes nothing).
"""

from __future__ import annotations

from typing import Any

import structlog
from celery import Task
from sqlalchemy.exc import OperationalError

from kyc import monitoring
from kyc.matcher_cache import config_from_settings, matcher_for
from kyc.screening import MatcherScreener
from kyc.settings import Settings
from kyc.storage.db import transaction
from workers.app import app, current_settings
from workers.tasks import schedule_webhook

log = structlog.get_logger(__name__)

DELTA_TASK = "kyc.monitoring.delta"
DELTA_CHUNK_TASK = "kyc.monitoring.delta_chunk"
RESCREEN_TASK = "kyc.monitoring.rescreen"
TICK_TASK = "kyc.monitoring.tick"


def _notify(settings: Settings, job_ids: list[str]) -> None:
    """New or reopened hits changed these jobs' outcomes: tell the onboarding system (outcome only, no hits)."""
    for job_id in job_ids:
        schedule_webhook(settings, job_id)


def run_delta(settings: Settings, version_id: int) -> dict[str, Any]:
    """Plan the version's delta; run its chunks here (SQLite, or one chunk) or fan them out to the worker pool.

    The delta matcher is built from the operator's configuration (``config_from_settings``) — the one the shared
    matcher cache uses too — so that a delta never waits for a full index build it does not need.
    """
    with transaction(settings.database_url) as session:
        plan = monitoring.plan_delta(
            session, version_id, config_from_settings(settings), chunk_size=settings.monitoring_chunk_size
        )
    if plan is None:
        return {"version_id": version_id, "skipped": True}
    _notify(settings, plan.stats.notify_jobs)
    inline = settings.database_url.startswith("sqlite") or len(plan.chunks) <= 1
    if not inline:
        for index, part in enumerate(plan.chunks):
            delta_chunk_task.delay(plan.run_id, index, part)
        return {"version_id": version_id, "chunks": len(plan.chunks), "delisted": plan.stats.delisted}
    totals = plan.stats
    for index, part in enumerate(plan.chunks):
        stats = run_delta_chunk(settings, plan.run_id, index, part)
        if stats is not None:
            totals.add(stats)
    return {"version_id": version_id, "chunks": len(plan.chunks), **totals.as_dict()}


def run_delta_chunk(settings: Settings, run_id: int, index: int, customer_ids: list[str]) -> monitoring.RunStats | None:
    with transaction(settings.database_url) as session:
        stats = monitoring.delta_chunk(
            session,
            run_id,
            index,
            customer_ids,
            config_from_settings(settings),
            high_priority_score=settings.high_priority_score,
        )
    if stats is not None:
        _notify(settings, stats.notify_jobs)
    return stats


def run_rescreen(settings: Settings, customer_ids: list[str], origin: str = "full") -> dict[str, Any]:
    screener = MatcherScreener(matcher_for(settings))
    with transaction(settings.database_url) as session:
        stats = monitoring.rescreen_customers(
            session,
            customer_ids,
            screener,
            rescreen_days=settings.rescreen_days,
            high_priority_score=settings.high_priority_score,
            origin=origin,
        )
    _notify(settings, stats.notify_jobs)
    return {"customers": len(customer_ids), **stats.as_dict(), "notified": len(stats.notify_jobs)}


@app.task(name=DELTA_TASK, bind=True, acks_late=True, max_retries=3)  # type: ignore[untyped-decorator]
def delta_task(self: Task[Any, Any], version_id: int) -> dict[str, Any]:
    """All active parties against a version's added and changed entries (once per version)."""
    try:
        return run_delta(current_settings(), version_id)
    except OperationalError as exc:
        raise self.retry(exc=exc, countdown=30) from exc


@app.task(name=DELTA_CHUNK_TASK, bind=True, acks_late=True, max_retries=3)  # type: ignore[untyped-decorator]
def delta_chunk_task(self: Task[Any, Any], run_id: int, index: int, customer_ids: list[str]) -> dict[str, Any]:
    """One chunk of a version's delta (PostgreSQL: chunks run in parallel on the worker processes)."""
    try:
        stats = run_delta_chunk(current_settings(), run_id, index, customer_ids)
    except OperationalError as exc:
        raise self.retry(exc=exc, countdown=30) from exc
    return {"run_id": run_id, "chunk": index, **(stats.as_dict() if stats else {"skipped": 1})}


@app.task(name=RESCREEN_TASK, bind=True, acks_late=True, max_retries=3)  # type: ignore[untyped-decorator]
def rescreen_task(self: Task[Any, Any], customer_ids: list[str], origin: str = "full") -> dict[str, Any]:
    """A chunk of customers against every active list."""
    try:
        return run_rescreen(current_settings(), customer_ids, origin)
    except OperationalError as exc:
        raise self.retry(exc=exc, countdown=30) from exc


def enqueue_rescreen(customer_ids: list[str], origin: str, chunk_size: int) -> int:
    parts = monitoring.chunks(customer_ids, chunk_size)
    for part in parts:
        rescreen_task.delay(part, origin)
    return len(parts)


def tick(settings: Settings) -> dict[str, Any]:
    """Find the monitoring work due now and enqueue it (see the module docstring)."""
    config_hash = config_from_settings(settings).config_hash()
    with transaction(settings.database_url) as session:
        versions = monitoring.unscreened_versions(session)
        changed = monitoring.config_changed(session, config_hash)
        everybody = monitoring.all_active_customers(session) if changed else []
        if changed:
            monitoring.record_config(session, config_hash, len(everybody))
        due = [] if changed else monitoring.due_customers(session)
    for version_id in versions:
        delta_task.delay(version_id)
    chunks = enqueue_rescreen(everybody, "config", settings.monitoring_chunk_size) if changed else 0
    chunks += enqueue_rescreen(due, "full", settings.monitoring_chunk_size)
    result = {"deltas": versions, "config_changed": changed, "customers": len(everybody) + len(due), "chunks": chunks}
    log.info("monitoring.tick", **result)
    return result


@app.task(name=TICK_TASK)  # type: ignore[untyped-decorator]
def tick_task() -> dict[str, Any]:
    return tick(current_settings())
