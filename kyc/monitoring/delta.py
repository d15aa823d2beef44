"""Delta screening: every active party against only what a new list version added or changed."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from kyc.entry import Entry
from kyc.hits import HitStatus
from kyc.matching import MatchConfig, Matcher
from kyc.monitoring.population import active_parties, all_active_customers
from kyc.monitoring.reconcile import HitBook, Pass, RunStats, delist, finish_jobs, screen_parties
from kyc.monitoring.runs import chunks, claim_run, complete_delta, count_chunk
from kyc.screening import MatcherScreener
from kyc.storage.hits import Hit
from kyc.storage.lists import ListChange, ListEntry, ListVersion
from kyc.storage.monitoring import MonitoringRun
from kyc.versions import diff_hashes, version_hashes


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


def _screened_refs(changes: dict[str, list[str]]) -> list[str]:
    return sorted(changes.get("added", []) + changes.get("changed", []))


def _version_entries(session: Session, version_id: int, refs: Sequence[str]) -> list[tuple[int, Entry]]:
    wanted = set(refs)
    rows = session.execute(select(ListEntry.source_ref, ListEntry.data).where(ListEntry.version_id == version_id))
    return [(version_id, Entry.from_data(data)) for ref, data in rows if ref in wanted]


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
    run = claim_run(session, "delta", version_id, (config or MatchConfig()).config_hash())
    if run is None:
        return None
    changes = monitored_changes(session, version)
    refs = _screened_refs(changes)
    removed = sorted(changes.get("removed", []))
    stats = RunStats()
    if removed:
        book = HitBook(session, [])
        gone = session.execute(
            select(Hit).where(
                Hit.source == version.source, Hit.source_ref.in_(removed), Hit.status != HitStatus.DELISTED.value
            )
        ).scalars()
        delist(book, gone, stats, f"removed from {version.source} in list version {version_id}")
        session.flush()
        finish_jobs(session, book.touched_jobs, stats, "delta")
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
        complete_delta(session, run)
    return DeltaPlan(version_id, run.id, refs, parts, stats)


def delta_chunk(
    session: Session,
    plan_run_id: int,
    index: int,
    customer_ids: Sequence[str],
    config: MatchConfig | None = None,
    *,
    high_priority_score: float,
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
    version = session.get(ListVersion, run.version_id)
    assert version is not None
    refs = _screened_refs(monitored_changes(session, version))
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
    screener = MatcherScreener(Matcher.build(_version_entries(session, version.id, refs), config or MatchConfig()))
    delta = Pass(HitBook(session, existing), screener, "delta", high_priority_score)
    screen_parties(delta, parties)
    session.flush()
    finish_jobs(session, delta.book.touched_jobs, delta.stats, "delta")
    count_chunk(session, plan_run_id, index, delta.stats)
    return delta.stats


def delta_screen(
    session: Session, version_id: int, config: MatchConfig | None = None, *, high_priority_score: float
) -> RunStats | None:
    """The whole delta of a version in this session, chunk after chunk (tests, SQLite, small installations)."""
    plan = plan_delta(session, version_id, config, chunk_size=10_000)
    if plan is None:
        return None
    total = plan.stats
    for index, part in enumerate(plan.chunks):
        stats = delta_chunk(session, plan.run_id, index, part, config, high_priority_score=high_priority_score)
        if stats is not None:
            total.add(stats)
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
