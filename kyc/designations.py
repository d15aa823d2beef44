# Over 400 lines: linking keys, relinking and the subject views share one notion of a subject; split, they could drift.
"""Designated subjects: entries of different lists that designate the same person, organisation or vessel.

Each entry yields *linking keys* (:func:`entry_keys`):

* ``un:<ref>`` — the UN Security Council reference, which the UN list, the UK lists, the EU list and OpenSanctions
  carry;
* ``imo:<number>`` — a vessel's or company's IMO number;
* ``passport:<country>:<number>`` and ``reg:<country>:<number>`` — a passport or a registration number with its
  country (the identifier's own, else the entry's only nationality or country); without a country no key, since a
  bare number is no proof of identity;
* ``uksl:<ref>`` and ``ofsi:<group id>`` — the UK Sanctions List reference and the OFSI group id, shared by the two
  UK lists; ``ofac:<entity number>`` of the OFAC lists;
* OpenSanctions referents naming those ids (``ofac-13168``, ``gb-hmt-13141``, ``gb-fcdo-AQD0002``).

Keys are computed once per list version and stored (``listing_keys``), so the links are a function of the active
versions alone and can be reproduced. Entries sharing a key are linked, transitively (a union-find over the active
entries), except that a key carried by two entries of the *same* source is ambiguous and links nothing. Each linked
component is a subject, named by its preferred key (the UN reference when it has one); :func:`relink` recomputes
them whenever a version becomes active and reports which entries moved to another subject, so cases follow.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, insert, select, text
from sqlalchemy.orm import Session

from kyc import crypto
from kyc.entry import Entry
from kyc.errors import NotFound
from kyc.storage.base import utcnow
from kyc.storage.cases import DesignatedSubject, KeyedVersion, Listing, ListingKey
from kyc.storage.lists import ListEntry, ListSource, ListVersion

MIN_NUMBER = 5
"""Shorter document numbers (``123``) are too likely to repeat by chance to link anything."""
SOURCE_ORDER = ("un_sc", "eu_fsf", "uk_fcdo", "uk_ofsi", "ofac_sdn", "ofac_cons", "us_csl", "ca_sema", "au_dfat")
"""Whose name and schema a subject shows first: the originating designation before the lists that follow it."""

_NOT_ALNUM = re.compile(r"[^0-9A-Z]")
RELINK_LOCK = 0x6B79_6301
"""The advisory lock key of :func:`relink` (any constant no other part of the service uses)."""


def _number(value: str) -> str:
    return _NOT_ALNUM.sub("", value.upper())


def _sole(values: Sequence[str]) -> str | None:
    unique = set(values)
    return next(iter(unique)) if len(unique) == 1 else None


def entry_keys(entry: Entry) -> set[str]:
    """The keys that may link this entry to entries of other sources."""
    keys: set[str] = set()
    if entry.un_ref:
        keys.add(f"un:{entry.un_ref.strip().upper()}")
    if entry.source == "uk_ofsi":
        keys.add(f"ofsi:{entry.source_ref}")
    if entry.source in ("ofac_sdn", "ofac_cons"):
        keys.add(f"ofac:{entry.source_ref}")
    for referent in entry.referents:
        key = _referent_key(referent)
        if key:
            keys.add(key)
    for identifier in entry.identifiers:
        kind, number = identifier.type.casefold(), _number(identifier.number)
        if len(number) < MIN_NUMBER and kind != "ofsi_group_id":
            continue
        if "imo" in kind:
            keys.add(f"imo:{number}")
        elif kind == "ofsi_group_id":
            keys.add(f"ofsi:{identifier.number.strip()}")
        elif kind == "uk_sanctions_list_ref":
            keys.add(f"uksl:{number}")
        elif "passport" in kind:
            country = identifier.country or _sole(entry.nationalities)
            if country:
                keys.add(f"passport:{country}:{number}")
        elif "registration" in kind or kind in ("company_number", "business_id", "ogrn", "inn", "tax_number"):
            country = identifier.country or _sole(entry.countries)
            if country:
                keys.add(f"reg:{country}:{number}")
    return keys


REFERENT_PREFIXES = {"ofac-": "ofac", "gb-hmt-": "ofsi", "gb-fcdo-": "uksl"}
"""OpenSanctions referent prefixes whose rest is the id another source uses: OFAC's entity number, OFSI's group
id, the UK Sanctions List reference."""


def _referent_key(referent: str) -> str | None:
    for prefix, kind in REFERENT_PREFIXES.items():
        if referent.startswith(prefix):
            rest = referent.removeprefix(prefix)
            return f"{kind}:{_number(rest) if kind == 'uksl' else rest}" if rest else None
    return None


def store_keys(session: Session, version_id: int, entries: Iterable[Entry]) -> int:
    """Store the keys of a version's entries (once per version)."""
    if session.get(KeyedVersion, version_id) is not None:
        return 0
    rows = [
        {"version_id": version_id, "source_ref": entry.source_ref, "key": key}
        for entry in entries
        for key in sorted(entry_keys(entry))
    ]
    if rows:
        session.execute(insert(ListingKey), rows)
    session.add(KeyedVersion(version_id=version_id, keys=len(rows), computed_at=utcnow()))
    session.flush()
    return len(rows)


def _ensure_keys(session: Session, version_ids: Sequence[int]) -> None:
    done = set(
        session.execute(select(KeyedVersion.version_id).where(KeyedVersion.version_id.in_(version_ids))).scalars()
    )
    for version_id in version_ids:
        if version_id not in done:
            data = session.execute(select(ListEntry.data).where(ListEntry.version_id == version_id)).scalars()
            store_keys(session, version_id, (Entry.from_data(item) for item in data))


Node = tuple[str, str]
"""``(source, source_ref)``"""


@dataclass(frozen=True)
class Component:
    key: str
    members: dict[Node, list[str]]
    """Each entry and the keys it shares with the others."""


def components(keyed: Iterable[tuple[str, str, str]]) -> list[Component]:
    """Linked components of ``(source, source_ref, key)`` rows: pure, so the linking rule is testable alone.

    A component is named by a UN reference any member carries (shared or not, so the name does not depend on which
    other lists are ingested), else by its smallest shared key."""
    by_key: dict[str, set[Node]] = defaultdict(set)
    own: dict[Node, set[str]] = defaultdict(set)
    for source, ref, key in keyed:
        by_key[key].add((source, ref))
        own[(source, ref)].add(key)
    parent: dict[Node, Node] = {}

    def find(node: Node) -> Node:
        parent.setdefault(node, node)
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    usable: dict[str, set[Node]] = {}
    for key, nodes in by_key.items():
        sources = [source for source, _ in nodes]
        if len(nodes) < 2 or len(set(sources)) != len(sources):
            continue  # alone, or ambiguous: two entries of one source carry it
        usable[key] = nodes
        first, *rest = sorted(nodes)
        for node in rest:
            parent[find(node)] = find(first)
    groups: dict[Node, dict[Node, list[str]]] = defaultdict(lambda: defaultdict(list))
    for key, nodes in usable.items():
        for node in nodes:
            groups[find(node)][node].append(key)
    found = []
    for members in groups.values():
        keys = {key for shared in members.values() for key in shared}
        un = sorted(key for node in members for key in own[node] if key.startswith("un:"))
        found.append(Component(un[0] if un else min(keys), {node: sorted(k) for node, k in members.items()}))
    return sorted(found, key=lambda c: c.key)


def active_versions(session: Session) -> dict[str, int]:
    rows = session.execute(
        select(ListSource.name, ListSource.active_version_id).where(ListSource.active_version_id.is_not(None))
    )
    return {source: version_id for source, version_id in rows if version_id is not None}


@dataclass(frozen=True)
class Relinked:
    subjects: int
    listings: int
    moved: dict[Node, str]
    """Entries whose subject key changed: ``(source, source_ref)`` -> the new key (:func:`subject_key`)."""


def relink(session: Session) -> Relinked:
    """Recompute subjects and listings over the active versions; idempotent for unchanged versions.

    Ingestions of different sources may run at once (one worker task per source): on PostgreSQL they take turns
    here, under a transaction-scoped advisory lock, so each sees the other's listings (SQLite serialises writers)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": RELINK_LOCK})
    versions = active_versions(session)
    by_version = {version_id: source for source, version_id in versions.items()}
    _ensure_keys(session, list(by_version))
    rows = session.execute(
        select(ListingKey.version_id, ListingKey.source_ref, ListingKey.key).where(
            ListingKey.version_id.in_(list(by_version))
        )
    )
    found = components((by_version[version_id], ref, key) for version_id, ref, key in rows)
    old = {
        (source, ref): (subject_key, version_id, basis)
        for source, ref, subject_key, version_id, basis in session.execute(
            select(Listing.source, Listing.source_ref, DesignatedSubject.key, Listing.version_id, Listing.basis).join(
                DesignatedSubject, DesignatedSubject.id == Listing.subject_id
            )
        )
    }
    subjects = {row.key: row for row in session.execute(select(DesignatedSubject)).scalars()}
    moment = utcnow()
    wanted: dict[Node, tuple[str, int, list[str]]] = {}
    for component in found:
        for node, basis in component.members.items():
            wanted[node] = (component.key, versions[node[0]], basis)
        _upsert_subject(session, subjects, component, versions, moment)
    session.flush()
    stale = [node for node in old if node not in wanted or old[node] != wanted[node]]
    for source, ref in stale:
        session.execute(delete(Listing).where(Listing.source == source, Listing.source_ref == ref))
    fresh = [node for node in wanted if node not in old or old[node] != wanted[node]]
    if fresh:
        session.execute(
            insert(Listing),
            [
                {
                    "subject_id": subjects[wanted[node][0]].id,
                    "source": node[0],
                    "source_ref": node[1],
                    "version_id": wanted[node][1],
                    "basis": wanted[node][2],
                    "linked_at": moment,
                }
                for node in fresh
            ],
        )
    unused = set(subjects) - {component.key for component in found}
    if unused:
        session.execute(delete(DesignatedSubject).where(DesignatedSubject.key.in_(sorted(unused))))
    moved = {
        node: subject_key(node[0], node[1], wanted[node][0] if node in wanted else None)
        for node in set(stale) | set(fresh)
        if (old[node][0] if node in old else None) != (wanted[node][0] if node in wanted else None)
    }
    session.flush()
    return Relinked(len(found), len(wanted), moved)


def _upsert_subject(
    session: Session,
    subjects: dict[str, DesignatedSubject],
    component: Component,
    versions: Mapping[str, int],
    moment: Any,
) -> None:
    lead = min(component.members, key=lambda node: (_rank(node[0]), node))
    entry = session.execute(
        select(ListEntry.schema, ListEntry.data).where(
            ListEntry.version_id == versions[lead[0]], ListEntry.source_ref == lead[1]
        )
    ).first()
    schema = entry.schema if entry else "LegalEntity"
    name = Entry.from_data(entry.data).primary_name if entry else component.key
    row = subjects.get(component.key)
    if row is None:
        row = DesignatedSubject(
            key=component.key, schema=schema, name=name[:1000], created_at=moment, updated_at=moment
        )
        session.add(row)
        subjects[component.key] = row
    elif (row.schema, row.name) != (schema, name[:1000]):
        row.schema, row.name, row.updated_at = schema, name[:1000], moment


def _rank(source: str) -> int:
    return SOURCE_ORDER.index(source) if source in SOURCE_ORDER else len(SOURCE_ORDER)


def subject_key(source: str, source_ref: str, linked: str | None) -> str:
    """What a case groups on: the subject's key when the entry is linked, else the entry itself."""
    return f"subject:{linked}" if linked else f"entry:{source}:{source_ref}"


def subject_keys(session: Session, nodes: Iterable[Node]) -> dict[Node, str]:
    """The case key of each ``(source, source_ref)``."""
    wanted = set(nodes)
    linked: dict[Node, str] = {}
    refs = sorted({ref for _, ref in wanted})
    for start in range(0, len(refs), 500):
        rows = session.execute(
            select(Listing.source, Listing.source_ref, DesignatedSubject.key)
            .join(DesignatedSubject, DesignatedSubject.id == Listing.subject_id)
            .where(Listing.source_ref.in_(refs[start : start + 500]))
        )
        for source, ref, key in rows:
            if (source, ref) in wanted:
                linked[(source, ref)] = key
    return {node: subject_key(node[0], node[1], linked.get(node)) for node in wanted}


@dataclass(frozen=True)
class ListingView:
    """One listing of a subject as the officer compares them: source, programme, date, names, identifiers."""

    source: str
    source_ref: str
    version_id: int
    basis: list[str]
    schema: str
    names: list[dict[str, Any]]
    programs: list[str]
    listed_on: str | None
    identifiers: list[dict[str, Any]]
    birth_dates: list[dict[str, Any]]
    nationalities: list[str]
    un_ref: str | None


@dataclass(frozen=True)
class SubjectView:
    key: str
    """``subject:<key>`` or ``entry:<source>:<source_ref>`` (an unlinked entry: one listing)."""
    name: str
    schema: str
    listings: list[ListingView]


def _listing_view(source: str, ref: str, version_id: int, basis: list[str], data: dict[str, Any]) -> ListingView:
    masked = crypto.mask_entry(data)
    return ListingView(
        source=source,
        source_ref=ref,
        version_id=version_id,
        basis=basis,
        schema=str(masked.get("schema", "")),
        names=list(masked.get("names", [])),
        programs=list(masked.get("programs", [])),
        listed_on=masked.get("listed_on"),
        identifiers=list(masked.get("identifiers", [])),
        birth_dates=list(masked.get("birth_dates", [])),
        nationalities=list(masked.get("nationalities", [])),
        un_ref=masked.get("un_ref"),
    )


def subject_of(session: Session, key: str) -> SubjectView:
    """A case key's subject with every listing side by side (from each listing's active version)."""
    if key.startswith("entry:"):
        _, source, ref = key.split(":", 2)
        version_id = active_versions(session).get(source)
        data = (
            session.execute(
                select(ListEntry.data).where(ListEntry.version_id == version_id, ListEntry.source_ref == ref)
            ).scalar_one_or_none()
            if version_id
            else None
        )
        if data is None:
            return SubjectView(key, ref, "", [])
        view = _listing_view(source, ref, int(version_id or 0), [], data)
        return SubjectView(key, Entry.from_data(data).primary_name, view.schema, [view])
    if not key.startswith("subject:"):
        return SubjectView(key, key, "", [])
    subject = session.execute(
        select(DesignatedSubject).where(DesignatedSubject.key == key.removeprefix("subject:"))
    ).scalar_one_or_none()
    if subject is None:
        return SubjectView(key, key.removeprefix("subject:"), "", [])
    rows = session.execute(
        select(Listing.source, Listing.source_ref, Listing.version_id, Listing.basis, ListEntry.data)
        .join(ListEntry, (ListEntry.version_id == Listing.version_id) & (ListEntry.source_ref == Listing.source_ref))
        .where(Listing.subject_id == subject.id)
    ).all()
    listings = sorted(
        (_listing_view(source, ref, version_id, basis, data) for source, ref, version_id, basis, data in rows),
        key=lambda item: (_rank(item.source), item.source, item.source_ref),
    )
    return SubjectView(key, subject.name, subject.schema, listings)


def subject_of_entry(session: Session, source: str, source_ref: str) -> SubjectView:
    """The subject an entry of a source designates, with every listing (the entry alone when it is unlinked)."""
    return subject_of(session, subject_keys(session, [(source, source_ref)])[(source, source_ref)])


@dataclass(frozen=True)
class EntryView:
    source: str
    source_ref: str
    version_id: int
    entry: dict[str, Any]
    """As stored in the version, identity codes masked."""
    subject: SubjectView


def entry_view(session: Session, version_id: int, source_ref: str) -> EntryView:
    """An entry of a version beside its designated subject with every listing (the entry's detail)."""
    version = session.get(ListVersion, version_id)
    data = (
        session.execute(
            select(ListEntry.data).where(ListEntry.version_id == version_id, ListEntry.source_ref == source_ref)
        ).scalar_one_or_none()
        if version is not None
        else None
    )
    if version is None or data is None:
        raise NotFound(f"entry {source_ref} not found in list version {version_id}")
    return EntryView(
        version.source,
        source_ref,
        version_id,
        crypto.mask_entry(data),
        subject_of_entry(session, version.source, source_ref),
    )


def entry_subject(session: Session, version_id: int, source_ref: str) -> SubjectView:
    """The subject of an entry of a version (its detail view shows every listing of it)."""
    version = session.get(ListVersion, version_id)
    if version is None:
        raise NotFound(f"list version {version_id} not found")
    return subject_of_entry(session, version.source, source_ref)
