"""Politically exposed persons: classify a screened person as PEP, family member or close associate.

The evidence is the PEP-source entries the person matched (opensanctions, everypolitician: topics ``role.pep`` /
``role.rca``, positions, relations) and the customer's own declaration. Every classification keeps its basis —
position, country, start and end dates, source — because an officer must be able to say *why* someone is a PEP.

Status never lapses by itself. The AML Act (444/2017, 3:13) keeps enhanced due diligence for at least 12 months after
a person left the function; after that only a recorded officer decision ends it (``ended_by_decision``). So a former
PEP whose end date is years ago is still classified PEP here, with ``minimum_until`` telling the officer from when a
decision to end it may be taken.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any

from kyc.entry import Entry, PartialDate

PEP_SOURCES = frozenset({"opensanctions", "everypolitician"})
MINIMUM_MONTHS_AFTER_LEAVING = 12


class PepKind(StrEnum):
    PEP = "pep"
    FAMILY = "family"
    ASSOCIATE = "associate"


_RANK = {PepKind.PEP: 0, PepKind.FAMILY: 1, PepKind.ASSOCIATE: 2}


@dataclass(frozen=True)
class PepBasis:
    """One reason for the classification: a position held, a relation to a PEP, or the customer's declaration."""

    kind: PepKind
    source: str
    source_ref: str | None = None
    position: str | None = None
    country: str | None = None
    start: str | None = None
    end: str | None = None
    minimum_until: str | None = None
    """The earliest day a decision may end the status (end + 12 months); None while in office or undated."""
    relation: str | None = None
    score: float | None = None


@dataclass(frozen=True)
class PepStatus:
    kind: PepKind | None
    basis: tuple[PepBasis, ...] = field(default_factory=tuple)

    @property
    def is_pep(self) -> bool:
        return self.kind is not None

    @property
    def edd_required(self) -> bool:
        """PEPs, their family members and close associates all need enhanced due diligence (AML Act 3:13)."""
        return self.kind is not None

    def to_data(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value if self.kind else None,
            "basis": [{k: v for k, v in asdict(b).items() if v is not None} for b in self.basis],
        }

    @classmethod
    def from_data(cls, data: dict[str, Any] | None) -> PepStatus:
        if not data or not data.get("kind"):
            return cls(None)
        basis = tuple(PepBasis(**{**b, "kind": PepKind(b["kind"])}) for b in data.get("basis", []))
        return cls(PepKind(data["kind"]), basis)


def _months_later(value: str, months: int) -> str:
    """``value`` (YYYY[-MM[-DD]]) plus ``months``, taking the latest day the partial date can mean."""
    parts = [int(p) for p in value.split("-")]
    year, month = parts[0], parts[1] if len(parts) > 1 else 12
    day = parts[2] if len(parts) > 2 else 28
    total = year * 12 + (month - 1) + months
    return date(total // 12, total % 12 + 1, min(day, 28)).isoformat()


def _position_basis(entry: Entry, score: float | None) -> list[PepBasis]:
    if not entry.positions:
        return [PepBasis(PepKind.PEP, entry.source, entry.source_ref, score=score)]
    return [
        PepBasis(
            kind=PepKind.PEP,
            source=entry.source,
            source_ref=entry.source_ref,
            position=" — ".join(p for p in (pos.role, pos.body) if p),
            country=pos.country,
            start=pos.start,
            end=pos.end,
            minimum_until=_months_later(pos.end, MINIMUM_MONTHS_AFTER_LEAVING) if pos.end else None,
            score=score,
        )
        for pos in entry.positions
    ]


def _relation_basis(entry: Entry, score: float | None) -> list[PepBasis]:
    relations = entry.relations or ()
    if not relations:
        return [PepBasis(PepKind.ASSOCIATE, entry.source, entry.source_ref, relation="close associate", score=score)]
    return [
        PepBasis(
            kind=PepKind.FAMILY if rel.kind == "family" else PepKind.ASSOCIATE,
            source=entry.source,
            source_ref=entry.source_ref,
            relation=" ".join(p for p in (rel.description, "of", rel.other_name) if p) if rel.other_name else None,
            score=score,
        )
        for rel in relations
    ]


def entry_basis(entry: Entry, score: float | None = None) -> list[PepBasis]:
    """What one matched entry says about PEP status; empty when the entry is no PEP evidence."""
    if "role.pep" in entry.topics or (entry.source in PEP_SOURCES and entry.positions):
        return _position_basis(entry, score)
    if "role.rca" in entry.topics:
        return _relation_basis(entry, score)
    return []


def classify(
    matched: Iterable[tuple[Entry, float]],
    *,
    declared_pep: bool = False,
    previous: PepStatus | None = None,
    ended_by_decision: bool = False,
) -> PepStatus:
    """The person's status from matched entries (entry, score), their declaration and their previous status.

    A previous PEP status carries over even when no list shows it any more: status does not lapse by itself.
    Only ``ended_by_decision`` (an officer's recorded decision) clears the carried-over status; fresh evidence
    from a list or a declaration always counts.
    """
    basis: list[PepBasis] = []
    kinds: set[PepKind] = set()
    if declared_pep:
        basis.append(PepBasis(PepKind.PEP, source="declaration"))
        kinds.add(PepKind.PEP)
    evidence = sorted(((entry_basis(entry, score), score) for entry, score in matched), key=lambda item: -item[1])
    evidence = [(found, score) for found, score in evidence if found]
    if evidence:
        # The best-scoring entry decides the kind (it is most likely the person); weaker ones stay as basis.
        best = evidence[0][1]
        kinds.update(b.kind for found, score in evidence if score >= best for b in found)
        basis.extend(b for found, _score in evidence for b in found)
    if previous is not None and previous.is_pep and not ended_by_decision and previous.kind is not None:
        known = set(basis)
        basis.extend(b for b in previous.basis if b not in known)
        kinds.add(previous.kind)
    if not kinds:
        return PepStatus(None)
    return PepStatus(min(kinds, key=_RANK.__getitem__), tuple(basis))


def earliest_end(status: PepStatus) -> str | None:
    """The first day an officer may decide to end the status, or None while any basis is open-ended."""
    days = [b.minimum_until for b in status.basis if b.kind == PepKind.PEP]
    if not days or any(d is None for d in days):
        return None
    return max(d for d in days if d is not None)


def birth_compatible(dates: Iterable[PartialDate], birth_date: str | None) -> bool:
    """Used to avoid classifying someone a PEP on a name alone when both sides give conflicting birth years."""
    if birth_date is None:
        return True
    known = list(dates)
    if not known:
        return True
    year = int(birth_date[:4])
    for d in known:
        start, end = int(d.date[:4]), int((d.end or d.date)[:4])
        if start - 1 <= year <= end + 1:
            return True
    return False
