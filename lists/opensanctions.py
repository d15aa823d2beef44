"""OpenSanctions exports: FollowTheMoney ``entities.ftm.json``, ``entities.delta.json`` and ``senzing.json``.

All three are JSON lines; the format is recognised per file from its first record, and one file set may mix them
(an FtM export plus a Senzing export): entries are merged by ``source_ref`` (the OpenSanctions entity id, or
Senzing ``RECORD_ID``, which is the same id space), so every ``source_ref`` is unique in the result.

FollowTheMoney (FtM) is a graph. Only *thing* schemata become entries (Person, Organization, Company, PublicBody,
LegalEntity, Vessel, Airplane); the interval and detail schemata are folded into the things they point at:

- ``Occupancy`` (holder -> post) + ``Position`` become the holder's :class:`~kyc.entry.Position`: role = the
  position's name, country = the position's country, start/end = the occupancy's dates. Every holder of an
  occupancy is an office holder and gets the topic ``role.pep``, with or without a resolvable position.
- ``Family`` (person, relative, relationship) becomes a ``family`` :class:`~kyc.entry.Relation` on *both* people;
  ``Associate`` an ``associate`` one; ``UnknownLink`` and ``Ownership`` ``associate`` ones too. ``description``
  is always what *this* entry is to the other one, so that ``"<description> of <other_name>"`` reads right: FtM's
  ``relationship`` is what the relative is to the person ("son"), which is the relative's description; the
  person's side gets the inverse ("father", by the person's gender where the source gives it).
- A person related through ``Family`` or ``Associate`` to a PEP, who holds no office, gets ``role.rca``.
- ``Sanction`` adds its ``program`` to its entity's programs, the topic ``sanction`` and the listing date;
  ``Address``, ``Passport`` and ``Identification`` become addresses and identifiers of the thing they belong to.
- Countries: FtM writes lower-case alpha-2 and a few non-ISO codes; ``kyc.countries.to_country`` keeps the ISO
  ones (``suhh``, the Soviet Union, is dropped; a subdivision such as ``gb-nir`` becomes its country, ``GB``),
  and ``eu`` / ``zz`` (European Union, unknown) are not countries anyone holds, so they are dropped.
- Publication date: the latest ``last_change`` (Senzing ``LAST_CHANGE``) in the file set.

Quirks of the real files handled here:

- The user-run Saudi PEP crawl (``sa_wiki_peps_v2``) writes ``Occupancy`` without its ``post`` property. Its
  occupancy ids are zavod's ``<prefix>-sha1(dataset + position id)``, so the post is recovered from the id
  (100 of its 102 occupancies; the other two name positions that are not in the file). Such an id is shared by
  every holder of the post, with all their dates merged into one entity: dates are kept only when the occupancy
  has a single holder (earliest start; latest end, and none if some start has no end, i.e. still in office).
- The same crawl writes some property values as a bare string (``"birthDate": "1986-08-07"``) instead of a list,
  and a person with no ``name`` (its aliases stand in). A bare string is read as one value; objects are ignored.
- Person ``position`` is free text in every language the sources use; it is kept in the remarks, not as a
  :class:`~kyc.entry.Position`: only an ``Occupancy`` says that someone really held a public function.

A **delta** (``entities.delta.json``: ``{"op": "ADD"|"MOD"|"DEL", "entity": {...}}``) is not a full list: it is
ingested as the final state of the entities it adds or modifies (a later line for the same id replaces an earlier
one, a ``DEL`` removes an entity the same file set added), and ``DEL`` lines for other ids are ignored because they
carry nothing but an id. A list version is always a full list, so ingesting a delta after a full export is a big
shrink, which :func:`kyc.versions.store_version` rejects unless the operator allows it.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from rigour.text.scripts import is_latin

from kyc.countries import to_country
from kyc.entry import Entry, Identifier, Name, NameKind, PartialDate, Position, Relation, Schema, unique, unique_names
from kyc.versions import ParsedList, RawFile
from lists.base import Adapter, ParseError, clean, decode_text, partial_date
from lists.names import listed_names

Json = dict[str, Any]
Format = Literal["ftm", "delta", "senzing"]

THING_SCHEMATA: dict[str, Schema] = {
    "Person": Schema.PERSON,
    "Organization": Schema.ORGANIZATION,
    "Company": Schema.ORGANIZATION,
    "PublicBody": Schema.ORGANIZATION,
    "LegalEntity": Schema.LEGAL_ENTITY,
    "Vessel": Schema.VESSEL,
    "Airplane": Schema.AIRCRAFT,
}
_NOT_COUNTRIES = frozenset({"EU", "ZZ"})
_IDENTIFIER_PROPS = {
    "idNumber": "national_id",
    "passportNumber": "passport",
    "taxNumber": "tax",
    "registrationNumber": "registration",
    "imoNumber": "imo",
    "innCode": "inn",
    "ogrnCode": "ogrn",
    "leiCode": "lei",
    "swiftBic": "swift",
    "mmsi": "mmsi",
    "wikidataId": "wikidata",
}
_DETAIL_HOLDERS = {"Passport": "holder", "Identification": "holder"}
# Link schema -> (relation kind, side A property, side B property, property describing B to A).
_LINKS: dict[str, tuple[Literal["family", "associate"], str, str, str | None]] = {
    "Family": ("family", "person", "relative", "relationship"),
    "Associate": ("associate", "person", "associate", "relationship"),
    "UnknownLink": ("associate", "subject", "object", "role"),
    "Ownership": ("associate", "owner", "asset", "role"),
}
_RCA_LINKS = frozenset({"Family", "Associate"})
# What A is to B, given what B is to A and A's gender (male, female, unknown).
_INVERSE: dict[str, tuple[str, str, str]] = {
    "son": ("father", "mother", "parent"),
    "daughter": ("father", "mother", "parent"),
    "child": ("father", "mother", "parent"),
    "father": ("son", "daughter", "child"),
    "mother": ("son", "daughter", "child"),
    "parent": ("son", "daughter", "child"),
    "wife": ("husband", "wife", "spouse"),
    "husband": ("husband", "wife", "spouse"),
    "spouse": ("husband", "wife", "spouse"),
    "brother": ("brother", "sister", "sibling"),
    "sister": ("brother", "sister", "sibling"),
    "sibling": ("sibling", "sibling", "sibling"),
}


class OpenSanctionsAdapter(Adapter):
    source = "opensanctions"
    title = "OpenSanctions (FollowTheMoney and Senzing exports; PEPs and consolidated sanctions)"
    default_url = "https://data.opensanctions.org/datasets/latest/peps/entities.ftm.json"
    parser_version = "2"
    """2: bundled names split into their spellings (``lists.names``); referents kept for subject linking."""

    def parse(self, files: Sequence[RawFile]) -> ParsedList:
        if not files:
            raise ParseError("no files given")
        graph = _Graph()
        senzing: list[tuple[str, int, Json]] = []
        formats: list[str] = []
        for raw in files:
            fmt = _read_file(raw, graph, senzing)
            formats.append(fmt)
        entries: dict[str, Entry] = {}
        for entry in graph.entries() + _senzing_entries(senzing):
            current = entries.get(entry.source_ref)
            entries[entry.source_ref] = entry if current is None else merge_entries(current, entry)
        if not entries:
            raise ParseError(f"{', '.join(f.name for f in files)}: no persons, organisations or vessels")
        stamps = graph.last_changes + [str(r.get("LAST_CHANGE") or "") for _, _, r in senzing]
        return ParsedList(
            entries=list(entries.values()),
            file_format="+".join(sorted(set(formats))),
            published_at=_latest(stamps),
            dated_by_file=False,
            warnings=graph.warnings,
        )


# --- reading ---------------------------------------------------------------------------------------------------


def json_lines(raw: RawFile) -> Iterator[tuple[int, Json]]:
    """Each non-blank line as a JSON object, with its 1-based line number for error messages."""
    for number, line in enumerate(decode_text(raw).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ParseError(f"{raw.name}: line {number}: not valid JSON ({exc.msg})") from exc
        if not isinstance(record, dict):
            raise ParseError(f"{raw.name}: line {number}: expected a JSON object, got {type(record).__name__}")
        yield number, record


def _detect(record: Json) -> Format:
    if "op" in record and "entity" in record:
        return "delta"
    if "RECORD_ID" in record or "DATA_SOURCE" in record:
        return "senzing"
    return "ftm"


def _read_file(raw: RawFile, graph: _Graph, senzing: list[tuple[str, int, Json]]) -> Format:
    fmt: Format | None = None
    for number, record in json_lines(raw):
        fmt = fmt or _detect(record)
        where = f"{raw.name}: line {number}"
        if _detect(record) != fmt:
            raise ParseError(f"{where}: a {_detect(record)} record in a {fmt} file")
        if fmt == "senzing":
            if not record.get("RECORD_ID"):
                raise ParseError(f"{where}: Senzing record without RECORD_ID")
            senzing.append((raw.name, number, record))
        elif fmt == "delta":
            graph.apply_delta(record, where)
        else:
            graph.add(record, where)
    if fmt is None:
        raise ParseError(f"{raw.name}: the file holds no records")
    return fmt


def _latest(stamps: Iterable[str]) -> datetime | None:
    values = [s for s in stamps if s]
    if not values:
        return None
    try:
        latest = datetime.fromisoformat(max(values))
    except ValueError:
        return None
    return latest if latest.tzinfo else latest.replace(tzinfo=UTC)


def values(entity: Json, prop: str) -> list[str]:
    """A property's values; the Saudi crawl sometimes writes a bare string or a number instead of a list."""
    raw = entity.get("properties", {}).get(prop)
    items = raw if isinstance(raw, list) else [raw]
    out = []
    for item in items:
        if isinstance(item, str | int) and not isinstance(item, bool):
            text = clean(str(item))
            if text:
                out.append(text)
    return out


def country(value: str) -> str | None:
    code = to_country(value)
    if code is None and "-" in value:
        code = to_country(value.split("-", 1)[0])  # gb-nir -> GB
    return None if code in _NOT_COUNTRIES else code


def countries(texts: Iterable[str]) -> tuple[str, ...]:
    return unique(code for text in texts if (code := country(text)))


def _date(value: str) -> PartialDate | None:
    return partial_date(value[:10])


# --- the FtM graph ---------------------------------------------------------------------------------------------


@dataclass
class _Graph:
    entities: dict[str, Json] = field(default_factory=dict)
    where: dict[str, str] = field(default_factory=dict)
    referents: dict[str, str] = field(default_factory=dict)
    last_changes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def add(self, entity: Json, where: str) -> None:
        entity_id, schema = entity.get("id"), entity.get("schema")
        if not isinstance(entity_id, str) or not entity_id or not isinstance(schema, str):
            raise ParseError(f"{where}: an FtM entity needs an id and a schema")
        if not isinstance(entity.get("properties", {}), dict):
            raise ParseError(f"{where}: {entity_id}: properties is not an object")
        current = self.entities.get(entity_id)
        if current is not None and current.get("schema") == schema:
            entity = _merge_properties(current, entity)
        self.entities[entity_id] = entity
        self.where[entity_id] = where
        for referent in entity.get("referents") or []:
            if isinstance(referent, str):
                self.referents[referent] = entity_id
        if isinstance(entity.get("last_change"), str):
            self.last_changes.append(entity["last_change"])

    def apply_delta(self, record: Json, where: str) -> None:
        op, entity = record.get("op"), record.get("entity")
        if not isinstance(entity, dict):
            raise ParseError(f"{where}: delta record without an entity object")
        if op == "DEL":
            entity_id = entity.get("id")
            if isinstance(entity_id, str):
                self.entities.pop(entity_id, None)
            return
        if op not in ("ADD", "MOD"):
            raise ParseError(f"{where}: unknown delta op {op!r}")
        self.entities.pop(str(entity.get("id")), None)  # the later state replaces the earlier one
        self.add(entity, where)

    def resolve(self, ref: str) -> str:
        return ref if ref in self.entities else self.referents.get(ref, ref)

    def entries(self) -> list[Entry]:
        folded = _Folded(self)
        things = [e for e in self.entities.values() if e["schema"] in THING_SCHEMATA]
        pep = {e["id"] for e in things if "role.pep" in values(e, "topics") or e["id"] in folded.holders}
        rca = {
            other
            for a, b in folded.rca_pairs
            for person, other in ((a, b), (b, a))
            if person in pep and other not in pep
        }
        self.warnings.extend(folded.warnings)
        return [self._entry(e, folded, e["id"] in pep, e["id"] in rca) for e in things]

    def _entry(self, entity: Json, folded: _Folded, is_pep: bool, is_rca: bool) -> Entry:
        entity_id: str = entity["id"]
        schema = THING_SCHEMATA[entity["schema"]]
        topics = list(values(entity, "topics")) + folded.topics[entity_id]
        if is_pep:
            topics.append("role.pep")
        if is_rca:
            topics.append("role.rca")
        try:
            return Entry(
                source="opensanctions",
                source_ref=entity_id,
                schema_=schema,
                names=self._names(entity, schema),
                gender=_gender(values(entity, "gender")),
                birth_dates=unique(d for v in values(entity, "birthDate") if (d := _date(v))),
                birth_places=unique(values(entity, "birthPlace")),
                nationalities=countries(values(entity, "nationality") + values(entity, "citizenship")),
                countries=countries(
                    values(entity, "country") + values(entity, "jurisdiction") + values(entity, "flag")
                ),
                identifiers=_best_identifiers(_identifiers(entity) + folded.identifiers[entity_id]),
                addresses=unique(values(entity, "address") + folded.addresses[entity_id]),
                programs=unique(values(entity, "program") + values(entity, "programId") + folded.programs[entity_id]),
                topics=unique(topics),
                listed_on=min(folded.listed_on[entity_id], default=None),
                un_ref=next(iter(values(entity, "unscId") + folded.un_refs[entity_id]), None),
                referents=tuple(sorted({r for r in entity.get("referents") or [] if isinstance(r, str) and r})),
                positions=unique(folded.positions[entity_id]),
                relations=unique(folded.relations[entity_id]),
                remarks=_remarks(entity),
            )
        except ValueError as exc:
            raise ParseError(f"{self.where[entity_id]}: {entity_id}: {exc}") from exc

    def _names(self, entity: Json, schema: Schema) -> tuple[Name, ...]:
        primary = values(entity, "name")
        caption = clean(entity.get("caption")) if isinstance(entity.get("caption"), str) else None
        if caption and caption.casefold() in {n.casefold() for n in primary}:
            primary = [caption, *primary]
        aliases = values(entity, "alias") + values(entity, "previousName")
        if not primary:
            primary = aliases[:1] or ([caption] if caption and caption != entity["schema"] else [])
        if not primary:
            raise ParseError(f"{self.where[entity['id']]}: {entity['id']} has no name")
        names = [Name(value=primary[0], kind=NameKind.PRIMARY)]
        names += [Name(value=n, kind=_script_kind(n, NameKind.STRONG_ALIAS)) for n in primary[1:] + aliases]
        names += [Name(value=n, kind=NameKind.WEAK_ALIAS) for n in values(entity, "weakAlias")]
        return listed_names(names, schema)


def _merge_properties(old: Json, new: Json) -> Json:
    """Two records for one id (two files of a set): the union of their values, newer metadata."""
    props: dict[str, list[Any]] = {}
    for source in (old, new):
        for prop, raw in (source.get("properties") or {}).items():
            items = [i for i in (raw if isinstance(raw, list) else [raw]) if isinstance(i, str | int)]
            props[prop] = list(unique([*props.get(prop, []), *items]))
    return {**old, **new, "properties": props}


def _script_kind(name: str, latin_kind: NameKind) -> NameKind:
    return latin_kind if is_latin(name) else NameKind.ORIGINAL_SCRIPT


def _gender(texts: list[str]) -> Literal["male", "female"] | None:
    for text in texts:
        value = text.lower()
        if value in ("male", "m"):
            return "male"
        if value in ("female", "f"):
            return "female"
    return None


def _identifiers(entity: Json) -> list[Identifier]:
    return [
        Identifier(type=kind, number=number)
        for prop, kind in _IDENTIFIER_PROPS.items()
        for number in values(entity, prop)
    ]


def _best_identifiers(found: list[Identifier]) -> tuple[Identifier, ...]:
    """A number given both bare (``passportNumber``) and as a document with its country: keep the document."""
    with_country = {(i.type, i.number) for i in found if i.country}
    return unique(i for i in found if i.country or (i.type, i.number) not in with_country)


def _remarks(entity: Json) -> str | None:
    parts = list(unique(values(entity, "notes")))
    positions = list(unique(values(entity, "position")))
    if positions:
        parts.append("Positions (as the source words them): " + "; ".join(positions))
    died = values(entity, "deathDate")
    if died:
        parts.append(f"Date of death: {died[0]}")
    return "\n".join(parts) or None


@dataclass
class _Folded:
    """What the interval and detail entities say about each thing, keyed by the thing's id."""

    graph: _Graph
    positions: defaultdict[str, list[Position]] = field(default_factory=lambda: defaultdict(list))
    relations: defaultdict[str, list[Relation]] = field(default_factory=lambda: defaultdict(list))
    programs: defaultdict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    topics: defaultdict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    listed_on: defaultdict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    un_refs: defaultdict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    identifiers: defaultdict[str, list[Identifier]] = field(default_factory=lambda: defaultdict(list))
    addresses: defaultdict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    holders: set[str] = field(default_factory=set)
    rca_pairs: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        by_hash = self._position_hashes()
        for entity in list(self.graph.entities.values()):
            schema = entity["schema"]
            if schema == "Occupancy":
                self._occupancy(entity, by_hash)
            elif schema == "Sanction":
                self._sanction(entity)
            elif schema in _DETAIL_HOLDERS:
                self._document(entity, _DETAIL_HOLDERS[schema])
            elif schema in _LINKS:
                self._link(entity)
            elif schema in THING_SCHEMATA:
                self._address_entities(entity)

    def _refs(self, entity: Json, prop: str) -> list[str]:
        return [self.graph.resolve(ref) for ref in values(entity, prop)]

    def _thing(self, ref: str) -> Json | None:
        entity = self.graph.entities.get(ref)
        return entity if entity is not None and entity["schema"] in THING_SCHEMATA else None

    def _position_hashes(self) -> dict[str, str]:
        """sha1(dataset + position id) -> position id: the crawl's occupancy ids, for occupancies without post."""
        hashes = {}
        for entity in self.graph.entities.values():
            if entity["schema"] == "Position":
                for dataset in entity.get("datasets") or []:
                    digest = hashlib.sha1(f"{dataset}{entity['id']}".encode(), usedforsecurity=False).hexdigest()
                    hashes[digest] = entity["id"]
        return hashes

    def _occupancy(self, occupancy: Json, by_hash: dict[str, str]) -> None:
        holders = [ref for ref in self._refs(occupancy, "holder") if self._thing(ref)]
        self.holders.update(holders)
        posts = self._refs(occupancy, "post") or [by_hash.get(occupancy["id"].rsplit("-", 1)[-1], "")]
        post = self.graph.entities.get(posts[0])
        if post is None or post["schema"] != "Position" or not values(post, "name"):
            self.warnings.append(f"occupancy {occupancy['id']}: its position is not in the file; holder kept as PEP")
            return
        start, end = _occupancy_dates(occupancy) if len(holders) == 1 else (None, None)
        position = Position(
            role=values(post, "name")[0],
            country=next(iter(countries(values(post, "country") + values(post, "jurisdiction"))), None),
            start=start,
            end=end,
            body=next(iter(values(post, "organization")), None),
        )
        for holder in holders:
            self.positions[holder].append(position)

    def _sanction(self, sanction: Json) -> None:
        for ref in self._refs(sanction, "entity"):
            self.topics[ref].append("sanction")
            self.programs[ref].extend(values(sanction, "program") + values(sanction, "programId"))
            self.un_refs[ref].extend(values(sanction, "unscId"))
            for prop in ("listingDate", "startDate"):
                self.listed_on[ref].extend(d.date for v in values(sanction, prop) if (d := _date(v)))

    def _document(self, document: Json, holder_prop: str) -> None:
        kind = (next(iter(values(document, "type")), None) or document["schema"]).lower()
        code = next(iter(countries(values(document, "country"))), None)
        for ref in self._refs(document, holder_prop):
            for number in values(document, "number"):
                self.identifiers[ref].append(Identifier(type=kind, number=number, country=code))

    def _address_entities(self, thing: Json) -> None:
        for ref in self._refs(thing, "addressEntity"):
            address = self.graph.entities.get(ref)
            if address is not None and address["schema"] == "Address":
                self.addresses[thing["id"]].extend(values(address, "full")[:1])

    def _link(self, link: Json) -> None:
        kind, prop_a, prop_b, prop_desc = _LINKS[link["schema"]]
        described = next(iter(values(link, prop_desc)), None) if prop_desc else None
        for a in self._refs(link, prop_a):
            for b in self._refs(link, prop_b):
                thing_a, thing_b = self._thing(a), self._thing(b)
                if thing_a is None or thing_b is None:
                    continue
                b_to_a = described or ("relative" if kind == "family" else "associate")
                a_to_b = _inverse(b_to_a, _gender(values(thing_a, "gender"))) if link["schema"] == "Family" else b_to_a
                self.relations[a].append(_relation(kind, thing_b, a_to_b))
                self.relations[b].append(_relation(kind, thing_a, b_to_a))
                if link["schema"] in _RCA_LINKS:
                    self.rca_pairs.append((a, b))


def _relation(kind: Literal["family", "associate"], other: Json, description: str) -> Relation:
    names = values(other, "name") + values(other, "alias")
    caption = other.get("caption") if isinstance(other.get("caption"), str) else None
    return Relation(
        kind=kind, other_ref=other["id"], other_name=caption or next(iter(names), None), description=description
    )


def _inverse(relationship: str, gender: str | None) -> str:
    forms = _INVERSE.get(relationship.lower())
    if forms is None:
        return "relative"
    return forms[0] if gender == "male" else forms[1] if gender == "female" else forms[2]


def _occupancy_dates(occupancy: Json) -> tuple[str | None, str | None]:
    starts = sorted(d.date for v in values(occupancy, "startDate") if (d := _date(v)))
    ends = sorted(d.date for v in values(occupancy, "endDate") if (d := _date(v)))
    still_open = len(ends) < len(starts)
    return (starts[0] if starts else None), (None if still_open or not ends else ends[-1])


# --- Senzing ---------------------------------------------------------------------------------------------------

_SENZING_SCHEMA = {"PERSON": Schema.PERSON, "ORGANIZATION": Schema.ORGANIZATION, "VESSEL": Schema.VESSEL}
_SENZING_IDS = {
    "PASSPORT_NUMBER": ("passport", "PASSPORT_COUNTRY"),
    "NATIONAL_ID_NUMBER": ("national_id", "NATIONAL_ID_COUNTRY"),
    "TAX_ID_NUMBER": ("tax", "TAX_ID_COUNTRY"),
}


def _items(record: Json, key: str) -> list[Json]:
    raw = record.get(key)
    return [item for item in raw if isinstance(item, dict)] if isinstance(raw, list) else []


def _senzing_entries(records: list[tuple[str, int, Json]]) -> list[Entry]:
    """Senzing records; the ones without RECORD_TYPE are positions that PERSON records point at (Occupancy)."""
    anchors = {
        str(record["RECORD_ID"]): record for _, _, record in records if record.get("RECORD_TYPE") not in _SENZING_SCHEMA
    }
    entries = []
    for name, number, record in records:
        schema = _SENZING_SCHEMA.get(str(record.get("RECORD_TYPE")))
        if schema is None:
            continue
        try:
            entries.append(_senzing_entry(record, schema, anchors))
        except ValueError as exc:
            raise ParseError(f"{name}: line {number}: {record['RECORD_ID']}: {exc}") from exc
    return entries


def _senzing_names(record: Json) -> tuple[Name, ...]:
    names = []
    for item in _items(record, "NAMES"):
        text = clean(item.get("NAME_FULL") or item.get("NAME_ORG"))
        if not text:
            text = clean(" ".join(str(item.get(k) or "") for k in ("NAME_FIRST", "NAME_MIDDLE", "NAME_LAST")))
        if text:
            kind = NameKind.PRIMARY if item.get("NAME_TYPE") == "PRIMARY" else NameKind.STRONG_ALIAS
            names.append(Name(value=text, kind=_script_kind(text, kind) if kind != NameKind.PRIMARY else kind))
    if not names:
        raise ValueError("no name")
    return unique_names(names)


def _senzing_entry(record: Json, schema: Schema, anchors: dict[str, Json]) -> Entry:
    dates = _items(record, "DATES")
    nations = [str(c.get(k)) for c in _items(record, "COUNTRIES") for k in ("NATIONALITY", "CITIZENSHIP") if c.get(k)]
    other = [
        str(v) for c in _items(record, "COUNTRIES") for k, v in c.items() if k not in ("NATIONALITY", "CITIZENSHIP")
    ]
    died = [str(d["DATE_OF_DEATH"]) for d in dates if d.get("DATE_OF_DEATH")]
    positions, relations = _senzing_links(record, anchors)
    return Entry(
        source="opensanctions",
        source_ref=str(record["RECORD_ID"]),
        schema_=schema,
        names=_senzing_names(record),
        gender=_gender([str(record.get("GENDER") or "")]),
        birth_dates=unique(p for d in dates if d.get("DATE_OF_BIRTH") and (p := _date(str(d["DATE_OF_BIRTH"])))),
        nationalities=countries(nations),
        countries=countries(other),
        identifiers=unique(_senzing_identifiers(record)),
        addresses=unique(a for item in _items(record, "ADDRESSES") if (a := clean(item.get("ADDR_FULL")))),
        topics=unique(str(r["TOPIC"]) for r in _items(record, "RISKS") if r.get("TOPIC")),
        positions=unique(positions),
        relations=unique(relations),
        remarks=f"Date of death: {died[0]}" if died else None,
    )


def _senzing_identifiers(record: Json) -> list[Identifier]:
    found = []
    for item in _items(record, "IDENTIFIERS"):
        if str(item.get("TRUSTED_ID_TYPE", "")).upper() == "WIKIDATA" and item.get("TRUSTED_ID_NUMBER"):
            found.append(Identifier(type="wikidata", number=str(item["TRUSTED_ID_NUMBER"])))
        for key, (kind, country_key) in _SENZING_IDS.items():
            if item.get(key):
                code = country(str(item.get(country_key) or ""))
                found.append(Identifier(type=kind, number=str(item[key]), country=code))
    return found


def _senzing_links(record: Json, anchors: dict[str, Json]) -> tuple[list[Position], list[Relation]]:
    positions, relations = [], []
    for item in _items(record, "RELATIONSHIPS"):
        key, role = item.get("REL_POINTER_KEY"), str(item.get("REL_POINTER_ROLE") or "")
        if not key:
            continue
        anchor = anchors.get(str(key))
        if role == "Occupancy" and anchor is not None:
            names = _senzing_names(anchor)
            code = next(iter(countries(str(c.get("NATIONALITY")) for c in _items(anchor, "COUNTRIES"))), None)
            positions.append(Position(role=names[0].value, country=code))
        elif role != "Occupancy":
            kind: Literal["family", "associate"] = "family" if "family" in role.lower() else "associate"
            relations.append(Relation(kind=kind, other_ref=str(key), description=role or None))
    return positions, relations


# --- merging ---------------------------------------------------------------------------------------------------


def merge_entries(first: Entry, second: Entry) -> Entry:
    """One id in two files of a set: one entry with the union of what both say (first wins for single values)."""
    merged: dict[str, Any] = {}
    for key in Entry.model_fields:
        mine, theirs = getattr(first, key), getattr(second, key)
        if isinstance(mine, tuple):
            merged[key] = unique([*mine, *theirs])
        else:
            merged[key] = theirs if mine is None else mine
    merged["names"] = unique_names([*first.names, *second.names])
    return Entry.model_validate(merged)
