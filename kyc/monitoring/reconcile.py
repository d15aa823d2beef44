"""Reconciling a screening pass with the hits the parties already have (see the package docstring)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import structlog
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kyc import audit, cases, outcome
from kyc.hits import QUIET, HitStatus, ScreeningMatch, new_hit
from kyc.screening import Screener
from kyc.storage.base import utcnow
from kyc.storage.hits import Hit
from kyc.storage.jobs import Party, ScreeningJob
from kyc.suppression import active_suppression, lift_suppressions, party_fingerprint

log = structlog.get_logger(__name__)

ACTOR = "system:monitoring"


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

    def add(self, other: RunStats) -> None:
        self.parties += other.parties
        self.new_hits += other.new_hits
        self.reopened += other.reopened
        self.delisted += other.delisted
        self.suppressed += other.suppressed
        self.notify_jobs.extend(other.notify_jobs)


class HitBook:
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


@dataclass
class Pass:
    """One monitoring pass over some parties: what screens them, what raised the hits, and what it found."""

    book: HitBook
    screener: Screener
    origin: str
    high_priority_score: float
    stats: RunStats = field(default_factory=RunStats)

    @property
    def session(self) -> Session:
        return self.book.session

    def raise_hit(self, party: Party, match: ScreeningMatch) -> Hit:
        hit = new_hit(
            party,
            self.book.next_position(party.job_id),
            match,
            engine_version=self.screener.engine_version,
            config_hash=self.screener.config_hash(),
            high_priority_score=self.high_priority_score,
            origin=self.origin,
        )
        self.session.add(hit)
        self.book.by_key[(party.id, hit.source, hit.source_ref)] = hit
        self.book.touched_jobs.add(party.job_id)
        return hit


def _refresh_evidence(hit: Hit, match: ScreeningMatch, screener: Screener, fingerprint: str) -> None:
    hit.version_id, hit.score = match.version_id, round(float(match.score), 4)
    hit.matched_name, hit.query_name, hit.explanation = match.matched_name, match.query_name, match.explanation
    hit.engine_version, hit.config_hash = screener.engine_version, screener.config_hash()
    hit.party_fingerprint, hit.entry_hash, hit.updated_at = fingerprint, match.entry.content_hash, utcnow()


def change_reason(hit: Hit, fingerprint: str, match: ScreeningMatch) -> str | None:
    """What changed since the hit was decided or raised, in words for the officer; None when nothing did."""
    reasons = []
    if hit.status == HitStatus.DELISTED:
        reasons.append(f"{hit.source} {hit.source_ref} is listed again")
    if hit.party_fingerprint and hit.party_fingerprint != fingerprint:
        reasons.append("the party's screened data changed")
    if hit.entry_hash and hit.entry_hash != match.entry.content_hash:
        reasons.append(
            f"the list entry {hit.source} {hit.source_ref} changed (version {hit.version_id} -> {match.version_id})"
        )
    return "; ".join(reasons) or None


def on_match(run: Pass, party: Party, customer_id: str, match: ScreeningMatch, fingerprint: str) -> None:
    hit = run.book.by_key.get((party.id, match.source, match.source_ref))
    if hit is None:
        _raise_new(run, party, customer_id, match)
        return
    reason = change_reason(hit, fingerprint, match)
    if reason is None:
        return  # the same party data against the same entry: a dismissal stays, an open hit stays as it is
    if hit.status == HitStatus.CONFIRMED:
        _raise_beside_confirmed(run, party, customer_id, hit, match, reason)
        return
    _reopen(run, hit, customer_id, match, fingerprint, reason)
    run.book.touched_jobs.add(party.job_id)


def _raise_new(run: Pass, party: Party, customer_id: str, match: ScreeningMatch) -> None:
    hit = run.raise_hit(party, match)
    run.session.flush()
    if active_suppression(run.session, customer_id, hit) is not None:
        hit.status = HitStatus.SUPPRESSED.value
        run.stats.suppressed += 1
    else:
        run.stats.new_hits += 1


def _reopen(run: Pass, hit: Hit, customer_id: str, match: ScreeningMatch, fingerprint: str, reason: str) -> None:
    lapsed = hit.status == HitStatus.PROPOSED
    quiet = hit.status in QUIET
    _refresh_evidence(hit, match, run.screener, fingerprint)
    hit.reopen_reason = f"the proposal lapsed: {reason}" if lapsed else reason
    if quiet or lapsed:
        hit.status, hit.reopened_at = HitStatus.OPEN.value, hit.updated_at
        run.stats.reopened += 1
    if quiet:
        lift_suppressions(run.session, customer_id, hit, hit.reopen_reason, hit.updated_at or utcnow())
    if lapsed:
        audit.record(
            run.session,
            actor=ACTOR,
            action="hit.proposal_lapsed",
            object_type="screening_hit",
            object_id=hit.id,
            details={"status_before": HitStatus.PROPOSED.value, "status_after": HitStatus.OPEN.value},
        )


def _raise_beside_confirmed(
    run: Pass, party: Party, customer_id: str, confirmed: Hit, match: ScreeningMatch, reason: str
) -> None:
    """A confirmed hit keeps the evidence two officers decided on; the changed match is a new hit to review.

    The new hit becomes the newest for its (party, source, entry) key, so later runs compare against it and do not
    raise another one while nothing changes again. Its ``reopen_reason`` points to the confirmed hit.
    """
    hit = run.raise_hit(party, match)
    hit.reopen_reason = f"{reason}; hit {confirmed.id} stays confirmed on its earlier evidence"
    run.stats.new_hits += 1
    log.info("monitoring.confirmed_hit_changed", hit_id=confirmed.id, new_hit_id=hit.id, customer_id=customer_id)


def screen_parties(run: Pass, parties: Sequence[tuple[Party, str]]) -> None:
    for party, customer_id in parties:
        run.stats.parties += 1
        matches = run.screener.screen_party(party)
        if not matches:
            continue
        fingerprint = party_fingerprint(party)
        for match in matches:
            on_match(run, party, customer_id, match, fingerprint)


def delist(book: HitBook, hits: Iterable[Hit], stats: RunStats, why: str) -> None:
    moment = utcnow()
    for hit in hits:
        if hit.status == HitStatus.DELISTED:
            continue
        hit.status, hit.delisted_at, hit.updated_at = HitStatus.DELISTED.value, moment, moment
        hit.reopen_reason = why
        book.touched_jobs.add(hit.job_id)
        stats.delisted += 1


def finish_jobs(session: Session, job_ids: Iterable[str], stats: RunStats, origin: str) -> None:
    """Put new hits into their cases and re-derive the cases (a changed or new listing reopens a closed one),
    recompute outcomes of the jobs monitoring touched; audit each; remember which callbacks to send."""
    job_ids = sorted(set(job_ids))
    cases.sync_jobs(session, job_ids)
    for job_id in job_ids:
        job = session.get(ScreeningJob, job_id)
        if job is None:
            continue
        before = job.outcome
        after = outcome.refresh(session, job)
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
