"""Australia DFAT Consolidated List (``regulation8_consolidated.xlsx``, one sheet, one row per *name*).

Quirks handled:

- A designation spans several rows: ``Reference`` ``2`` is its primary name, ``2a``, ``2b``, ``2b1``... are name
  variants. Rows are merged into one entry whose ``source_ref`` is the number without suffix; other columns are
  repeated on every row and occasionally differ between them, so their values are united, not overwritten.
- ``Name Type`` and ``Type`` come in inconsistent casing with trailing spaces (``Primary Name ``, ``aka``,
  ``Aka ``, ``original script``); former names (``Formerly known as``, ``Previously listed as``) are strong aliases
  because a customer may still use them. An unknown name type rejects the file: guessing a kind would silently
  weaken or strengthen screening.
- ``Date of Birth`` is an Excel date, a bare year number, or free text holding several alternatives
  (``a) Approximately 1955- 1958 b) ...``, ``Between 1965 and 1969``, ``12 Dec. 1960; 1962``, ``circa 1979``).
  Hijri-calendar alternatives are skipped (their years are not Gregorian); text without any date goes to remarks.
- ``Citizenship`` is free text (``Russian and Ukrainian``, ``a) Pakistani b) Afghan``); withdrawn citizenships
  are not nationalities.
- ``Control Date`` (an Excel serial, shown as a date) is the last change of the row; the file's publication date
  is the latest of them.
- ``Listing Information`` is kept as a remark; its first "listed on" date, where it has one, is the listing
  date (instrument names alone carry none).
- Programmes are the ``Committees`` values (``1988 (Taliban)``, ``Autonomous (Russia)``). UN-derived entries are
  only recognisable by that text, so no UN reference is set.

openpyxl's read-only mode streams the sheet; only the twelve used columns are read.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from openpyxl import load_workbook
from openpyxl.utils.exceptions import InvalidFileException

from kyc.countries import to_country
from kyc.entry import Entry, Name, NameKind, PartialDate, Schema, unique
from kyc.versions import ParsedList, RawFile
from lists.base import Adapter, ParseError, clean, excel_serial_date, make_partial_date, partial_date, utc_midnight
from lists.names import listed_names

COLUMNS = (
    "Reference",
    "Name of Individual or Entity",
    "Type",
    "Name Type",
    "Date of Birth",
    "Place of Birth",
    "Citizenship",
    "Address",
    "Additional Information",
    "Listing Information",
    "Committees",
    "Control Date",
)
_NAME_KINDS = {
    "primary name": NameKind.PRIMARY,
    "aka": NameKind.STRONG_ALIAS,
    "original script": NameKind.ORIGINAL_SCRIPT,
    "formerly known as": NameKind.STRONG_ALIAS,
    "previously listed as": NameKind.STRONG_ALIAS,
}
_SCHEMAS = {"individual": Schema.PERSON, "entity": Schema.ORGANIZATION}
_REFERENCE = re.compile(r"^(\d+)([a-z]{0,3}\d{0,3})$", re.IGNORECASE)
_BLANK = {"na", "n/a", "-", "none", "unknown"}
_ALTERNATIVES = re.compile(r"\b[a-z]\)|;|>>|\bor\b|\balt(?:ernative)? DOB:", re.IGNORECASE)
_APPROX = re.compile(r"\b(?:approximately|approx|circa|about|around|c\.)\s*", re.IGNORECASE)
_RANGE = re.compile(r"^(?:between\s+)?(\d{4})\s*(?:-|–|to|and)\s*(\d{4})$", re.IGNORECASE)
_MONTH_RANGE = re.compile(r"^([A-Za-z]+\.?\s+\d{4})\s+to\s+([A-Za-z]+\.?\s+\d{4})$", re.IGNORECASE)
_YEAR = re.compile(r"\b(1[89]\d{2}|20\d{2})\b")
_LISTED_ON = re.compile(r"\b(?:listed|designated)\b[^.()]*?\bon:?\s+(\d{1,2}\.?\s+[A-Za-z]+\.?\s+\d{4})", re.I)
_CITIZENSHIP_SPLIT = re.compile(r",|;|/|\band\b|\bor\b|\b[a-z]\)", re.IGNORECASE)


class AuDfatAdapter(Adapter):
    source = "au_dfat"
    title = "Australia DFAT Consolidated List"
    default_url = "https://www.dfat.gov.au/sites/default/files/regulation8_consolidated.xlsx"
    parser_version = "2"
    """2: bundled names split into their spellings (``lists.names``)."""

    def parse(self, files: Sequence[RawFile]) -> ParsedList:
        if len(files) != 1:
            raise ParseError(f"expected one regulation8_consolidated.xlsx, got {len(files)} files")
        raw = files[0]
        groups: dict[str, _Designation] = {}
        latest: date | None = None
        for line, row in _rows(raw):
            ref = _reference(row[0], raw.name, line)
            group = groups.get(ref)
            if group is None:
                group = groups[ref] = _Designation(ref)
            group.add(row, raw.name, line)
            control = _excel_date(row[11])
            if control is not None and (latest is None or control > latest):
                latest = control
        if not groups:
            raise ParseError(f"{raw.name}: no designations in the sheet")
        entries = [group.entry(raw.name) for group in groups.values()]
        return ParsedList(
            entries=entries,
            file_format="au_dfat_xlsx",
            published_at=utc_midnight(latest) if latest else None,
            dated_by_file=False,
        )


def _rows(raw: RawFile) -> Iterator[tuple[int, tuple[Any, ...]]]:
    """Data rows with their sheet line numbers, after checking the header; blank trailing rows are skipped."""
    try:
        workbook = load_workbook(io.BytesIO(raw.data), read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise ParseError(f"{raw.name}: not a readable xlsx workbook: {exc}") from exc
    try:
        sheet = workbook.worksheets[0]
        rows = sheet.iter_rows(max_col=len(COLUMNS), values_only=True)
        header = tuple(clean(str(v)) if v is not None else None for v in next(rows, ()))
        if header != COLUMNS:
            raise ParseError(f"{raw.name}: unexpected header {header!r}; expected the DFAT columns {COLUMNS!r}")
        for line, row in enumerate(rows, start=2):
            if any(value is not None and str(value).strip() for value in row):
                yield line, tuple(row) + (None,) * (len(COLUMNS) - len(row))
    except (zipfile.BadZipFile, KeyError, OSError, EOFError) as exc:
        raise ParseError(f"{raw.name}: damaged xlsx workbook: {exc}") from exc
    finally:
        workbook.close()


def _reference(value: Any, file_name: str, line: int) -> str:
    """``2``, ``2a``, ``2b1`` -> ``2``."""
    text = clean(str(value)) if value is not None else None
    match = _REFERENCE.match(text or "")
    if not match:
        raise ParseError(f"{file_name}: row {line}, column Reference: {text!r} is not a DFAT reference number")
    return match.group(1)


@dataclass
class _Designation:
    """The rows of one reference number, merged."""

    ref: str
    schema: Schema | None = None
    names: list[Name] = field(default_factory=list)
    birth_dates: list[PartialDate] = field(default_factory=list)
    birth_places: list[str] = field(default_factory=list)
    nationalities: list[str] = field(default_factory=list)
    addresses: list[str] = field(default_factory=list)
    programs: list[str] = field(default_factory=list)
    remarks: list[str] = field(default_factory=list)
    listed_on: str | None = None
    _seen: set[tuple[Any, ...]] = field(default_factory=set)

    def add(self, row: tuple[Any, ...], file_name: str, line: int) -> None:
        name = clean(_text(row[1]))
        kind = _NAME_KINDS.get((clean(_text(row[3])) or "").lower())
        schema = _SCHEMAS.get((clean(_text(row[2])) or "").lower())
        if not name or kind is None or schema is None:
            raise ParseError(_row_problem(row, file_name, line))
        if kind == NameKind.PRIMARY or self.schema is None:
            self.schema = schema
        self.names.append(Name(value=name, kind=kind))
        if kind == NameKind.PRIMARY:
            self.listed_on = listing_date(row[9])
            self.remarks.extend(f"Listing: {text}" for text in _present(row[9]) if not isinstance(row[9], datetime))
        details = (schema, *row[4:11])
        if details not in self._seen:  # name variants repeat the same details; read them once
            self._seen.add(details)
            self._add_details(row, schema)

    def _add_details(self, row: tuple[Any, ...], schema: Schema) -> None:
        if schema == Schema.PERSON:
            dates, unparsed = birth_dates(row[4])
            self.birth_dates.extend(dates)
            if unparsed:
                self.remarks.append(f"Date of birth: {unparsed}")
            self.birth_places.extend(_present(row[5]))
        self.nationalities.extend(citizenships(_text(row[6])))
        self.addresses.extend(_present(row[7]))
        self.remarks.extend(_present(row[8]))
        self.programs.extend(_present(row[10]))

    def entry(self, file_name: str) -> Entry:
        if not any(n.kind == NameKind.PRIMARY for n in self.names):
            raise ParseError(f"{file_name}: reference {self.ref} has no Primary Name row")
        return Entry(
            source="au_dfat",
            source_ref=self.ref,
            schema_=self.schema or Schema.LEGAL_ENTITY,
            names=listed_names(self.names, self.schema or Schema.LEGAL_ENTITY),
            birth_dates=unique(self.birth_dates),
            birth_places=unique(self.birth_places),
            nationalities=unique(self.nationalities),
            addresses=unique(self.addresses),
            programs=unique(self.programs),
            topics=("sanction",),
            listed_on=self.listed_on,
            remarks="\n".join(unique(self.remarks)) or None,
        )


def _row_problem(row: tuple[Any, ...], file_name: str, line: int) -> str:
    where = f"{file_name}: row {line} (reference {clean(str(row[0]))})"
    if not clean(_text(row[1])):
        return f"{where}, column Name of Individual or Entity: empty"
    if (clean(_text(row[3])) or "").lower() not in _NAME_KINDS:
        return f"{where}, column Name Type: unknown name type {row[3]!r}"
    return f"{where}, column Type: {row[2]!r} is neither Individual nor Entity"


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _present(value: Any) -> list[str]:
    text = clean(_text(value))
    return [text] if text and text.lower() not in _BLANK else []


def _excel_date(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return excel_serial_date(value)
    return None


def listing_date(value: Any) -> str | None:
    """The first listing date in ``Listing Information`` (``Listed on: 12 Aug. 2014 (Relisted ...)``, ``Listed by
    UN 1267 Committee on 25 January 2001``, or a date cell); None for instrument names without a date."""
    if isinstance(value, datetime):
        return value.date().isoformat()
    match = _LISTED_ON.search(clean(_text(value)) or "")
    if not match:
        return None
    parsed = partial_date(re.sub(r"(\d)\.\s", r"\1 ", match.group(1)))
    return parsed.date if parsed else None


def birth_dates(value: Any) -> tuple[list[PartialDate], str | None]:
    """Dates from a ``Date of Birth`` cell, and the cell's text when no date could be read from it."""
    if value is None:
        return [], None
    if isinstance(value, datetime | date):
        day = value.date() if isinstance(value, datetime) else value
        return [PartialDate(date=day.isoformat())], None
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = int(value)
        if 1000 <= number <= 2999:  # a bare year typed into a number cell
            single = make_partial_date(number)
            return ([single] if single else []), None
        return [PartialDate(date=excel_serial_date(number).isoformat())], None
    found, unparsed = _text_birth_dates(str(value))
    return list(found), unparsed


@lru_cache(maxsize=4096)
def _text_birth_dates(value: str) -> tuple[tuple[PartialDate, ...], str | None]:
    """Cached: every name row of a designation repeats the same text."""
    text = clean(value)
    if not text or text.lower() in _BLANK:
        return (), None
    found = tuple(d for alternative in _ALTERNATIVES.split(text) if (d := _alternative(alternative)))
    return (found, None) if found else ((), text)


def _alternative(text: str) -> PartialDate | None:
    """One alternative of a free-text birth date; None for Hijri dates and text without a date."""
    if "hijri" in text.lower():
        return None
    approximate = bool(_APPROX.search(text))
    body = re.sub(r"\(.*?\)", "", _APPROX.sub("", text)).strip(" ,.:;")
    body = re.sub(r"(\d)\.\s", r"\1 ", body)  # "12. Jul 1960"
    body = re.sub(r"/\s+", "/", body)  # "09/11/ 1954"
    if match := _RANGE.match(body):
        start, end = match.groups()
        return PartialDate(date=start, end=end, approximate=approximate) if start < end else None
    if match := _MONTH_RANGE.match(body):
        start_month, end_month = partial_date(match.group(1)), partial_date(match.group(2))
        if start_month and end_month and start_month.date < end_month.date:
            return PartialDate(date=start_month.date, end=end_month.date, approximate=approximate)
    if parsed := partial_date(body, approximate=approximate):
        return parsed
    years = _YEAR.findall(body)
    if len(set(years)) == 1:  # "Between Aug. and Sep 1960", "born in 1960"
        return make_partial_date(int(years[0]), approximate=True)
    return None


@lru_cache(maxsize=4096)
def citizenships(text: str | None) -> tuple[str, ...]:
    """ISO codes from a free-text ``Citizenship`` cell; withdrawn citizenships and unknown words are dropped."""
    if not text or "withdrawn" in text.lower():
        return ()
    whole = to_country(text)
    if whole:
        return (whole,)
    stripped = re.sub(r"\(.*?\)", "", text)
    codes = []
    for part in _CITIZENSHIP_SPLIT.split(stripped):
        code = to_country(re.sub(r"^\s*possibly\s+", "", part, flags=re.IGNORECASE))
        if code:
            codes.append(code)
    return unique(codes)
