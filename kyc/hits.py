"""Hits: a party matched to a list entry. Their vocabulary, and the one way a hit is made.

A hit moves through these statuses (decision rows keep the whole history; the status is derived state):

* ``open`` — raised, or reopened by monitoring (``reopen_reason`` says why), or a proposal was rejected;
* ``proposed`` — an analyst proposed a verdict that needs a second officer (``kyc.review.four_eyes``);
* ``escalated`` — handed to senior review; needs no second decision, and a later proposal can follow;
* ``dismissed`` / ``confirmed`` — final verdicts (a dismissal creates a suppression);
* ``suppressed`` — raised again while a dismissal's keys still hold (no new decision needed);
* ``delisted`` — its list entry was removed; never deleted.

Every hit is made by :func:`new_hit`, whether onboarding screening or monitoring raised it, so each one carries its
suppression keys (``kyc.suppression``), its kind and a priority from the same rule.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from kyc.entry import Entry
from kyc.pep import PEP_SOURCES
from kyc.storage.base import utcnow
from kyc.storage.hits import Hit
from kyc.storage.jobs import Party
from kyc.suppression import party_fingerprint


class HitStatus(StrEnum):
    OPEN = "open"
    PROPOSED = "proposed"
    ESCALATED = "escalated"
    DISMISSED = "dismissed"
    CONFIRMED = "confirmed"
    SUPPRESSED = "suppressed"
    DELISTED = "delisted"


PENDING = frozenset({HitStatus.OPEN, HitStatus.PROPOSED, HitStatus.ESCALATED})
"""Statuses that keep an outcome at ``review``: an officer still has to act."""
QUIET = frozenset({HitStatus.DISMISSED, HitStatus.SUPPRESSED, HitStatus.DELISTED})
"""Statuses that ask nothing of anybody until the party or the entry changes."""


class HitKind(StrEnum):
    """What kind of list the entry is on: a sanctions match freezes, a PEP match calls for due diligence."""

    SANCTION = "sanction"
    PEP = "pep"
    OTHER = "other"


class Priority(StrEnum):
    NORMAL = "normal"
    HIGH = "high"


class ScreeningMatch(Protocol):
    """The part of ``kyc.matching.Match`` a hit is made from."""

    @property
    def source(self) -> str: ...
    @property
    def source_ref(self) -> str: ...
    @property
    def version_id(self) -> int: ...
    @property
    def score(self) -> float: ...
    @property
    def matched_name(self) -> str: ...
    @property
    def query_name(self) -> str: ...
    @property
    def explanation(self) -> dict[str, Any]: ...
    @property
    def entry(self) -> Entry: ...


def hit_kind(entry: Entry) -> HitKind:
    if entry.is_pep and "sanction" not in entry.topics:
        return HitKind.PEP
    if "sanction" in entry.topics or entry.source not in PEP_SOURCES:
        return HitKind.SANCTION
    return HitKind.OTHER


def priority(kind: HitKind | str, score: float, high_score: float) -> Priority:
    """High for a sanctions match at or above ``high_score``: the same rule for first screening and monitoring."""
    return Priority.HIGH if kind == HitKind.SANCTION and score >= high_score else Priority.NORMAL


def new_hit(
    party: Party,
    position: int,
    match: ScreeningMatch,
    *,
    engine_version: str,
    config_hash: str,
    high_priority_score: float,
    origin: str | None = None,
    now: datetime | None = None,
) -> Hit:
    """An open hit with everything needed to replay, explain and suppress it: the party's fingerprint and the
    entry's content hash are stamped here, so no caller can store a hit that a dismissal could not match."""
    moment = now or utcnow()
    kind = hit_kind(match.entry)
    score = round(float(match.score), 4)
    return Hit(
        job_id=party.job_id,
        party_id=party.id,
        position=position,
        source=match.source,
        source_ref=match.source_ref,
        version_id=match.version_id,
        schema=match.entry.schema_.value,
        score=score,
        matched_name=match.matched_name,
        query_name=match.query_name,
        explanation=match.explanation,
        topics={"topics": list(match.entry.topics), "programs": list(match.entry.programs)},
        kind=kind.value,
        priority=priority(kind, score, high_priority_score).value,
        status=HitStatus.OPEN.value,
        engine_version=engine_version,
        config_hash=config_hash,
        party_fingerprint=party_fingerprint(party),
        entry_hash=match.entry.content_hash,
        origin=origin,
        created_at=moment,
        updated_at=moment,
    )
