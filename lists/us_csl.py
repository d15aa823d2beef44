"""US trade.gov Consolidated Screening List (CSL): one CSV (header row, UTF-8), plain or gzip-wrapped.

The file mixes eleven lists of three agencies: Treasury (SDN, SSI, CAPTA, PLC, NS-MBS, CMIC, FSE), Commerce/BIS
(Entity List, Denied Persons, Unverified, Military End User) and State (ITAR debarred, Nonproliferation). Each
entry keeps where it came from: the list's short code (``SDN``, ``EL``, ``DPL``...) leads its ``programs`` and the
full list names open its remarks, so a reviewer sees why it is listed.

``_id`` is the stable key (the OFAC ent_num for Treasury lists, a hash for the others). A designation on several
Treasury lists repeats as one row per list with the same ``_id``; those rows are merged into one entry.
Multi-valued fields are joined with ``;``; ``ids`` items read ``[country, [issued, expires,]] number, type``.
Only the Treasury lists say whether a party is a person; BIS/State rows have no type and become ``LegalEntity``.
"""

from __future__ import annotations

import csv
import gzip
import io
import re
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from kyc.countries import to_country
from kyc.entry import Entry, Identifier, Name, NameKind, PartialDate, Schema, unique
from kyc.versions import ParsedList, RawFile
from lists.base import Adapter, ParseError, decode_text
from lists.names import listed_names
from lists.ofac_common import birth_date, identifier_kind, make_identifier, person_name

MAX_UNZIPPED_BYTES = 256 * 1024 * 1024
"""The real file is ~20 MB uncompressed; a gzip inflating past this cap is refused (gzip bomb)."""

_REQUIRED = ("_id", "source", "type", "programs", "name", "alt_names", "addresses", "ids", "remarks")
_SCHEMAS = {
    "individual": Schema.PERSON,
    "entity": Schema.ORGANIZATION,
    "vessel": Schema.VESSEL,
    "aircraft": Schema.AIRCRAFT,
    "": Schema.LEGAL_ENTITY,
}
_LIST_CODE = re.compile(r"\(([^()]+)\)")
_EXPORT_CONTROL = frozenset({"EL", "DPL", "UVL", "MEU"})
_DEBARMENT = frozenset({"DTC"})
_ISO2 = re.compile(r"^[A-Z]{2}$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class UsCslAdapter(Adapter):
    source = "us_csl"
    title = "US Consolidated Screening List (trade.gov)"
    default_url = "https://data.trade.gov/downloadable_consolidated_screening_list/v1/consolidated.csv"
    parser_version = "2"
    """2: bundled names split into their spellings (``lists.names``)."""

    def parse(self, files: Sequence[RawFile]) -> ParsedList:
        if len(files) != 1:
            raise ParseError(f"expected one consolidated.csv (or .csv.gz), got {len(files)} files")
        raw = files[0]
        text = decode_text(RawFile(raw.name, _gunzip(raw)), encodings=("utf-8-sig",))
        merged: dict[str, _Record] = {}
        for line, row in _rows(text, raw.name):
            key = (row.get("_id") or "").strip()
            if not key:
                raise ParseError(f"{raw.name}: line {line}: no _id")
            record = merged.get(key)
            if record is None:
                record = merged[key] = _Record(key, _schema(row.get("type"), raw.name, line))
            record.add(row, raw.name, line)
        entries = [record.entry() for record in merged.values()]
        return ParsedList(entries=entries, file_format="us_csl_csv", published_at=None)


def _gunzip(raw: RawFile) -> bytes:
    """The bytes as CSV: gzip (magic 1f 8b) is inflated in chunks under a cap; anything else is taken as is."""
    if raw.data[:2] != b"\x1f\x8b":
        return raw.data
    out = bytearray()
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(raw.data)) as stream:
            while chunk := stream.read(1024 * 1024):
                out += chunk
                if len(out) > MAX_UNZIPPED_BYTES:
                    raise ParseError(f"{raw.name}: inflates past {MAX_UNZIPPED_BYTES} bytes")
    except (OSError, EOFError, zlib.error) as exc:
        raise ParseError(f"{raw.name}: corrupt gzip: {exc}") from exc
    return bytes(out)


def _rows(text: str, name: str) -> Iterable[tuple[int, dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(text, newline=""), strict=True)
    header = reader.fieldnames or []
    missing = [column for column in _REQUIRED if column not in header]
    if missing:
        raise ParseError(f"{name}: not a CSL file: header lacks {', '.join(missing)}")
    width = len(header)
    try:
        for row in reader:
            if None in row or any(value is None for value in row.values()):
                raise ParseError(
                    f"{name}: line {reader.line_num} does not have {width} columns (truncated or malformed CSV)"
                )
            yield reader.line_num, row
    except csv.Error as exc:
        raise ParseError(f"{name}: line {reader.line_num}: malformed CSV: {exc}") from exc


def _schema(value: str | None, name: str, line: int) -> Schema:
    schema = _SCHEMAS.get((value or "").strip().lower())
    if schema is None:
        raise ParseError(f"{name}: line {line}: unknown type {value!r}")
    return schema


def _split(value: str | None) -> list[str]:
    return [part for item in (value or "").split(";") if (part := " ".join(item.split()))]


@dataclass
class _Record:
    """All rows of one ``_id``: one per list the designation is on."""

    key: str
    schema: Schema
    names: list[Name] = field(default_factory=list)
    lists: list[str] = field(default_factory=list)
    codes: list[str] = field(default_factory=list)
    programs: list[str] = field(default_factory=list)
    birth_dates: list[PartialDate] = field(default_factory=list)
    birth_places: list[str] = field(default_factory=list)
    nationalities: list[str] = field(default_factory=list)
    countries: list[str] = field(default_factory=list)
    identifiers: list[Identifier] = field(default_factory=list)
    addresses: list[str] = field(default_factory=list)
    remarks: list[str] = field(default_factory=list)
    gender: str | None = None
    listed_on: str | None = None

    def add(self, row: dict[str, str], file_name: str, line: int) -> None:
        person = self.schema == Schema.PERSON
        schema = _schema(row.get("type"), file_name, line)
        if schema != self.schema:
            raise ParseError(f"{file_name}: line {line}: _id {self.key} is both {self.schema} and {schema}")
        primary = " ".join((row.get("name") or "").split())
        if not primary:
            raise ParseError(f"{file_name}: line {line}: _id {self.key} has no name")
        self.names.append(Name(value=person_name(primary) if person else primary, kind=NameKind.PRIMARY))
        for alias in _split(row.get("alt_names")):
            self.names.append(Name(value=person_name(alias) if person else alias, kind=NameKind.STRONG_ALIAS))
        listing = " ".join((row.get("source") or "").split())
        if listing:
            self.lists.append(listing)
            code = _LIST_CODE.search(listing)
            self.codes.append(code.group(1) if code else listing)
        self.programs.extend(_split(row.get("programs")))
        self._person(row)
        self._places(row)
        for item in _split(row.get("ids")):
            self._identifier(item)
        if call_sign := " ".join((row.get("call_sign") or "").split()):
            self.identifiers.append(Identifier(type="call_sign", number=call_sign))
        self._remarks(row)
        start = (row.get("start_date") or "").strip()
        if _ISO_DATE.match(start) and (self.listed_on is None or start < self.listed_on):
            self.listed_on = start

    def _person(self, row: dict[str, str]) -> None:
        for text in _split(row.get("dates_of_birth")):
            if parsed := birth_date(text):
                self.birth_dates.append(parsed)
        self.birth_places.extend(_split(row.get("places_of_birth")))
        for text in _split(row.get("nationalities")) + _split(row.get("citizenships")):
            if code := to_country(text):
                self.nationalities.append(code)

    def _places(self, row: dict[str, str]) -> None:
        for address in _split(row.get("addresses")):
            self.addresses.append(address)
            last = address.rsplit(",", 1)[-1].strip()
            if _ISO2.match(last) and (code := to_country(last)):
                self.countries.append(code)
        if code := to_country(row.get("vessel_flag")):
            self.countries.append(code)

    def _identifier(self, item: str) -> None:
        """``CC, [issued, expires,] number, type``: the type is last, the number before it, a country first."""
        parts = [part.strip() for part in item.split(",")]
        if len(parts) < 2:
            return
        label = parts[-1]
        if label.lower() == "gender":
            self.gender = parts[0].lower() if parts[0].lower() in ("male", "female") else None
            return
        kind = identifier_kind(label)
        if kind is None:
            return
        country = parts[0] if len(parts) >= 3 and _ISO2.match(parts[0]) else None
        if identifier := make_identifier(kind, parts[-2], country):
            self.identifiers.append(identifier)

    def _remarks(self, row: dict[str, str]) -> None:
        for column, label in (("title", "Title"), ("remarks", None), ("license_requirement", "License requirement")):
            value = " ".join((row.get(column) or "").split())
            if value:
                self.remarks.append(f"{label}: {value}" if label else value)

    def entry(self) -> Entry:
        codes = unique(self.codes)
        topics: list[str] = []
        for code in codes:
            if code in _EXPORT_CONTROL:
                topics.append("export.control")
            elif code in _DEBARMENT:
                topics.append("debarment")
            else:
                topics.append("sanction")
        remarks = [f"source_list: {'; '.join(unique(self.lists))}", *unique(self.remarks)]
        return Entry(
            source="us_csl",
            source_ref=self.key,
            schema_=self.schema,
            names=listed_names(self.names, self.schema),
            gender=self.gender,  # type: ignore[arg-type]
            birth_dates=unique(self.birth_dates),
            birth_places=unique(self.birth_places),
            nationalities=unique(self.nationalities),
            countries=unique(self.countries),
            identifiers=unique(self.identifiers),
            addresses=unique(self.addresses),
            programs=unique([*codes, *self.programs]),
            topics=unique(topics),
            listed_on=self.listed_on,
            remarks="; ".join(remarks),
        )
