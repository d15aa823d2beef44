"""Ongoing monitoring: delta screening on every new list version, risk-based full rescreens, suppression.

**Active parties.** A customer is monitored while its relationship has not ended. Its *current screening* is its
latest completed job; the parties of that job are the customer's active parties, and monitoring adds its hits to
that job (``Hit.origin`` says what raised them) and recomputes that job's and the customer's outcome. A new
onboarding screening of the customer becomes the current one; dismissals carry over to it through suppressions.
A party is therefore identified across monitoring runs by its row in the current job, and across jobs by its
fingerprint (``kyc.review.party_fingerprint``).

**Suppression.** A hit dismissed by officers is not raised again while both the party's screened data and the list
entry's content are unchanged (fingerprint + ``Entry.content_hash``). When either changes, the hit reopens by
itself, its ``reopen_reason`` naming the change, and the suppression is lifted.

**Delta screening.** All active parties against only the added and changed entries of a version (a small matcher
built over them); hits on removed entries are marked ``delisted``. Each version is delta-screened once
(``monitoring_runs`` is unique per kind and version).

**Full rescreen.** All parties of a set of customers against every active list; due by customer risk
(``settings.rescreen_days``), and for everybody when the matcher's configuration changes. A party's data change
(PATCH) rescreens that customer. Ending the relationship stops all of it.

**Decided evidence.** When the party or the entry changes under a ``proposed`` hit, the proposal lapses: the hit
goes back to ``open`` (``reopen_reason`` starts "the proposal lapsed"), its decision rows stay as they are, and a
second officer can no longer approve a proposal made on other evidence. A ``confirmed`` hit's evidence is never
overwritten: the changed match is raised as a new ``open`` hit beside it, whose ``reopen_reason`` names the
confirmed one.

**Ending the relationship** (:func:`end_relationship`) is refused while the customer is blocked or has a proposed,
escalated or confirmed hit, and cannot be dated before the customer's last activity: those cases stay monitored and
retained until officers resolve them (see also the purge's hold in ``kyc.retention``).

Nothing here makes an adverse decision: new and reopened hits are ``open`` and put the outcome to ``review``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog
from sqlalchemy import Select, and_, func, or_, select, update
from sqlalchemy.orm import Session

from kyc import audit
from kyc.entry import Entry
from kyc.matching import MatchConfig, Matcher
from kyc.retention import end_relationship as retention_end
from kyc.review import (
    HitStatus,
    active_suppression,
    lift_suppressions,
    party_fingerprint,
    refresh_outcome,
    stamp_keys,
)
from kyc.screening import MatcherScreener, Screener, ScreeningMatch, hit_from_match
from kyc.storage.base import utcnow
from kyc.storage.hits import Hit
from kyc.storage.jobs import Customer, Party, ScreeningJob
from kyc.storage.lists import ListChange, ListEntry, ListVersion
from kyc.storage.monitoring import MonitoringRun
from kyc.versions import diff_hashes, version_hashes

log = structlog.get_logger(__name__)

ACTOR = "system:monitoring"
RISKS = ("low", "medium", "high")
CONFIG_MARK = "config_set"
"""The run kind recording which matcher configuration everybody is (being) rescreened with."""
RESCREEN_LEASE = timedelta(hours=1)
RUN_TIMEOUT = timedelta(minutes=30)
"""A delta run still ``running`` after this long is taken over by the next trigger (its worker died)."""
"""A customer handed to a rescreen task is not handed out again for this long (the task sets the real date)."""


@dataclass
class RunStats:
    parties: int = 0
    new_hits: int = 0
    reopened: int = 0
    delisted: int = 0
    suppressed: int = 0
    notify_jobs: list[str] = field(default_factory=list)
    """Jobs with a callback URL whose outcome changed: the worker sends their webhook."""

    def as_dict(self) -> dict[str, int]:
        return {
            "parties": self.parties,
            "new_hits": self.new_hits,
            "reopened": self.reopened,
            "delisted": self.delisted,
            "suppressed": self.suppressed,
        }


# --- who is monitored --------------------------------------------------------------------------------------------


def current_jobs_query(customer_ids: Sequence[str] | None = None) -> Select[tuple[str, str]]:
    """``(job_id, customer_id)`` of the latest completed job of every customer whose relationship lasts."""
    ranked = select(
        ScreeningJob.id.label("job_id"),
        ScreeningJob.customer_id.label("customer_id"),
        func.row_number()
        .over(
            partition_by=ScreeningJob.customer_id,
            order_by=(ScreeningJob.completed_at.desc(), ScreeningJob.id.desc()),
        )
        .label("rank"),
    ).where(ScreeningJob.status == "completed")
    if customer_ids is not None:
        ranked = ranked.where(ScreeningJob.customer_id.in_(list(customer_ids)))
    inner = ranked.subquery()
    return (
        select(inner.c.job_id, inner.c.customer_id)
        .join(Customer, Customer.id == inner.c.customer_id)
        .where(inner.c.rank == 1, Customer.relationship_ended_at.is_(None))
    )


def active_parties(session: Session, customer_ids: Sequence[str] | None = None) -> list[tuple[Party, str]]:
    """Every party of every current screening, with its customer id."""
    current = current_jobs_query(customer_ids).subquery()
    rows = session.execute(
        select(Party, current.c.customer_id)
        .join(current, Party.job_id == current.c.job_id)
        .order_by(current.c.customer_id, Party.position)
    )
    return [(party, customer_id) for party, customer_id in rows]


# --- raising, suppressing, reopening -----------------------------------------------------------------------------


class _HitBook:
    """The existing hits of the parties being screened, and the new ones, keyed by (party, source, source_ref)."""

    def __init__(self, session: Session, hits: Iterable[Hit]) -> None:
        self.session = session
        self.by_key: dict[tuple[str, str, str], Hit] = {}
        for hit in hits:
            key = (hit.party_id, hit.source, hit.source_ref)
            kept = self.by_key.get(key)
            if kept is None or hit.created_at > kept.created_at:
                self.by_key[key] = hit
        self._positions: dict[str, int] = {}
        self.touched_jobs: set[str] = set()

    def next_position(self, job_id: str) -> int:
        if job_id not in self._positions:
            top = self.session.execute(select(func.max(Hit.position)).where(Hit.job_id == job_id)).scalar()
            self._positions[job_id] = -1 if top is None else int(top)
        self._positions[job_id] += 1
        return self._positions[job_id]


def _new_hit(
    book: _HitBook, party: Party, match: ScreeningMatch, screener: Screener, fingerprint: str, origin: str
) -> Hit:
    moment = utcnow()
    hit = hit_from_match(party.job_id, party.id, book.next_position(party.job_id), match, screener)
    hit.created_at = moment
    hit.updated_at = moment
    hit.party_fingerprint = fingerprint
    hit.entry_hash = match.entry.content_hash
    hit.origin = origin
    book.session.add(hit)
    book.by_key[(party.id, hit.source, hit.source_ref)] = hit
    return hit


def _refresh_evidence(hit: Hit, match: ScreeningMatch, screener: Screener, fingerprint: str, digest: str) -> None:
    hit.version_id, hit.score = match.version_id, round(float(match.score), 4)
    hit.matched_name, hit.query_name, hit.explanation = match.matched_name, match.query_name, match.explanation
    hit.engine_version, hit.config_hash = screener.engine_version, screener.config_hash()
    hit.party_fingerprint, hit.entry_hash, hit.updated_at = fingerprint, digest, utcnow()


def _change_reason(hit: Hit, fingerprint: str, digest: str) -> str | None:
    reasons = []
    if hit.status == HitStatus.DELISTED:
        reasons.append(f"{hit.source} {hit.source_ref} is listed again")
    if hit.party_fingerprint and hit.party_fingerprint != fingerprint:
        reasons.append("the party's screened data changed")
    if hit.entry_hash and hit.entry_hash != digest:
        reasons.append(f"the list entry {hit.source} {hit.source_ref} changed (version {hit.version_id} -> new)")
    return "; ".join(reasons) or None


def _on_match(
    book: _HitBook,
    party: Party,
    customer_id: str,
    match: ScreeningMatch,
    screener: Screener,
    fingerprint: str,
    origin: str,
    stats: RunStats,
) -> None:
    hit = book.by_key.get((party.id, match.source, match.source_ref))
    digest = match.entry.content_hash
    if hit is None:
        hit = _new_hit(book, party, match, screener, fingerprint, origin)
        book.session.flush()
        if active_suppression(book.session, customer_id, hit) is not None:
            hit.status = HitStatus.SUPPRESSED.value
            stats.suppressed += 1
        else:
            stats.new_hits += 1
        book.touched_jobs.add(party.job_id)
        return
    reason = _change_reason(hit, fingerprint, digest)
    if reason is None:
        return  # the same party data against the same entry: a dismissal stays, an open hit stays as it is
    reason = reason.replace("-> new", f"-> {match.version_id}")
    if hit.status == HitStatus.CONFIRMED:
        _raise_beside_confirmed(book, party, customer_id, hit, match, screener, fingerprint, origin, reason, stats)
        return
    lapsed = hit.status == HitStatus.PROPOSED
    quiet = hit.status in (HitStatus.DISMISSED, HitStatus.SUPPRESSED, HitStatus.DELISTED)
    _refresh_evidence(hit, match, screener, fingerprint, digest)
    hit.reopen_reason = f"the proposal lapsed: {reason}" if lapsed else reason
    if quiet or lapsed:
        hit.status, hit.reopened_at = HitStatus.OPEN.value, hit.updated_at
        stats.reopened += 1
    if quiet:
        lift_suppressions(book.session, customer_id, hit, hit.reopen_reason, hit.updated_at or utcnow())
    if lapsed:
        audit.record(
            book.session,
            actor=ACTOR,
            action="hit.proposal_lapsed",
            object_type="screening_hit",
            object_id=hit.id,
            details={"status_before": HitStatus.PROPOSED.value, "status_after": HitStatus.OPEN.value},
        )
    book.touched_jobs.add(party.job_id)


def _raise_beside_confirmed(
    book: _HitBook,
    party: Party,
    customer_id: str,
    confirmed: Hit,
    match: ScreeningMatch,
    screener: Screener,
    fingerprint: str,
    origin: str,
    reason: str,
    stats: RunStats,
) -> None:
    """A confirmed hit keeps the evidence two officers decided on; the changed match is a new hit to review.

    The new hit becomes the newest for its (party, source, entry) key, so later runs compare against it and do not
    raise another one while nothing changes again. Its ``reopen_reason`` points to the confirmed hit.
    """
    hit = _new_hit(book, party, match, screener, fingerprint, origin)
    hit.reopen_reason = f"{reason}; hit {confirmed.id} stays confirmed on its earlier evidence"
    stats.new_hits += 1
    book.touched_jobs.add(party.job_id)
    log.info("monitoring.confirmed_hit_changed", hit_id=confirmed.id, new_hit_id=hit.id, customer_id=customer_id)


def _screen(
    session: Session,
    parties: Sequence[tuple[Party, str]],
    screener: Screener,
    book: _HitBook,
    origin: str,
    stats: RunStats,
) -> None:
    for party, customer_id in parties:
        stats.parties += 1
        matches = screener.screen_party(party)
        if not matches:
            continue
        fingerprint = party_fingerprint(party)
        for match in matches:
            _on_match(book, party, customer_id, match, screener, fingerprint, origin, stats)


def _delist(session: Session, hits: Iterable[Hit], book: _HitBook, stats: RunStats, why: str) -> None:
    moment = utcnow()
    for hit in hits:
        if hit.status == HitStatus.DELISTED:
            continue
        hit.status, hit.delisted_at, hit.updated_at = HitStatus.DELISTED.value, moment, moment
        hit.reopen_reason = why
        book.touched_jobs.add(hit.job_id)
        stats.delisted += 1


def _finish_jobs(session: Session, job_ids: Iterable[str], stats: RunStats, origin: str) -> None:
    """Recompute outcomes of the jobs monitoring touched; audit each; remember which callbacks to send."""
    for job_id in sorted(job_ids):
        job = session.get(ScreeningJob, job_id)
        if job is None:
            continue
        before = job.outcome
        after = refresh_outcome(session, job)
        audit.record(
            session,
            actor=ACTOR,
            action=f"monitoring.{origin}",
            object_type="screening_job",
            object_id=job.id,
            details={"outcome_before": before, "outcome": after},
        )
        if after != before and job.callback_url:
            stats.notify_jobs.append(job.id)


# --- delta screening ---------------------------------------------------------------------------------------------


def version_changes(session: Session, version_id: int) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = defaultdict(list)
    rows = session.execute(select(ListChange.change, ListChange.source_ref).where(ListChange.version_id == version_id))
    for change, ref in rows:
        grouped[change].append(ref)
    return grouped


def monitored_changes(session: Session, version: ListVersion) -> dict[str, list[str]]:
    """What changed since the newest version of the source that was delta-screened.

    Normally that is the previous version and its stored diff is the answer. When versions followed each other
    faster than monitoring ran (the previous one was superseded before its delta), the diff is taken against the
    last screened one, so nothing added in between is skipped.
    """
    baseline = session.execute(
        select(ListVersion.id)
        .join(MonitoringRun, MonitoringRun.version_id == ListVersion.id)
        .where(
            ListVersion.source == version.source,
            ListVersion.id < version.id,
            MonitoringRun.kind == "delta",
            MonitoringRun.status == "completed",
        )
        .order_by(ListVersion.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    if baseline is None or baseline == version.previous_version_id:
        return version_changes(session, version.id)
    diff = diff_hashes(version_hashes(session, baseline), version_hashes(session, version.id))
    return {"added": diff.added, "changed": diff.changed, "removed": diff.removed}


def _version_entries(session: Session, version_id: int, refs: Sequence[str]) -> list[tuple[int, Entry]]:
    wanted = set(refs)
    rows = session.execute(select(ListEntry.source_ref, ListEntry.data).where(ListEntry.version_id == version_id))
    return [(version_id, Entry.from_data(data)) for ref, data in rows if ref in wanted]


def _claim_run(session: Session, kind: str, version_id: int | None, config_hash: str | None) -> MonitoringRun | None:
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


def _close_run(run: MonitoringRun, stats: RunStats, details: Mapping[str, object] | None = None) -> None:
    run.status, run.finished_at = "completed", utcnow()
    run.parties, run.new_hits, run.reopened, run.delisted = (
        stats.parties,
        stats.new_hits,
        stats.reopened,
        stats.delisted,
    )
    run.details = {"suppressed": stats.suppressed, **dict(details or {})}


@dataclass
class DeltaPlan:
    """A version's delta split into customer chunks (run in parallel by worker processes); delisting already done."""

    version_id: int
    run_id: int
    refs: list[str]
    chunks: list[list[str]]
    stats: RunStats


def plan_delta(
    session: Session, version_id: int, config: MatchConfig | None = None, chunk_size: int = 2000
) -> DeltaPlan | None:
    """Claim the version's delta run, delist hits on removed entries and split the active customers into chunks.

    None when the version was delta-screened before (or is being screened right now) or is not active — a pending
    fi_national import is screened once approved. The caller commits, then runs :func:`delta_chunk` per chunk.
    """
    version = session.get(ListVersion, version_id)
    if version is None:
        raise LookupError(f"list version {version_id} does not exist")
    if version.status != "active":
        return None  # pending: screened once approved; superseded: the newer version's delta covers its changes
    run = _claim_run(session, "delta", version_id, (config or MatchConfig()).config_hash())
    if run is None:
        return None
    changes = monitored_changes(session, version)
    refs = sorted(changes.get("added", []) + changes.get("changed", []))
    removed = sorted(changes.get("removed", []))
    stats = RunStats()
    book = _HitBook(session, [])
    if removed:
        gone = session.execute(
            select(Hit).where(Hit.source == version.source, Hit.source_ref.in_(removed), Hit.status != "delisted")
        ).scalars()
        _delist(session, gone, book, stats, f"removed from {version.source} in list version {version_id}")
        session.flush()
        _finish_jobs(session, book.touched_jobs, stats, "delta")
    parts = chunks(all_active_customers(session), chunk_size) if refs else []
    run.delisted = stats.delisted
    run.details = {
        "source": version.source,
        "entries": len(refs),
        "removed": len(removed),
        "chunks": len(parts),
        "done": [],
    }
    if not parts:
        _complete_delta(session, run)
    return DeltaPlan(version_id, run.id, refs, parts, stats)


def delta_chunk(
    session: Session, plan_run_id: int, index: int, customer_ids: Sequence[str], config: MatchConfig | None = None
) -> RunStats | None:
    """Screen one chunk of customers' parties against the version's added and changed entries only."""
    run = session.get(MonitoringRun, plan_run_id)
    if (
        run is None
        or run.version_id is None
        or run.status == "completed"
        or index in (run.details or {}).get("done", [])
    ):
        return None
    version_id = run.version_id
    version = session.get(ListVersion, version_id)
    assert version is not None
    changes = monitored_changes(session, version)
    refs = sorted(changes.get("added", []) + changes.get("changed", []))
    stats = RunStats()
    parties = active_parties(session, customer_ids)
    job_ids = sorted({party.job_id for party, _ in parties})
    existing = (
        session.execute(
            select(Hit).where(Hit.job_id.in_(job_ids), Hit.source == version.source, Hit.source_ref.in_(refs))
        )
        .scalars()
        .all()
        if job_ids and refs
        else []
    )
    book = _HitBook(session, existing)
    screener = MatcherScreener(Matcher.build(_version_entries(session, version_id, refs), config or MatchConfig()))
    _screen(session, parties, screener, book, "delta", stats)
    session.flush()
    _finish_jobs(session, book.touched_jobs, stats, "delta")
    _count_chunk(session, plan_run_id, index, stats)
    return stats


def _count_chunk(session: Session, run_id: int, index: int, stats: RunStats) -> None:
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
        _complete_delta(session, run)


def _complete_delta(session: Session, run: MonitoringRun) -> None:
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


def delta_screen(session: Session, version_id: int, config: MatchConfig | None = None) -> RunStats | None:
    """The whole delta of a version in this session, chunk after chunk (tests, SQLite, small installations)."""
    plan = plan_delta(session, version_id, config, chunk_size=10_000)
    if plan is None:
        return None
    total = plan.stats
    for index, part in enumerate(plan.chunks):
        stats = delta_chunk(session, plan.run_id, index, part, config)
        if stats is not None:
            total.parties += stats.parties
            total.new_hits += stats.new_hits
            total.reopened += stats.reopened
            total.suppressed += stats.suppressed
            total.notify_jobs.extend(stats.notify_jobs)
    return total


def unscreened_versions(session: Session) -> list[int]:
    """Active versions no delta run has completed for (imports by CLI, approvals, lost messages)."""
    done = select(MonitoringRun.version_id).where(
        MonitoringRun.kind == "delta", MonitoringRun.status == "completed", MonitoringRun.version_id.is_not(None)
    )
    return list(
        session.execute(
            select(ListVersion.id)
            .where(ListVersion.status == "active", ListVersion.id.not_in(done))
            .order_by(ListVersion.id)
        ).scalars()
    )


# --- full rescreen -----------------------------------------------------------------------------------------------


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
    origin: str = "full",
    now: datetime | None = None,
) -> RunStats:
    """Screen every party of these customers' current screenings against every active list (the full matcher).

    Existing hits on entries no longer in any active version are delisted; dismissed ones stay suppressed unless
    the party or the entry changed. The customers' next rescreen is scheduled by their risk.
    """
    moment = now or utcnow()
    run = _claim_run(session, origin, None, screener.config_hash())
    assert run is not None
    stats = RunStats()
    parties = active_parties(session, customer_ids)
    job_ids = sorted({party.job_id for party, _ in parties})
    existing = session.execute(select(Hit).where(Hit.job_id.in_(job_ids))).scalars().all() if job_ids else []
    book = _HitBook(session, existing)
    _screen(session, parties, screener, book, origin, stats)
    refs = _active_refs(session, screener.version_ids)
    gone = [hit for hit in existing if hit.source in refs and hit.source_ref not in refs[hit.source]]
    _delist(session, gone, book, stats, "no longer in the active list version")
    session.flush()
    _finish_jobs(session, book.touched_jobs, stats, origin)
    schedule(session, {customer_id for _, customer_id in parties}, rescreen_days, moment)
    _close_run(run, stats, {"customers": len(customer_ids)})
    log.info("monitoring.rescreen", origin=origin, customers=len(customer_ids), **stats.as_dict())
    return stats


def schedule(session: Session, customer_ids: Iterable[str], rescreen_days: Mapping[str, int], now: datetime) -> None:
    """Rescreened now; next time by risk."""
    by_risk: dict[str, list[str]] = defaultdict(list)
    for customer_id, risk in session.execute(
        select(Customer.id, Customer.risk).where(Customer.id.in_(list(customer_ids)))
    ):
        by_risk[risk].append(customer_id)
    for risk, ids in by_risk.items():
        days = rescreen_days.get(risk, rescreen_days.get("medium", 180))
        session.execute(
            update(Customer)
            .where(Customer.id.in_(ids))
            .values(last_rescreened_at=now, next_rescreen_at=now + timedelta(days=days))
            .execution_options(synchronize_session=False)
        )


def due_customers(session: Session, now: datetime | None = None, limit: int = 100_000) -> list[str]:
    """Monitored customers whose rescreen is due; they are leased so the next tick does not hand them out again."""
    moment = now or utcnow()
    current = current_jobs_query().subquery()
    ids = list(
        session.execute(
            select(Customer.id)
            .join(current, current.c.customer_id == Customer.id)
            .where((Customer.next_rescreen_at.is_(None)) | (Customer.next_rescreen_at <= moment))
            .order_by(Customer.next_rescreen_at.nulls_first(), Customer.id)
            .limit(limit)
        ).scalars()
    )
    if ids:
        lease(session, ids, moment + RESCREEN_LEASE)
    return ids


def lease(session: Session, customer_ids: Sequence[str], until: datetime) -> None:
    for start in range(0, len(customer_ids), 5000):
        session.execute(
            update(Customer)
            .where(Customer.id.in_(list(customer_ids[start : start + 5000])))
            .values(next_rescreen_at=until)
            .execution_options(synchronize_session=False)
        )


def all_active_customers(session: Session) -> list[str]:
    return list(session.execute(select(current_jobs_query().subquery().c.customer_id)).scalars())


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


def record_config(session: Session, config_hash: str, customers: int) -> None:
    """Remember the configuration everybody is being rescreened with (so the change fires once)."""
    run = _claim_run(session, CONFIG_MARK, None, config_hash)
    assert run is not None
    _close_run(run, RunStats(), {"customers": customers})


# --- hooks for the screening core and the API --------------------------------------------------------------------


def after_screening(session: Session, job: ScreeningJob, rescreen_days: Mapping[str, int]) -> None:
    """Called right after a job is screened (same transaction): suppression keys, carried-over dismissals, the
    customer's outcome and next rescreen."""
    session.flush()
    parties = {party.id: party for party in job.parties}
    hits = session.execute(select(Hit).where(Hit.job_id == job.id)).scalars().all()
    stamp_keys(session, hits, parties)
    session.flush()
    for hit in hits:
        if hit.status == HitStatus.OPEN and active_suppression(session, job.customer_id, hit) is not None:
            hit.status = HitStatus.SUPPRESSED.value
    refresh_outcome(session, job)
    schedule(session, [job.customer_id], rescreen_days, job.completed_at or utcnow())


class EndRefused(ValueError):
    """The relationship cannot end now (blocked, or hits awaiting or holding a decision): HTTP 409."""


class EndDateInvalid(ValueError):
    """The end date is in the future or before the customer's last activity: HTTP 422."""


UNRESOLVED = (HitStatus.PROPOSED.value, HitStatus.ESCALATED.value)
"""Hit statuses that keep a customer's relationship from ending until officers resolve them. A confirmed
*sanctions* hit does too (it freezes the case); a confirmed PEP hit does not: PEP status calls for enhanced due
diligence, not for keeping the data beyond retention."""


def last_activity(session: Session, customer: Customer) -> datetime:
    """The latest of the customer's creation and its screenings' submission and completion."""
    latest = session.execute(
        select(func.max(ScreeningJob.created_at), func.max(ScreeningJob.completed_at)).where(
            ScreeningJob.customer_id == customer.id
        )
    ).one()
    moments: list[datetime] = [customer.created_at, *(moment for moment in latest if moment is not None)]
    return max(moments)


def end_refusal(session: Session, customer: Customer) -> str | None:
    """Why the relationship cannot end now, or None. A backdated end would start the retention clock early and let
    the purge delete a frozen or undecided case, so these customers stay until the case is resolved."""
    if customer.blocked_at is not None:
        return "the customer is blocked after a confirmed sanctions match; it stays until the block is resolved"
    rows = session.execute(
        select(Hit.status, func.count())
        .join(ScreeningJob, ScreeningJob.id == Hit.job_id)
        .where(
            ScreeningJob.customer_id == customer.id,
            or_(
                Hit.status.in_(UNRESOLVED),
                and_(Hit.status == HitStatus.CONFIRMED.value, Hit.kind == "sanction"),
            ),
        )
        .group_by(Hit.status)
        .order_by(Hit.status)
    ).all()
    if rows:
        counts = ", ".join(f"{count} {status}" for status, count in rows)
        return f"the customer has hits awaiting or holding a decision ({counts}); it stays until they are resolved"
    return None


def end_relationship(
    session: Session, customer_id: str, ended_at: datetime, retention_years: int, now: datetime | None = None
) -> datetime:
    """Stop monitoring the customer and start its retention clock; returns the new ``retention_until``.

    Raises :class:`EndRefused` (see :func:`end_refusal`) or :class:`EndDateInvalid` (future, or a day before the
    customer's last activity; on that very day the end is taken no earlier than the activity).
    """
    customer = session.get(Customer, customer_id, with_for_update=True)
    if customer is None:
        raise LookupError(f"customer {customer_id} does not exist")
    if customer.relationship_ended_at is not None:
        raise EndRefused(f"customer {customer_id}: the relationship already ended")
    moment = now or utcnow()
    if ended_at > moment:
        raise EndDateInvalid("ended_on: must not be in the future")
    active = last_activity(session, customer)
    if ended_at.date() < active.date():
        raise EndDateInvalid(f"ended_on: must not be before the customer's last activity ({active.date().isoformat()})")
    refusal = end_refusal(session, customer)
    if refusal is not None:
        raise EndRefused(f"customer {customer_id}: {refusal}")
    until = retention_end(session, customer_id, max(ended_at, active), retention_years)
    session.execute(update(Customer).where(Customer.id == customer_id).values(next_rescreen_at=None))
    return until


def request_rescreen(session: Session, customer_id: str, now: datetime | None = None) -> None:
    """Make the customer due now (e.g. after a data-subject correction): the next monitoring tick rescreens it."""
    session.execute(
        update(Customer)
        .where(Customer.id == customer_id, Customer.relationship_ended_at.is_(None))
        .values(next_rescreen_at=now or utcnow())
    )


def set_risk(
    session: Session, customer_id: str, risk: str, rescreen_days: Mapping[str, int], now: datetime | None = None
) -> datetime | None:
    """Change a customer's risk; the next rescreen moves accordingly (from the last one, or now)."""
    if risk not in RISKS:
        raise ValueError(f"risk: {risk!r} is not one of {', '.join(RISKS)}")
    customer = session.get(Customer, customer_id, with_for_update=True)
    if customer is None:
        raise LookupError(f"customer {customer_id} does not exist")
    customer.risk = risk
    if customer.relationship_ended_at is None:
        base = customer.last_rescreened_at or now or utcnow()
        customer.next_rescreen_at = base + timedelta(days=rescreen_days.get(risk, 180))
    return customer.next_rescreen_at


def chunks(ids: Sequence[str], size: int) -> list[list[str]]:
    return [list(ids[start : start + size]) for start in range(0, len(ids), max(1, size))]
