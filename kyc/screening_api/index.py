"""What the API needs beside the matcher: entity ids, per-source dates, the dataset tree and the filters."""

from __future__ import annotations

import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kyc import ftm
from kyc.entry import Entry
from kyc.matching import Matcher
from kyc.pep import PEP_SOURCES
from kyc.screening_api.protocol import COLLECTIONS, UnknownDataset
from kyc.storage.lists import ListVersion


@dataclass(frozen=True)
class VersionInfo:
    source: str
    version_id: int
    published_at: datetime | None
    fetched_at: datetime
    activated_at: datetime | None
    sha256: str
    entry_count: int

    @property
    def moment(self) -> datetime:
        return self.published_at or self.fetched_at

    @property
    def version(self) -> str:
        """yente's version form ``YYYYMMDDHHMMSS-xxxx`` (Marble reads the timestamp before the dash)."""
        return f"{self.moment:%Y%m%d%H%M%S}-{self.sha256[:4]}"


def active_versions(session: Session, version_ids: Mapping[str, int]) -> list[VersionInfo]:
    ids = list(version_ids.values())
    if not ids:
        return []
    rows = session.scalars(select(ListVersion).where(ListVersion.id.in_(ids)).order_by(ListVersion.source))
    return [
        VersionInfo(r.source, r.id, r.published_at, r.fetched_at, r.activated_at, r.sha256, r.entry_count) for r in rows
    ]


@dataclass
class ApiIndex:
    """What the API needs beside the matcher: entity ids, per-source dates and the dataset tree."""

    matcher: Matcher
    versions: dict[str, VersionInfo]
    positions: dict[str, int] = field(default_factory=dict)
    """entity id -> position in ``matcher.entries``."""
    refs: dict[tuple[str, str], int] = field(default_factory=dict)
    sanction_sources: set[str] = field(default_factory=set)
    pep_sources: set[str] = field(default_factory=set)
    seen: dict[str, ftm.Seen] = field(default_factory=dict)

    @classmethod
    def build(cls, matcher: Matcher, versions: Iterable[VersionInfo]) -> ApiIndex:
        index = cls(matcher, {v.source: v for v in versions})
        for source, info in index.versions.items():
            stamp = ftm.iso_seconds(info.moment)
            index.seen[source] = ftm.Seen(first_seen=stamp, last_seen=stamp, last_change=stamp)
        for position, (_version, entry) in enumerate(matcher.entries):
            index.positions[ftm.entity_id(entry.source, entry.source_ref)] = position
            index.refs[(entry.source, entry.source_ref)] = position
            if is_sanction(entry):
                index.sanction_sources.add(entry.source)
            if entry.is_pep:
                index.pep_sources.add(entry.source)
        return index

    @property
    def sources(self) -> list[str]:
        return sorted(self.versions)

    def entry(self, entity_id: str) -> Entry | None:
        position = self.positions.get(entity_id)
        return None if position is None else self.matcher.entries[position][1]

    def related(self, source: str, ref: str) -> Entry | None:
        position = self.refs.get((source, ref))
        return None if position is None else self.matcher.entries[position][1]

    def seen_of(self, entry: Entry) -> ftm.Seen:
        """The version's date for first seen, last seen and last change — except that a listing date, when the
        source gives one, is when the entry was first seen."""
        seen = self.seen.get(entry.source, ftm.Seen())
        if entry.listed_on and len(entry.listed_on) == 10:
            first = f"{entry.listed_on}T00:00:00"
            if seen.first_seen is None or first < seen.first_seen:
                return ftm.Seen(first_seen=first, last_seen=seen.last_seen, last_change=seen.last_change)
        return seen

    def entity(self, entry: Entry) -> dict[str, Any]:
        return ftm.to_entity(entry, self.seen_of(entry))

    def check_dataset(self, name: str) -> None:
        if name not in COLLECTIONS and name not in self.versions:
            raise UnknownDataset()


def is_sanction(entry: Entry) -> bool:
    return "sanction" in entry.topics or (entry.source not in PEP_SOURCES and not entry.is_pep)


def in_dataset(name: str, entry: Entry) -> bool:
    if name == "default":
        return True
    if name == "sanctions":
        return is_sanction(entry)
    if name == "peps":
        return entry.is_pep
    return entry.source == name


_indexes: weakref.WeakKeyDictionary[Matcher, ApiIndex] = weakref.WeakKeyDictionary()


def api_index(session: Session, matcher: Matcher) -> ApiIndex:
    """The index of a matcher, built once per matcher (a new list version brings a new matcher, so a new index)."""
    found = _indexes.get(matcher)
    if found is None:
        found = _indexes[matcher] = ApiIndex.build(matcher, active_versions(session, matcher.version_ids))
    return found


@dataclass(frozen=True)
class Filters:
    dataset: str
    include: tuple[str, ...]
    exclude: tuple[str, ...]
    exclude_schema: frozenset[str]
    topics: frozenset[str]
    changed_since: str | None
    exclude_ids: frozenset[str]

    def keep(self, index: ApiIndex, entry: Entry) -> bool:
        if not in_dataset(self.dataset, entry):
            return False
        if self.include and not any(in_dataset(name, entry) for name in self.include):
            return False
        if any(in_dataset(name, entry) for name in self.exclude):
            return False
        if ftm.SCHEMA[entry.schema_.value] in self.exclude_schema:
            return False
        if self.topics and not self.topics & set(entry.topics):
            return False
        if self.exclude_ids and ftm.entity_id(entry.source, entry.source_ref) in self.exclude_ids:
            return False
        if self.changed_since:
            changed = index.seen_of(entry).last_change
            if changed is not None and changed < self.changed_since:
                return False
        return True
