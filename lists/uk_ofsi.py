"""UK HM Treasury OFSI Consolidated List (ConList), as the 2022-format xlsx or the older ConList.csv.

One row per name variant: rows are grouped by ``Group ID`` into one entry. Quirks handled: row 1 ``Last Updated``
before the header; ``Name 6`` is the surname (or the whole entity name) and ``Name 1..5`` the forenames;
``Alias Type`` Primary name / Primary name variation / AKA / FKA (2016: Prime Alias); ``Alias Quality`` Low is a weak
alias; ``00`` for unknown date parts and ``mm/yyyy``; numbered multi-values ``(1) A (2) B``; the UN reference,
gender, IMO number and UK Sanctions List reference only inside ``Other Information``; the 2016 CSV in
Windows-1252 with passports and national ids as free text.

OFSI closed the ConList on 28 January 2026; the FCDO UK Sanctions List (``uk_fcdo``) replaced it, so this source
has no feed any more and is imported from files (``kyc lists ingest uk_ofsi --file ConList.xlsx``).
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime
from types import ModuleType
from xml.etree.ElementTree import ParseError as XmlParseError

import openpyxl
from openpyxl.utils.exceptions import InvalidFileException

from kyc.entry import Entry, Identifier, Name, NameKind, PartialDate, Position, Schema, unique
from kyc.versions import ParsedList, RawFile
from lists.base import Adapter, ParseError, clean, decode_text, utc_midnight
from lists.names import listed_names
from lists.uk_common import gender, numbered, uk_countries, uk_date, uk_day, un_refs

Row = dict[str, str | None]

LEGACY_URL = "https://ofsistorage.blob.core.windows.net/publishlive/2022format/ConList.xlsx"
"""Where the xlsx was published until the list closed; kept for the record, not fetched."""

_ZIP_MAGIC = b"PK\x03\x04"
_REQUIRED = ("Name 6", "Group ID", "Group Type", "Alias Type")
_FORENAMES = ("Name 1", "Name 2", "Name 3", "Name 4", "Name 5")
_SCHEMAS = {"individual": Schema.PERSON, "entity": Schema.ORGANIZATION, "ship": Schema.VESSEL}
_PRIMARY = {"primary name", "prime alias"}
_ADDRESS = ("Address 1", "Address 2", "Address 3", "Address 4", "Address 5", "Address 6", "Post/Zip Code", "Country")
_BIRTH_PLACE = ("Town of Birth", "Country of Birth")
_GENDER = re.compile(r"\(Gender\):\s*(Male|Female)\b", re.IGNORECASE)
_IMO = re.compile(r"\(IMO number\):\s*(\d{7})\b")
_UK_REF = re.compile(r"\(UK Sanctions List Ref\):\s*([A-Z]{2,4}\d{3,5})\b")
_FREE_TEXT_NUMBER = re.compile(r"\b([A-Z]{0,4}\d[A-Z0-9/-]{4,})\b")
"""A document number inside 2016 free text: at least five characters, starting with a digit or a short prefix."""
_DATE_LIKE = re.compile(r"^\d{1,2}[/.]\d{1,2}[/.]\d{2,4}$")


class UkOfsiAdapter(Adapter):
    source = "uk_ofsi"
    title = "UK OFSI Consolidated List of Asset Freeze Targets (ConList)"
    default_url = None
    parser_version = "2"
    """2: bundled names split into their spellings (``lists.names``)."""

    def parse(self, files: Sequence[RawFile]) -> ParsedList:
        if len(files) != 1:
            raise ParseError(f"expected one ConList file (xlsx or csv), got {len(files)} files")
        raw = files[0]
        if raw.data.startswith(_ZIP_MAGIC):
            rows, file_format = _xlsx_rows(raw), "ofsi_conlist_xlsx"
        else:
            rows, file_format = _csv_rows(raw), "ofsi_conlist_csv"
        published, header, start = _header(rows, raw.name)
        warnings: list[str] = []
        groups = _groups(_records(rows, header, start, raw.name), raw.name)
        entries = [_entry(group_id, members, raw.name, warnings) for group_id, members in groups.items()]
        return ParsedList(entries=entries, file_format=file_format, published_at=published, warnings=warnings)


def _xlsx_rows(raw: RawFile) -> list[tuple[object, ...]]:
    """All rows of the ``Data`` sheet (or the only sheet).

    python-calamine (Rust) reads the 2 MB ConList in about 0.4 s; openpyxl's read-only mode, used when calamine is
    not installed, needs about 3 s. Both yield the same cell text.
    """
    try:
        import python_calamine
    except ImportError:
        return _openpyxl_rows(raw)
    return _calamine_rows(raw, python_calamine)


def _calamine_rows(raw: RawFile, calamine: ModuleType) -> list[tuple[object, ...]]:
    errors = (calamine.CalamineError, calamine.ZipError, calamine.XmlError, calamine.PasswordError, ValueError)
    try:
        book = calamine.CalamineWorkbook.from_filelike(io.BytesIO(raw.data))
        name = "Data" if "Data" in book.sheet_names else book.sheet_names[0]
        rows: list[list[object]] = book.get_sheet_by_name(name).to_python(skip_empty_area=False)
    except errors as exc:
        raise ParseError(f"{raw.name}: not a readable xlsx workbook: {exc}") from exc
    return [tuple(row) for row in rows]


def _openpyxl_rows(raw: RawFile) -> list[tuple[object, ...]]:
    try:
        book = openpyxl.load_workbook(io.BytesIO(raw.data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError, XmlParseError) as exc:
        raise ParseError(f"{raw.name}: not a readable xlsx workbook: {exc}") from exc
    try:
        sheet = book["Data"] if "Data" in book.sheetnames else book.worksheets[0]
        return list(sheet.iter_rows(values_only=True))
    except (zipfile.BadZipFile, KeyError, OSError, ValueError, XmlParseError, EOFError) as exc:
        raise ParseError(f"{raw.name}: the xlsx sheet cannot be read: {exc}") from exc
    finally:
        book.close()


def _csv_rows(raw: RawFile) -> list[tuple[object, ...]]:
    text = decode_text(raw)
    try:
        return [tuple(row) for row in csv.reader(io.StringIO(text, newline=""), strict=True)]
    except csv.Error as exc:
        raise ParseError(f"{raw.name}: malformed CSV: {exc}") from exc


def _cell(value: object) -> str | None:
    """Cells are text in the official files; dates and numbers typed by hand become the text OFSI prints."""
    if value is None:
        return None
    if isinstance(value, str):
        return " ".join(value.split()) or None
    if isinstance(value, datetime | date):
        return value.strftime("%d/%m/%Y")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return clean(str(value))


def _header(rows: list[tuple[object, ...]], name: str) -> tuple[datetime | None, list[str], int]:
    """Find the header (row 1 or 2) and the ``Last Updated`` date above it."""
    published: datetime | None = None
    for index, row in enumerate(rows[:2]):
        cells = [_cell(value) or "" for value in row]
        if cells and cells[0].lower() == "last updated":
            day = uk_date(cells[1] if len(cells) > 1 else None)
            if day is None or len(day.date) != 10:
                raise ParseError(f"{name}: row {index + 1}: 'Last Updated' has no date")
            published = utc_midnight(date.fromisoformat(day.date))
            continue
        missing = [column for column in _REQUIRED if column not in cells]
        if missing:
            raise ParseError(f"{name}: not an OFSI ConList: the header lacks {', '.join(missing)}")
        return published, cells, index + 1
    raise ParseError(f"{name}: not an OFSI ConList: no header row with {', '.join(_REQUIRED)}")


def _records(rows: list[tuple[object, ...]], header: list[str], start: int, name: str) -> Iterator[tuple[int, Row]]:
    width = len(header)
    for number, row in enumerate(rows[start:], start=start + 1):
        cells = [None if value is None or value == "" else _cell(value) for value in row]
        if not any(cells):
            continue
        if len(cells) < width or any(cells[width:]):
            raise ParseError(f"{name}: row {number} has {len(cells)} columns, the header {width} (truncated file?)")
        yield number, dict(zip(header, cells, strict=False))


def _groups(records: Iterable[tuple[int, Row]], name: str) -> dict[str, list[Row]]:
    groups: dict[str, list[Row]] = {}
    for number, row in records:
        group_id = row.get("Group ID")
        if not group_id:
            raise ParseError(f"{name}: row {number}: Group ID is empty")
        if not row.get("Name 6") and not any(row.get(column) for column in _FORENAMES):
            raise ParseError(f"{name}: row {number} (Group ID {group_id}): no name")
        groups.setdefault(group_id, []).append(row)
    if not groups:
        raise ParseError(f"{name}: no designations below the header")
    return groups


def _entry(group_id: str, rows: list[Row], file_name: str, warnings: list[str]) -> Entry:
    kind = (rows[0].get("Group Type") or "").lower()
    schema = _SCHEMAS.get(kind)
    if schema is None:
        raise ParseError(f"{file_name}: Group ID {group_id}: unknown Group Type {rows[0].get('Group Type')!r}")
    info = " ".join(_distinct(rows, "Other Information"))
    refs = un_refs(info)
    return Entry(
        source="uk_ofsi",
        source_ref=group_id,
        schema_=schema,
        names=listed_names([name for row in rows for name in _names(row)], schema),
        gender=gender(found.group(1)) if (found := _GENDER.search(info)) else None,
        birth_dates=unique(d for text in _distinct(rows, "DOB") if (d := _birth_date(text, group_id, warnings))),
        birth_places=unique(place for row in rows for place in _birth_places(row)),
        nationalities=unique(code for text in _distinct(rows, "Nationality") for code in uk_countries(text)),
        countries=unique(code for text in _distinct(rows, "Country") for code in uk_countries(text)),
        identifiers=unique(_identifiers(rows, info)),
        addresses=unique(address for row in rows if (address := _joined(row, _ADDRESS))),
        programs=_distinct(rows, "Regime"),
        topics=("sanction",),
        listed_on=min((day for text in _distinct(rows, "Listed On") if (day := uk_day(text))), default=None),
        un_ref=refs[0] if refs else None,
        positions=unique(Position(role=role) for text in _distinct(rows, "Position") for role in numbered(text)),
        remarks=info or None,
    )


def _distinct(rows: list[Row], column: str) -> tuple[str, ...]:
    """A group repeats most values on every name row; converting each distinct value once keeps parsing fast."""
    return unique(value for row in rows if (value := row.get(column)))


def _names(row: Row) -> list[Name]:
    alias_type = (row.get("Alias Type") or "").lower()
    if alias_type in _PRIMARY:
        kind = NameKind.PRIMARY
    elif "low" in (row.get("Alias Quality") or "").lower():
        kind = NameKind.WEAK_ALIAS
    else:
        kind = NameKind.STRONG_ALIAS
    parts = [part for column in (*_FORENAMES, "Name 6") if (part := row.get(column))]
    names = [Name(value=" ".join(parts), kind=kind)]
    if original := row.get("Name Non-Latin Script"):
        names.append(Name(value=original, kind=NameKind.ORIGINAL_SCRIPT))
    return names


def _birth_date(text: str, group_id: str, warnings: list[str]) -> PartialDate | None:
    parsed = uk_date(text)
    if parsed is None:
        warnings.append(f"Group ID {group_id}: DOB {text!r} is not a date; ignored")
    return parsed


def _birth_places(row: Row) -> list[str]:
    """Pair ``(1) Tripoli (2) Tunis`` with ``(1) Libya (2) Tunisia``; unnumbered or uneven lists stay one text."""
    towns, countries = numbered(row.get("Town of Birth")), numbered(row.get("Country of Birth"))
    if len(towns) > 1 and len(towns) == len(countries):
        return [f"{town}, {country}" for town, country in zip(towns, countries, strict=True)]
    place = _joined(row, _BIRTH_PLACE)
    return [place] if place else []


def _joined(row: Row, columns: tuple[str, ...]) -> str | None:
    return ", ".join(part for column in columns if (part := row.get(column))) or None


def _identifiers(rows: list[Row], info: str) -> Iterator[Identifier]:
    passports = unique((row.get("Passport Number"), row.get("Passport Details")) for row in rows)
    national_ids = unique(
        (row.get("National Identification Number"), row.get("National Identification Details") or row.get("NI Number"))
        for row in rows
    )
    for numbers, details in passports:
        yield from _documents("passport", numbers, details)
    for numbers, details in national_ids:
        yield from _documents("national_id", numbers, details)
    if imo := _IMO.search(info):
        yield Identifier(type="imo", number=imo.group(1))
    if uk_ref := _UK_REF.search(info):
        yield Identifier(type="uk_sanctions_list_ref", number=uk_ref.group(1), country="GB")


def _documents(kind: str, numbers_text: str | None, details_text: str | None) -> Iterator[Identifier]:
    """Pair ``(1) n1 (2) n2`` with ``(1) d1 (2) d2``; the 2016 file has only free text to find numbers in."""
    if numbers_text:
        numbers, details = numbered(numbers_text), numbered(details_text)
        aligned = len(details) == len(numbers)
        for index, number in enumerate(numbers):
            note = details[index] if aligned else details_text
            yield Identifier(type=kind, number=number, note=note)
    elif details_text:
        for number in unique(_FREE_TEXT_NUMBER.findall(details_text)):
            if _DATE_LIKE.match(number):  # "Issued: 23/01/2009"
                continue
            yield Identifier(type=kind, number=number, note=details_text)
