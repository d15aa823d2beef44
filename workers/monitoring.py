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
from kyc.matching import matcher_cache
from kyc.screening import MatcherScreener
from kyc.settings import Settings
from kyc.storage.db import transaction
from workers.app import app, current_settings
from workers.tasks import schedule_webhook

log = structlog.get_logger(__name__)

DELTA_TASK = "kyc.monitoring.delta"
RESCREEN_TASK = "kyc.monitoring.rescreen"
TICK_TASK = "kyc.monitoring.tick"


def _notify(settings: Settings, job_ids: list[str]) -> None:
    """New or reopened hits changed these jobs' outcomes: tell the onboarding system (outcome only, no hits)."""
    for job_id in job_ids:
        schedule_webhook(settings, job_id)


def run_delta(settings: Settings, version_id: int) -> dict[str, Any]:
    with transaction(settings.database_url) as session:
        stats = monitoring.delta_screen(session, version_id, matcher_cache.get(settings.database_url).config)
    if stats is None:
        return {"version_id": version_id, "skipped": True}
    _notify(settings, stats.notify_jobs)
    return {"version_id": version_id, **stats.as_dict(), "notified": len(stats.notify_jobs)}


def run_rescreen(settings: Settings, customer_ids: list[str], origin: str = "full") -> dict[str, Any]:
    screener = MatcherScreener(matcher_cache.get(settings.database_url))
    with transaction(settings.database_url) as session:
        stats = monitoring.rescreen_customers(
            session, customer_ids, screener, rescreen_days=settings.rescreen_days, origin=origin
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
    config_hash = matcher_cache.get(settings.database_url).config.config_hash()
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
