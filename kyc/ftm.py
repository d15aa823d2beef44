"""List entries as FollowTheMoney entities: the data model OpenSanctions, yente, nomenklatura and Aleph speak.

Pure translation, no storage: ``entity_id`` names an entry the same way in every list version (source plus the
source's own reference), so a client that stored an id (a dismissed match, an ``exclude_entity_ids`` list) finds
the same designation after the next ingestion. Property names, schemata and topics are FollowTheMoney's and
OpenSanctions' (``sanction``, ``role.pep``, ``role.rca``); country codes are lower-case ISO 3166-1 as FtM writes them.
Finnish personal identity codes are masked (``kyc.crypto.redact``), as in every answer of the service.

``to_entity`` gives the flat entity (what ``/match`` and ``/search`` return, and what ``kyc lists export --format
ftm`` writes); ``nested_entity`` adds the adjacent entities OpenSanctions attaches to a listed person or company: its
sanctions (programme, authority, listing date), PEP occupancies of positions, family members and associates.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kyc.crypto import redact
from kyc.entry import Entry, NameKind, Position, Relation

SCHEMA = {
    "Person": "Person",
    "Organization": "Organization",
    "LegalEntity": "LegalEntity",
    "Vessel": "Vessel",
    "Aircraft": "Airplane",
}
"""Our entry schema -> the FollowTheMoney schema (FtM calls an aircraft ``Airplane``)."""

SOURCE_TITLES: Mapping[str, str] = {
    "un_sc": "UN Security Council Consolidated Sanctions List",
    "eu_fsf": "EU Financial Sanctions Files (FSF)",
    "ofac_sdn": "US OFAC Specially Designated Nationals (SDN) List",
    "ofac_cons": "US OFAC Consolidated (non-SDN) List",
    "us_csl": "US Trade Consolidated Screening List",
    "uk_ofsi": "UK HM Treasury OFSI Consolidated List",
    "uk_fcdo": "UK Sanctions List (FCDO)",
    "ca_sema": "Canada Consolidated Autonomous Sanctions List (SEMA)",
    "au_dfat": "Australia DFAT Consolidated Sanctions List",
    "fi_national": "Finland National Asset Freezing List",
    "opensanctions": "OpenSanctions (PEPs and relations)",
    "everypolitician": "EveryPolitician (members of parliament)",
}
"""Dataset titles; a source missing here is titled by its name."""

AUTHORITIES: Mapping[str, str] = {
    "un_sc": "United Nations Security Council",
    "eu_fsf": "Council of the European Union",
    "ofac_sdn": "US Office of Foreign Assets Control",
    "ofac_cons": "US Office of Foreign Assets Control",
    "us_csl": "US Department of Commerce (International Trade Administration)",
    "uk_ofsi": "HM Treasury Office of Financial Sanctions Implementation",
    "uk_fcdo": "UK Foreign, Commonwealth and Development Office",
    "ca_sema": "Global Affairs Canada",
    "au_dfat": "Australian Department of Foreign Affairs and Trade",
    "fi_national": "Finnish National Bureau of Investigation (asset freezing)",
}

_SAFE_REF = re.compile(r"[^A-Za-z0-9.-]+")


def entity_id(source: str, source_ref: str) -> str:
    """``un-sc-QDi.430``: stable across versions, and a valid FtM id (letters, digits, dots and dashes, starting
    and ending with a letter or digit). A reference with other characters (spaces, slashes, underscores) is written
    with dashes plus a short hash of the original, so two references never share an id."""
    safe = _SAFE_REF.sub("-", source_ref).strip("-.")
    if safe != source_ref or not safe:
        digest = hashlib.sha256(source_ref.encode()).hexdigest()[:8]
        safe = f"{safe}-{digest}" if safe else digest
    return f"{source.replace('_', '-')}-{safe}"


@dataclass(frozen=True)
class Seen:
    """When the entry was first and last seen (the list version's dates), in yente's ISO form (seconds, no zone)."""

    first_seen: str | None = None
    last_seen: str | None = None
    last_change: str | None = None


def iso_seconds(moment: datetime | None) -> str | None:
    return moment.replace(tzinfo=None, microsecond=0).isoformat() if moment is not None else None


def _identifier_property(schema: str, kind: str) -> str:
    """Where an identifier goes in FtM: a passport on a person, an IMO number on a vessel, a registration or tax
    number on a company; anything else is an ``idNumber`` (``registrationNumber`` on craft, which have no idNumber)."""
    kind = kind.lower()
    if schema in ("Vessel", "Airplane"):
        return "imoNumber" if schema == "Vessel" and "imo" in kind else "registrationNumber"
    if "passport" in kind and schema == "Person":
        return "passportNumber"
    if "tax" in kind or "vat" in kind or kind == "inn":
        return "taxNumber"
    if schema != "Person" and ("registration" in kind or "company" in kind or "business" in kind):
        return "registrationNumber"
    return "idNumber"


def properties(entry: Entry) -> dict[str, list[str]]:
    """The entry's FtM properties (names, dates, countries, identifiers, programmes, topics), without empties."""
    schema = SCHEMA[entry.schema_.value]
    props: dict[str, list[str]] = {}

    def add(prop: str, value: str | None) -> None:
        if value:
            value = redact(value)  # a listed person's identity code is masked like a party's
            values = props.setdefault(prop, [])
            if value not in values:
                values.append(value)

    for name in entry.names:
        add({NameKind.WEAK_ALIAS: "weakAlias", NameKind.PRIMARY: "name"}.get(name.kind, "alias"), name.value)
    if "name" not in props:  # every FtM entity has a name: the strongest alias then
        props["name"] = [entry.primary_name]
        if entry.primary_name in props.get("alias", []):
            props["alias"].remove(entry.primary_name)
            if not props["alias"]:
                del props["alias"]
    if schema == "Person":
        add("gender", entry.gender)
        for born in entry.birth_dates:
            add("birthDate", born.date)
            add("birthDate", born.end)
        for place in entry.birth_places:
            add("birthPlace", place)
        for country in entry.nationalities:
            add("nationality", country.lower())
        for position in entry.positions:
            add("position", position.role)
    for country in entry.countries:
        add("flag" if schema == "Vessel" else "country", country.lower())
    for ident in entry.identifiers:
        add(_identifier_property(schema, ident.type), ident.number)
    for address in entry.addresses:
        add("address", address)
    for program in entry.programs:
        add("programId", program)
    for topic in entry.topics:
        add("topics", topic)
    add("notes", entry.remarks)
    return props


def to_entity(entry: Entry, seen: Seen | None = None) -> dict[str, Any]:
    """The flat FtM entity of an entry: ``{id, caption, schema, properties, datasets, referents, target, ...}``."""
    when = seen or Seen()
    props = properties(entry)
    return {
        "id": entity_id(entry.source, entry.source_ref),
        "caption": entry.primary_name,
        "schema": SCHEMA[entry.schema_.value],
        "properties": props,
        "datasets": [entry.source],
        "referents": [],
        "target": True,
        "first_seen": when.first_seen,
        "last_seen": when.last_seen,
        "last_change": when.last_change,
    }


def _stub(
    entry_id: str, suffix: str, schema: str, caption: str, props: dict[str, list[Any]], source: str
) -> dict[str, Any]:
    return {
        "id": f"{entry_id}-{suffix}",
        "caption": caption,
        "schema": schema,
        "properties": {k: v for k, v in props.items() if v},
        "datasets": [source],
        "referents": [],
        "target": False,
    }


def sanction(entry: Entry) -> dict[str, Any] | None:
    """The ``Sanction`` of a listed entry: programme, authority, listing date, the UN reference."""
    if "sanction" not in entry.topics and not entry.programs:
        return None
    eid = entity_id(entry.source, entry.source_ref)
    props: dict[str, list[Any]] = {
        "entity": [eid],
        "program": list(entry.programs),
        "authority": [AUTHORITIES[entry.source]] if entry.source in AUTHORITIES else [],
        "listingDate": [entry.listed_on] if entry.listed_on else [],
        "unscId": [entry.un_ref] if entry.un_ref else [],
        "authorityId": [entry.source_ref],
    }
    caption = ", ".join(entry.programs) or SOURCE_TITLES.get(entry.source, entry.source)
    return _stub(eid, "sanction", "Sanction", caption, props, entry.source)


def _position_suffix(position: Position) -> str:
    key = "|".join([position.role, position.country or "", position.body or "", position.start or ""])
    return hashlib.sha256(key.encode()).hexdigest()[:10]


def occupancy(entry: Entry, position: Position) -> dict[str, Any]:
    """A PEP's ``Occupancy`` of a ``Position`` (nested as the position itself under ``post``)."""
    eid = entity_id(entry.source, entry.source_ref)
    suffix = _position_suffix(position)
    post = _stub(
        eid,
        f"position-{suffix}",
        "Position",
        position.role,
        {
            "name": [position.role],
            "country": [position.country.lower()] if position.country else [],
            "organization": [position.body] if position.body else [],
            "topics": ["role.pep"],
        },
        entry.source,
    )
    status = "ended" if position.end else "current"
    return _stub(
        eid,
        f"occupancy-{suffix}",
        "Occupancy",
        position.role,
        {
            "holder": [eid],
            "post": [post],
            "startDate": [position.start] if position.start else [],
            "endDate": [position.end] if position.end else [],
            "status": [status],
        },
        entry.source,
    )


def relation(
    entry: Entry, rel: Relation, related: Callable[[str], dict[str, Any] | None], index: int
) -> tuple[str, dict[str, Any]]:
    """A family membership (``familyPerson``) or close association (``associates``) between persons, with the other
    person nested when the source lists them in their own right; a link involving a company is an ``UnknownLink``
    (``unknownLinkTo``), as FtM has family and associates only between persons."""
    eid = entity_id(entry.source, entry.source_ref)
    person = SCHEMA[entry.schema_.value] == "Person"
    other = related(rel.other_ref) if rel.other_ref else None
    if other is None:
        props = {"name": [rel.other_name] if rel.other_name else []}
        other = _stub(
            eid,
            f"related-{index}",
            "Person" if person else "LegalEntity",
            rel.other_name or "unknown",
            props,
            entry.source,
        )
    description = [rel.description] if rel.description else []
    links: dict[str, list[Any]]
    if person and other["schema"] == "Person":
        if rel.kind == "family":
            links = {"person": [eid], "relative": [other], "relationship": description}
            return "familyPerson", _stub(
                eid, f"family-{index}", "Family", rel.description or "family", links, entry.source
            )
        links = {"person": [eid], "associate": [other], "relationship": description}
        return "associates", _stub(
            eid, f"associate-{index}", "Associate", rel.description or "associate", links, entry.source
        )
    links = {"subject": [eid], "object": [other], "role": description}
    return "unknownLinkTo", _stub(
        eid, f"link-{index}", "UnknownLink", rel.description or "linked to", links, entry.source
    )


def nested_entity(
    entry: Entry, seen: Seen | None = None, related: Callable[[str], Entry | None] | None = None
) -> dict[str, Any]:
    """The entity with its adjacent entities nested, as yente's ``/entities/{id}?nested=true`` answers.

    ``related`` finds another entry of the same source by its ``source_ref`` (a relative listed in their own right).
    """
    entity = to_entity(entry, seen)
    props: dict[str, list[Any]] = entity["properties"]
    found = sanction(entry)
    if found is not None:
        props["sanctions"] = [found]
    if entry.positions and SCHEMA[entry.schema_.value] == "Person":
        props["positionOccupancies"] = [occupancy(entry, p) for p in entry.positions]

    def other(ref: str) -> dict[str, Any] | None:
        found_entry = related(ref) if related is not None else None
        return to_entity(found_entry) if found_entry is not None else None

    for index, rel in enumerate(entry.relations):
        prop, value = relation(entry, rel, other, index)
        props.setdefault(prop, []).append(value)
    return entity


def flatten(entity: dict[str, Any]) -> list[dict[str, Any]]:
    """A nested entity as flat FtM entities, each nested one replaced by its id (what FtM JSON lines hold)."""
    out: list[dict[str, Any]] = []
    seen: set[str] = set()

    def walk(node: dict[str, Any]) -> str:
        flat = {k: v for k, v in node.items() if k != "properties"}
        props: dict[str, list[Any]] = {}
        flat["properties"] = props
        if node["id"] not in seen:
            seen.add(node["id"])
            out.append(flat)
        for prop, values in node.get("properties", {}).items():
            props[prop] = [walk(v) if isinstance(v, dict) else v for v in values]
        return str(node["id"])

    walk(entity)
    return out


def export_entities(entries: list[Entry], seen: Seen | None = None) -> list[dict[str, Any]]:
    """Every entry of one list version with its sanctions, positions and relations, as flat FtM entities."""
    by_ref = {entry.source_ref: entry for entry in entries}
    out: list[dict[str, Any]] = []
    for entry in entries:
        out.extend(flatten(nested_entity(entry, seen, by_ref.get)))
    return out
