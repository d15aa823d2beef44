"""Full rescreens: customers' parties against every active list, by schedule, configuration change or correction."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session

from kyc import audit, customers
from kyc.access import Principal
from kyc.monitoring.population import active_parties, current_jobs_query
from kyc.monitoring.reconcile import HitBook, Pass, RunStats, delist, finish_jobs, screen_parties
from kyc.monitoring.runs import CONFIG_MARK, claim_run, close_run
from kyc.screening import Screener
from kyc.storage.base import utcnow
from kyc.storage.hits import Hit
from kyc.storage.jobs import ScreeningJob
from kyc.storage.lists import ListEntry
from kyc.storage.monitoring import MonitoringRun

log = structlog.get_logger(__name__)


def _active_refs(session: Session, version_ids: Mapping[str, int]) -> dict[str, set[str]]:
    refs: dict[str, set[str]] = {source: set() for source in version_ids}
    by_version = {version_id: source for source, version_id in version_ids.items()}
    rows = session.execute(
        select(ListEntry.version_id, ListEntry.source_ref).where(ListEntry.version_id.in_(list(by_version)))
    )
    for version_id, ref in rows:
        refs[by_version[version_id]].add(ref)
    return refs


def rescreen_customers(
    session: Session,
    customer_ids: Sequence[str],
    screener: Screener,
    *,
    rescreen_days: Mapping[str, int],
    high_priority_score: float,
    origin: str = "full",
    now: datetime | None = None,
) -> RunStats:
    """Screen every party of these customers' current screenings against every active list (the full matcher).

    Existing hits on entries no longer in any active version are delisted; dismissed ones stay suppressed unless
    the party or the entry changed. The customers' next rescreen is scheduled by their risk.
    """
    moment = now or utcnow()
    run = claim_run(session, origin, None, screener.config_hash())
    assert run is not None
    parties = active_parties(session, customer_ids)
    job_ids = sorted({party.job_id for party, _ in parties})
    existing = session.execute(select(Hit).where(Hit.job_id.in_(job_ids))).scalars().all() if job_ids else []
    full = Pass(HitBook(session, existing), screener, origin, high_priority_score)
    screen_parties(full, parties)
    refs = _active_refs(session, screener.version_ids)
    gone = [hit for hit in existing if hit.source in refs and hit.source_ref not in refs[hit.source]]
    delist(full.book, gone, full.stats, "no longer in the active list version")
    session.flush()
    finish_jobs(session, full.book.touched_jobs, full.stats, origin)
    customers.schedule(session, {customer_id for _, customer_id in parties}, rescreen_days, moment)
    close_run(run, full.stats, {"customers": len(customer_ids)})
    log.info("monitoring.rescreen", origin=origin, customers=len(customer_ids), **full.stats.as_dict())
    return full.stats


def config_changed(session: Session, config_hash: str) -> bool:
    """True when the matcher's configuration differs from the one everybody was last (re)screened with."""
    last = session.execute(
        select(MonitoringRun.config_hash)
        .where(MonitoringRun.kind == CONFIG_MARK, MonitoringRun.status == "completed")
        .order_by(MonitoringRun.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    if last is not None:
        return last != config_hash
    current = current_jobs_query().subquery()
    used = session.execute(
        select(ScreeningJob.config_hash).join(current, current.c.job_id == ScreeningJob.id).distinct()
    ).scalars()
    return any(value is not None and value != config_hash for value in used)


def record_config(session: Session, config_hash: str, customers_count: int) -> None:
    """Remember the configuration everybody is being rescreened with (so the change fires once)."""
    run = claim_run(session, CONFIG_MARK, None, config_hash)
    assert run is not None
    close_run(run, RunStats(), {"customers": customers_count})


@dataclass(frozen=True)
class Correction:
    """What an officer's correction changed and what the immediate rescreen found for the party."""

    customer_id: str
    party_id: str
    changed_fields: list[str]
    corrections: list[int]
    stats: RunStats
    outcome: str | None
    hits: list[Hit]


def correct_and_rescreen(
    session: Session,
    customer_id: str,
    party_id: str,
    changes: Mapping[str, str | None],
    *,
    reason: str,
    actor: Principal,
    screener: Screener,
    rescreen_days: Mapping[str, int],
    high_priority_score: float,
) -> Correction:
    """An officer corrects a party of the customer's current screening; the customer is rescreened at once against
    every active list (one customer takes milliseconds once the matcher is built), so the officer sees the
    resulting hits — and reopened dismissals, whose ``reopen_reason`` says the party's data changed — at once."""
    customer = customers.get(session, customer_id)
    party = customers.current_party(session, customer, party_id)
    rows = customers.correct_party(session, party, changes, reason=reason, corrected_by=actor.user_id)
    fields = sorted(row.field for row in rows)
    ids = [row.id for row in rows]
    audit.record(
        session,
        actor=actor,
        action="party.update",
        object_type="screening_party",
        object_id=party.id,
        details={"fields": fields, "corrections": ids},
    )
    stats = rescreen_customers(
        session,
        [customer.id],
        screener,
        rescreen_days=rescreen_days,
        high_priority_score=high_priority_score,
        origin="party",
    )
    hits = list(session.execute(select(Hit).where(Hit.party_id == party.id).order_by(Hit.position)).scalars())
    return Correction(customer.id, party.id, fields, ids, stats, customer.outcome, hits)
