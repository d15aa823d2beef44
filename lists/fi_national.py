"""Finland's national freezing decisions (Act 325/2013, decisions of the National Bureau of Investigation, KRP).

There is no machine-readable feed: compliance staff transcribe the decisions published in Virallinen lehti into a
UTF-8 CSV template (``docs/fi_national_template.csv``, documented in ``docs/fi_national.md``), and the import needs
a second user's approval (``requires_approval``) before it is screened against.

Because people type this file, validation is strict and all-or-nothing: every cell is checked, every problem is
reported with its line and column, and one bad row rejects the whole file, so that a half-transcribed list never
becomes active. Decisions:

- **Delimiter**: ``,`` or ``;``, recognised from the header line only (Excel in a Finnish locale saves ``;``). Fields
  containing the delimiter, such as ``;``-separated aliases in a ``;`` file, are quoted, as Excel does.
- **Encoding**: UTF-8, with or without BOM. Anything else is refused, since guessing would garble ä/ö/å and
  original-script names.
- **Dates**: ISO (``YYYY``, ``YYYY-MM``, ``YYYY-MM-DD``) or Finnish ``d.m.yyyy``, because Excel rewrites typed ISO
  dates in the locale's format when it saves; dates in the future are typos.
- **source_ref** is the decision number; it must be unique in the file. The template's fictional example row
  (decision number ``EXAMPLE…``) is refused so that it can never be screened against by accident.
- **Publication date** of a file: its latest decision date.
- Personal identity codes in error messages are masked; only their first two characters are shown.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TypeVar

from pydantic import ValidationError
from rigour.text.scripts import is_latin
from stdnum import imo
from stdnum.exceptions import ValidationError as NumberError
from stdnum.fi import hetu, ytunnus

from kyc.countries import to_country
from kyc.entry import Entry, Identifier, Name, NameKind, PartialDate, Schema, unique, unique_names
from kyc.versions import ParsedList, RawFile
from lists.base import Adapter, ParseError, utc_midnight

COLUMNS = (
    "schema",
    "name",
    "aliases",
    "birth_date",
    "birth_place",
    "nationality",
    "identifiers",
    "decision_number",
    "decision_date",
    "virallinen_lehti",
    "notes",
)
PROGRAM = "FI Act 325/2013 national freezing decision"
_SCHEMAS = {"person": Schema.PERSON, "organization": Schema.ORGANIZATION, "organisation": Schema.ORGANIZATION}
_ISO_DATE = re.compile(r"^\d{4}(?:-\d{2}(?:-\d{2})?)?$")
_FINNISH_DATE = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})$")
_DECISION = re.compile(r"^[\w./:-]{1,64}$")
_ID_TYPE = re.compile(r"^[a-z][a-z0-9_]{1,31}$")
_MAX_TEXT = 500
_MAX_REPORTED = 50
T = TypeVar("T")


class FiNationalAdapter(Adapter):
    source = "fi_national"
    title = "Finland national freezing decisions (Act 325/2013, KRP)"
    default_url = None
    parser_version = "1"
    requires_approval = True

    def parse(self, files: Sequence[RawFile]) -> ParsedList:
        if len(files) != 1:
            raise ParseError(f"expected one fi_national CSV file, got {len(files)} files")
        raw = files[0]
        text = _decode(raw)
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text, raw.name), strict=True)
        problems = _Problems(raw.name)
        entries: list[Entry] = []
        first_line: dict[str, int] = {}
        try:
            next(reader)  # the header, already checked by _delimiter
            line = reader.line_num + 1
            for cells in reader:
                entry = _row(cells, line, problems, first_line)
                if entry is not None:
                    entries.append(entry)
                line = reader.line_num + 1
        except csv.Error as exc:
            problems.add(reader.line_num, None, f"not valid CSV: {exc}")
        problems.raise_if_any()
        if not entries:
            raise ParseError(f"{raw.name}: the file holds no decisions, only the header")
        latest = max(entry.listed_on for entry in entries if entry.listed_on)
        published = utc_midnight(date.fromisoformat(latest))
        return ParsedList(
            entries=entries, file_format="fi_national_csv_v1", published_at=published, dated_by_file=False
        )


@dataclass
class _Problems:
    """Every problem of the file, so that one import attempt reports all of them."""

    file_name: str
    found: list[str] = field(default_factory=list)

    def add(self, line: int, column: str | None, reason: str) -> None:
        where = f"line {line}" + (f", column {column!r}" if column else "")
        self.found.append(f"{where}: {reason}")

    def raise_if_any(self) -> None:
        if not self.found:
            return
        shown = self.found[:_MAX_REPORTED]
        more = len(self.found) - len(shown)
        suffix = f"; and {more} more" if more else ""
        raise ParseError(
            f"{self.file_name}: {len(self.found)} problem(s), nothing imported: {'; '.join(shown)}{suffix}"
        )


def _decode(raw: RawFile) -> str:
    try:
        return raw.data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.data[: exc.start].count(b"\n") + 1
        raise ParseError(
            f"{raw.name}: line {line}: not UTF-8 text (byte 0x{raw.data[exc.start]:02x}); save as 'CSV UTF-8'"
        ) from exc


def _delimiter(text: str, file_name: str) -> str:
    """The delimiter that makes the first line exactly the template's header; anything else is not the template."""
    first = text.split("\n", 1)[0].rstrip("\r")
    for delimiter in (",", ";"):
        header = [cell.strip().strip('"').strip().lower() for cell in first.split(delimiter)]
        if tuple(header) == COLUMNS:
            return delimiter
    raise ParseError(
        f"{file_name}: line 1: not the fi_national template: the header must be {','.join(COLUMNS)} "
        f"(separated by ',' or ';'), found {first[:200]!r}"
    )


FORMULA_STARTS = ("=", "+", "-", "@")
"""Cells a spreadsheet evaluates (CSV injection): refused in every column, since this file is opened in one."""


def _row(cells: list[str], line: int, problems: _Problems, first_line: dict[str, int]) -> Entry | None:
    if not any(cell.strip() for cell in cells):
        return None  # blank line, or Excel's ";;;;;;;;;;"
    if len(cells) != len(COLUMNS):
        problems.add(line, None, f"expected {len(COLUMNS)} fields, found {len(cells)} (an unquoted delimiter?)")
        return None
    row = {column: cell.strip() for column, cell in zip(COLUMNS, cells, strict=True)}
    before = len(problems.found)
    for column, value in row.items():
        if value.startswith(FORMULA_STARTS):
            problems.add(
                line, column, f"starts with {value[0]!r}, so a spreadsheet may run it as a formula; paste values only"
            )
        elif len(value) > _MAX_TEXT:
            problems.add(line, column, f"longer than {_MAX_TEXT} characters")
    if len(problems.found) > before:
        return None
    return _RowReader(row, line, problems).entry(first_line)


@dataclass
class _RowReader:
    """Reads one row's cells, reporting each bad cell with its column."""

    row: dict[str, str]
    line: int
    problems: _Problems

    def fail(self, column: str, reason: str) -> None:
        self.problems.add(self.line, column, reason)

    def entry(self, first_line: dict[str, int]) -> Entry | None:
        before = len(self.problems.found)
        schema = self.schema()
        name = self.name()
        aliases = [self.alias(value) for value in _split(self.row["aliases"])]
        is_person = schema == Schema.PERSON
        births = self.person_only(
            "birth_date", schema, lambda: [self.birth_date(v) for v in _split(self.row["birth_date"])]
        )
        places = self.person_only("birth_place", schema, lambda: _split(self.row["birth_place"]))
        countries = [self.country(value) for value in _split(self.row["nationality"])]
        identifiers = [self.identifier(value) for value in _split(self.row["identifiers"])]
        decision = self.decision_number(first_line)
        decided = self.decision_date()
        if len(self.problems.found) > before or schema is None or name is None or decision is None or decided is None:
            return None
        known_countries = unique(c for c in countries if c)
        return Entry(
            source="fi_national",
            source_ref=decision,
            schema_=schema,
            names=unique_names([name, *(a for a in aliases if a)]),
            birth_dates=unique(d for d in births if d),
            birth_places=unique(places),
            nationalities=known_countries if is_person else (),
            countries=() if is_person else known_countries,
            identifiers=unique(i for i in identifiers if i),
            programs=(PROGRAM,),
            topics=("sanction",),
            listed_on=decided,
            remarks=self.remarks(),
        )

    def schema(self) -> Schema | None:
        schema = _SCHEMAS.get(self.row["schema"].lower())
        if schema is None:
            self.fail("schema", f"must be Person or Organization, not {self.row['schema']!r}")
        return schema

    def name(self) -> Name | None:
        value = self.row["name"]
        if not value:
            self.fail("name", "required")
            return None
        if ";" in value:
            self.fail("name", "holds ';': put further names in the aliases column")
            return None
        if not any(ch.isalpha() for ch in value):
            self.fail("name", f"{value!r} has no letters")
            return None
        return Name(value=value, kind=NameKind.PRIMARY)

    def alias(self, value: str) -> Name | None:
        if not any(ch.isalpha() for ch in value):
            self.fail("aliases", f"{value!r} has no letters")
            return None
        kind = NameKind.STRONG_ALIAS if is_latin(value) else NameKind.ORIGINAL_SCRIPT
        return Name(value=value, kind=kind)

    def person_only(self, column: str, schema: Schema | None, read: Callable[[], list[T]]) -> list[T]:
        if self.row[column] and schema == Schema.ORGANIZATION:
            self.fail(column, "only for schema Person")
            return []
        return read()

    def birth_date(self, value: str) -> PartialDate | None:
        parsed = _date(value)
        if parsed is None:
            self.fail("birth_date", f"{value!r} is not YYYY, YYYY-MM, YYYY-MM-DD or d.m.yyyy")
            return None
        if parsed > _today():
            self.fail("birth_date", f"{value!r} is in the future")
            return None
        return PartialDate(date=parsed)

    def country(self, value: str) -> str | None:
        code = to_country(value)
        if code is None:
            self.fail("nationality", f"unknown country {value!r}: use ISO alpha-2 (FI) or an English/Finnish name")
        return code

    def identifier(self, value: str) -> Identifier | None:
        parts = [part.strip() for part in value.split(":")]
        if len(parts) not in (2, 3) or not parts[0] or not parts[1]:
            self.fail("identifiers", f"{_mask(value)!r} is not type:number or type:number:country")
            return None
        kind, number = parts[0].lower(), parts[1]
        country = None
        if len(parts) == 3:
            country = to_country(parts[2])
            if country is None:
                self.fail("identifiers", f"unknown issuing country {parts[2]!r}")
                return None
        if not _ID_TYPE.match(kind):
            self.fail("identifiers", f"identifier type {kind!r} must be lower-case letters, digits or '_'")
            return None
        checked = self.checked_number(kind, number)
        if checked is None:
            return None
        if kind in ("fi_hetu", "fi_ytunnus"):
            country = country or "FI"
        return Identifier(type=kind, number=checked, country=country)

    def checked_number(self, kind: str, number: str) -> str | None:
        """Numbers with a public checksum are verified: a typo there would make a hit look like a non-match."""
        validators: dict[str, tuple[Callable[[str], str], str]] = {
            "fi_hetu": (hetu.validate, "Finnish personal identity code"),
            "fi_ytunnus": (lambda n: ytunnus.format(ytunnus.validate(n)), "Finnish business ID"),
            "imo": (imo.validate, "IMO number"),
        }
        if kind not in validators:
            return number
        validate, label = validators[kind]
        try:
            return validate(number)
        except NumberError:
            self.fail("identifiers", f"invalid {label} {_mask(number)!r}")
            return None

    def decision_number(self, first_line: dict[str, int]) -> str | None:
        value = self.row["decision_number"]
        if not value:
            self.fail("decision_number", "required")
            return None
        if value.upper().startswith("EXAMPLE"):
            self.fail("decision_number", "this is the template's fictional example row: delete it")
            return None
        if not _DECISION.match(value):
            self.fail("decision_number", f"{value!r}: use letters, digits and . / : - only (no spaces)")
            return None
        if value in first_line:
            self.fail("decision_number", f"{value!r} is already used on line {first_line[value]}")
            return None
        first_line[value] = self.line
        return value

    def decision_date(self) -> str | None:
        value = self.row["decision_date"]
        parsed = _date(value)
        if parsed is None or len(parsed) != 10:
            self.fail("decision_date", f"{value!r} is not a date (YYYY-MM-DD or d.m.yyyy)" if value else "required")
            return None
        if parsed > _today():
            self.fail("decision_date", f"{value!r} is in the future")
            return None
        return parsed

    def remarks(self) -> str | None:
        parts = []
        if self.row["virallinen_lehti"]:
            parts.append(f"Virallinen lehti: {self.row['virallinen_lehti']}")
        if self.row["notes"]:
            parts.append(self.row["notes"])
        return "\n".join(parts) or None


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(";") if part.strip()]


def _date(value: str) -> str | None:
    """``YYYY[-MM[-DD]]`` or ``d.m.yyyy`` as an ISO partial date, or None when it is not a real date."""
    if m := _FINNISH_DATE.match(value):
        value = f"{int(m.group(3)):04d}-{int(m.group(2)):02d}-{int(m.group(1)):02d}"
    if not _ISO_DATE.match(value):
        return None
    try:
        return PartialDate(date=value).date
    except ValidationError:
        return None


def _today() -> str:
    return datetime.now(UTC).date().isoformat()


def _mask(value: str) -> str:
    """Personal identity codes must not reach logs or the fetch log in full."""
    return value[:2] + "*" * max(len(value) - 2, 0)
