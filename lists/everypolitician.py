"""EveryPolitician legislature files (Popolo JSON ``ep-popolo-v1.0.json``), one file per chamber.

EveryPolitician is archived (no updates since 2019) and has no feed: this is a manual import only
(``default_url`` is None). Several chambers are ingested together as one file set
(``kyc lists ingest everypolitician --file A --file B --file C``); all three real files are called
``ep-popolo-v1.0.json``, so nothing may depend on the file name.

- Every person in a legislature file is a member of parliament, i.e. a PEP: topic ``role.pep``, with one
  :class:`~kyc.entry.Position` per membership of the legislature: role ``Member of <legislature name>`` (the
  membership's ``role``, capitalised), body = the legislature's name, country = the legislature's country, start and
  end from the membership or, where it has none, from its legislative period (``events[]``). A period without an
  end (the sitting term) gives a position without end: still in office.
- **Country**: a Popolo file does not name its country. It comes from the legislature's Wikidata id in
  ``_LEGISLATURES`` (Riigikogu Q217799 = EE, Eduskunta Q643412 = FI, Supreme People's Assembly Q714698 = KP) or,
  for a chamber not in that table, from the demonym in its general-election events
  (``"Finnish parliamentary election, 1907"`` -> ``Finnish`` -> FI, via ``countrynames``). If neither works the
  positions have no country and the parse records a warning. The country also goes to the entry's ``countries``
  (where the person holds office); it is *not* written as a nationality, which the files do not state.
- **source_ref** is ``<country>-<person id>`` (``FI-003b9124-…``), unique across the file set; EveryPolitician
  person ids are UUIDs, so a person sitting in two chambers of one country becomes one entry with both positions.
- Names: ``name`` is primary; ``other_names`` keep their language (Latin script: strong alias, other scripts:
  original script). The Wikidata id becomes an identifier of type ``wikidata`` (it links to OpenSanctions PEPs).
- Publication date: the files carry none; the latest membership or legislative-period start date stands in for
  it (the earliest the file can have been made, not the day it was).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from rigour.text.scripts import is_latin

from kyc.countries import to_country
from kyc.entry import Entry, Identifier, Name, NameKind, Position, Schema, unique, unique_names
from kyc.versions import ParsedList, RawFile
from lists.base import Adapter, ParseError, clean, decode_text, partial_date, utc_midnight
from lists.opensanctions import merge_entries

Json = dict[str, Any]

_LEGISLATURES = {"Q217799": "EE", "Q643412": "FI", "Q714698": "KP"}
"""Legislature Wikidata id -> country, for the chambers whose election events do not name the country."""
_DEMONYM = re.compile(r"^(.+?)\s+(?:parliamentary|general|legislative|presidential)\s+election", re.IGNORECASE)


class EveryPoliticianAdapter(Adapter):
    source = "everypolitician"
    title = "EveryPolitician legislatures (Popolo JSON; archived project, manual import only)"
    default_url = None
    parser_version = "1"

    def parse(self, files: Sequence[RawFile]) -> ParsedList:
        if not files:
            raise ParseError("no files given")
        entries: dict[str, Entry] = {}
        warnings: list[str] = []
        dates: list[str] = []
        for raw in files:
            chamber = _Chamber.load(raw)
            if chamber.country is None:
                warnings.append(f"{raw.name}: the country of {chamber.name!r} is unknown; positions have none")
            dates.extend(chamber.known_dates())
            for entry in chamber.entries():
                current = entries.get(entry.source_ref)
                entries[entry.source_ref] = entry if current is None else merge_entries(current, entry)
        return ParsedList(
            entries=list(entries.values()),
            file_format="popolo_json",
            published_at=utc_midnight(date.fromisoformat(max(dates))) if dates else None,
            dated_by_file=False,
            warnings=warnings,
        )


def _load_json(raw: RawFile) -> Json:
    try:
        data = json.loads(decode_text(raw))
    except json.JSONDecodeError as exc:
        raise ParseError(f"{raw.name}: line {exc.lineno}: not valid JSON ({exc.msg})") from exc
    if not isinstance(data, dict):
        raise ParseError(f"{raw.name}: expected a Popolo JSON object, got {type(data).__name__}")
    return data


def _objects(data: Json, key: str, file_name: str) -> list[Json]:
    items = data.get(key) or []
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise ParseError(f"{file_name}: {key} is not a list of objects")
    return items


def _wikidata(item: Json) -> str | None:
    for identifier in item.get("identifiers") or []:
        if isinstance(identifier, dict) and identifier.get("scheme") == "wikidata" and identifier.get("identifier"):
            return str(identifier["identifier"])
    return None


def _text(item: Json, key: str) -> str | None:
    value = item.get(key)
    return clean(value) if isinstance(value, str) else None


@dataclass
class _Chamber:
    """One Popolo file: a legislature, its people, their memberships and the legislative periods."""

    file_name: str
    name: str
    legislatures: dict[str, str]
    country: str | None
    persons: list[Json]
    memberships: list[Json]
    periods: dict[str, Json]

    @classmethod
    def load(cls, raw: RawFile) -> _Chamber:
        data = _load_json(raw)
        organizations = _objects(data, "organizations", raw.name)
        legislatures = [o for o in organizations if o.get("classification") == "legislature" and o.get("id")]
        if not legislatures:
            raise ParseError(f"{raw.name}: no organisation with classification 'legislature'")
        persons = _objects(data, "persons", raw.name)
        if not persons:
            raise ParseError(f"{raw.name}: no persons")
        events = _objects(data, "events", raw.name)
        return cls(
            file_name=raw.name,
            name=_text(legislatures[0], "name") or str(legislatures[0]["id"]),
            legislatures={str(o["id"]): _text(o, "name") or str(o["id"]) for o in legislatures},
            country=_country(legislatures, events),
            persons=persons,
            memberships=_objects(data, "memberships", raw.name),
            periods={str(e["id"]): e for e in events if e.get("classification") == "legislative period"},
        )

    @property
    def prefix(self) -> str:
        return self.country or next(iter(self.legislatures))

    def known_dates(self) -> list[str]:
        """Full dates of things that have happened: membership starts and ends, legislative period starts."""
        found = [m.get(k) for m in self.memberships for k in ("start_date", "end_date")]
        found += [p.get("start_date") for p in self.periods.values()]
        return [d for value in found if (d := _date(value)) and len(d) == 10]

    def entries(self) -> list[Entry]:
        positions: dict[str, list[Position]] = {}
        for index, membership in enumerate(self.memberships):
            person_id = str(membership.get("person_id") or "")
            if not person_id:
                raise ParseError(f"{self.file_name}: memberships[{index}] has no person_id")
            position = self._position(membership, index)
            if position is not None:
                positions.setdefault(person_id, []).append(position)
        return [self._entry(person, index, positions) for index, person in enumerate(self.persons)]

    def _position(self, membership: Json, index: int) -> Position | None:
        body = self.legislatures.get(str(membership.get("organization_id")))
        if body is None:
            return None  # a party or committee membership, not a seat in the chamber
        period = self.periods.get(str(membership.get("legislative_period_id")), {})
        start = _date(membership.get("start_date")) or _date(period.get("start_date"))
        end = _date(membership.get("end_date")) or _date(period.get("end_date"))
        role = _text(membership, "role") or "member"
        try:
            return Position(
                role=f"{role[0].upper()}{role[1:]} of {body}", country=self.country, start=start, end=end, body=body
            )
        except ValueError as exc:
            raise ParseError(f"{self.file_name}: memberships[{index}]: {exc}") from exc

    def _entry(self, person: Json, index: int, positions: dict[str, list[Position]]) -> Entry:
        person_id, name = _text(person, "id"), _text(person, "name")
        if not person_id or not name:
            raise ParseError(f"{self.file_name}: persons[{index}] needs an id and a name")
        gender = (_text(person, "gender") or "").lower()
        wikidata = _wikidata(person)
        born = partial_date(_text(person, "birth_date"))
        died = _text(person, "death_date")
        try:
            return Entry(
                source="everypolitician",
                source_ref=f"{self.prefix}-{person_id}",
                schema_=Schema.PERSON,
                names=_names(name, person),
                gender=_gender(gender),
                birth_dates=(born,) if born else (),
                countries=(self.country,) if self.country else (),
                identifiers=(Identifier(type="wikidata", number=wikidata),) if wikidata else (),
                topics=("role.pep",),
                positions=unique(positions.get(person_id, [])),
                remarks=f"Date of death: {died}" if died else None,
            )
        except ValueError as exc:
            raise ParseError(f"{self.file_name}: persons[{index}] ({person_id}): {exc}") from exc


def _gender(value: str) -> Literal["male", "female"] | None:
    return "male" if value == "male" else "female" if value == "female" else None


def _names(name: str, person: Json) -> tuple[Name, ...]:
    names = [Name(value=name, kind=NameKind.PRIMARY)]
    for other in person.get("other_names") or []:
        if not isinstance(other, dict) or not (value := _text(other, "name")):
            continue
        kind = NameKind.STRONG_ALIAS if is_latin(value) else NameKind.ORIGINAL_SCRIPT
        names.append(Name(value=value, kind=kind, lang=_text(other, "lang")))
    return unique_names(names)


def _date(value: object) -> str | None:
    parsed = partial_date(value) if isinstance(value, str) else None
    return parsed.date if parsed else None


def _country(legislatures: list[Json], events: list[Json]) -> str | None:
    for legislature in legislatures:
        code = _LEGISLATURES.get(_wikidata(legislature) or "")
        if code:
            return code
    for event in events:
        match = _DEMONYM.match(_text(event, "name") or "")
        if match and (code := to_country(match.group(1))):
            return code
    return None
