"""OFAC SDN list and OFAC Consolidated (non-SDN) list.

One version is one of: the legacy CSV file set (``sdn.csv`` + optional ``add.csv``, ``alt.csv``,
``sdn_comments.csv``; for the non-SDN list ``cons_prim.csv`` + ``cons_add/cons_alt/cons_comments.csv``), one
sdnList XML (``SDN.XML`` / ``CONSOLIDATED.XML``), or one enhanced-XML zip (``*_ENHANCED.ZIP``). Files are told apart
by name, and by content where the name is unknown (the XML root, the zip magic, the CSV column count).

Quirks of the legacy CSV handled here: no header row; ``-0- `` as NULL; CRLF; a DOS EOF byte (0x1A) on the last
line; programs joined as ``SDGT] [IFSR``; remarks cut at ~1000 characters and continued, mid-word, in the comments
file; strong aliases in alt.csv (``aka``/``fka``/``nka``), weak ones only as ``a.k.a. 'X'`` in the remarks; personal
data only in the remarks (see :mod:`lists.ofac_common`). A row with the wrong number of columns (a file cut
mid-row) rejects the whole version.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from enum import StrEnum
from typing import ClassVar

from kyc.countries import to_country
from kyc.entry import Entry, NameKind
from kyc.versions import ParsedList, RawFile
from lists.base import Adapter, ParseError, decode_text
from lists.ofac_common import NULL, EntryParts, make_identifier, null, parse_remarks, schema_for
from lists.ofac_xml import is_xml, is_zip, parse_enhanced_zip, parse_sdn_xml


class Role(StrEnum):
    PRIMARY = "primary"
    ADDRESS = "address"
    ALIAS = "alias"
    COMMENTS = "comments"


_COLUMNS = {Role.PRIMARY: 12, Role.ADDRESS: 6, Role.ALIAS: 5, Role.COMMENTS: 2}
_ROLE_BY_COLUMNS = {count: role for role, count in _COLUMNS.items()}
_PROGRAM_SPLIT = re.compile(r"\]\s*\[")
_ALIAS_TYPES = {"aka", "fka", "nka"}
_NULLS = frozenset({"", NULL})


class _OfacAdapter(Adapter):
    """The SDN and non-SDN lists share every format; only the file names and the feed differ."""

    file_names: ClassVar[dict[str, Role]]
    other_names: ClassVar[dict[str, str]]
    """File names that belong to the other OFAC list, so that a mix-up is reported rather than guessed."""
    parser_version = "2"
    """2: bundled names split into their spellings (``lists.names``)."""

    def parse(self, files: Sequence[RawFile]) -> ParsedList:
        if not files:
            raise ParseError("no files given")
        structured = [raw for raw in files if is_zip(raw.data) or is_xml(raw.data)]
        if structured:
            if len(files) != 1:
                names = ", ".join(raw.name for raw in files)
                raise ParseError(f"one version is either a CSV file set or one XML or one zip, got {names}")
            raw = structured[0]
            if is_zip(raw.data):
                return parse_enhanced_zip(raw, self.source)
            return parse_sdn_xml(raw, self.source)
        return self._parse_csv_set(files)

    def _parse_csv_set(self, files: Sequence[RawFile]) -> ParsedList:
        by_role = self._roles(files)
        primary_name = next(name for name, role in self.file_names.items() if role == Role.PRIMARY)
        if Role.PRIMARY not in by_role:
            given = ", ".join(raw.name for raw in files)
            raise ParseError(f"{primary_name} is required: {given} cannot be ingested without it")
        warnings: list[str] = []
        parts, texts = _primary(by_role[Role.PRIMARY], self.source)
        if Role.COMMENTS in by_role:
            _comments(by_role[Role.COMMENTS], texts, warnings)
        _remark_facts(parts, texts)
        if Role.ALIAS in by_role:
            _aliases(by_role[Role.ALIAS], parts, warnings)
        if Role.ADDRESS in by_role:
            _addresses(by_role[Role.ADDRESS], parts, warnings)
        entries: list[Entry] = [part.entry() for part in parts.values()]
        return ParsedList(entries=entries, file_format="ofac_csv", published_at=None, warnings=warnings)

    def _roles(self, files: Sequence[RawFile]) -> dict[Role, RawFile]:
        by_role: dict[Role, RawFile] = {}
        for raw in files:
            base = raw.name.replace("\\", "/").rsplit("/", 1)[-1].lower()
            if base in self.other_names:
                raise ParseError(f"{raw.name}: belongs to the {self.other_names[base]} list, not {self.source}")
            role = self.file_names.get(base) or _role_by_content(raw)
            if role in by_role:
                raise ParseError(f"{raw.name}: a second {role.value} file in one set (first: {by_role[role].name})")
            by_role[role] = raw
        return by_role


def _role_by_content(raw: RawFile) -> Role:
    first = next(iter(_rows(raw, None)), None)
    role = _ROLE_BY_COLUMNS.get(len(first)) if first else None
    if role is None:
        raise ParseError(f"{raw.name}: not an OFAC CSV file (unknown name and {len(first or [])} columns)")
    return role


def _rows(raw: RawFile, role: Role | None) -> list[list[str | None]]:
    """The CSV rows with NULLs as None; the trailing 0x1A is dropped; a short or long row rejects the file.

    Values keep their spaces: a remark cut at the cap may end in the space that separates it from its continuation.
    """
    text = decode_text(raw).rstrip("\r\n\x1a \t")
    if not text.strip():
        raise ParseError(f"{raw.name}: the file is empty")
    expected = _COLUMNS[role] if role else None
    rows: list[list[str | None]] = []
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        for row in reader:
            if not row or (len(row) == 1 and not row[0].strip("\x1a ")):
                continue
            if expected is not None and len(row) != expected:
                raise ParseError(
                    f"{raw.name}: line {reader.line_num} has {len(row)} columns, expected {expected}"
                    " (truncated or not an OFAC CSV file)"
                )
            rows.append([None if value.strip() in _NULLS else value for value in row])
            if expected is None:
                break
    except csv.Error as exc:
        raise ParseError(f"{raw.name}: line {reader.line_num}: malformed CSV: {exc}") from exc
    return rows


def _ref(value: str | None, raw: RawFile, line: int) -> str:
    if value is None or not value.isdigit():
        raise ParseError(f"{raw.name}: row {line}: ent_num {value!r} is not a number")
    return value


def _primary(raw: RawFile, source: str) -> tuple[dict[str, EntryParts], dict[str, str]]:
    """The records, and their remarks texts by ent_num (kept apart until the comments continuation is appended)."""
    parts: dict[str, EntryParts] = {}
    texts: dict[str, str] = {}
    for line, row in enumerate(_rows(raw, Role.PRIMARY), start=1):
        ref = _ref(null(row[0]), raw, line)
        name, sdn_type, program, title, call_sign, vess_type, tonnage, grt, flag, owner = (null(v) for v in row[1:11])
        remarks = row[11]
        if ref in parts:
            raise ParseError(f"{raw.name}: row {line}: ent_num {ref} is listed twice")
        if not name:
            raise ParseError(f"{raw.name}: row {line}: ent_num {ref} has no name")
        try:
            schema = schema_for(sdn_type)
        except ValueError as exc:
            raise ParseError(f"{raw.name}: row {line}: {exc}") from exc
        part = EntryParts(source=source, source_ref=ref, schema=schema)
        part.name(name, NameKind.PRIMARY)
        part.programs = [p.strip(" []") for p in _PROGRAM_SPLIT.split(program or "") if p.strip(" []")]
        if remarks:
            texts[ref] = remarks
        if title and title not in " ".join((remarks or "").split()):
            part.remarks.append(f"Title: {title}")
        _vessel(part, call_sign, vess_type, tonnage, grt, flag, owner)
        parts[ref] = part
    return parts, texts


def _vessel(
    part: EntryParts,
    call_sign: str | None,
    vess_type: str | None,
    tonnage: str | None,
    grt: str | None,
    flag: str | None,
    owner: str | None,
) -> None:
    if call_sign and (identifier := make_identifier("call_sign", call_sign)):
        part.facts.identifiers.append(identifier)
    if flag and (code := to_country(flag)):
        part.facts.countries.append(code)
    details = [
        f"{label}: {value}"
        for label, value in (
            ("Vessel type", vess_type),
            ("Tonnage", tonnage),
            ("GRT", grt),
            ("Flag", flag),
            ("Owner", owner),
        )
        if value
    ]
    if details:
        part.remarks.append("; ".join(details))


def _comments(raw: RawFile, texts: dict[str, str], warnings: list[str]) -> None:
    """The comments file continues a remark that hit the length cap, often mid-word: append it as is."""
    for line, row in enumerate(_rows(raw, Role.COMMENTS), start=1):
        ref, text = _ref(null(row[0]), raw, line), row[1]
        if ref not in texts:
            warnings.append(f"{raw.name}: row {line}: ent_num {ref} has no remarks in the primary file to continue")
            continue
        if text:
            texts[ref] = texts[ref] + text


def _remark_facts(parts: dict[str, EntryParts], texts: dict[str, str]) -> None:
    """Parse each record's full remarks; vessel columns already gave identifiers and a flag country."""
    for ref, raw_text in texts.items():
        part = parts[ref]
        text = " ".join(raw_text.split())
        facts = parse_remarks(text, person=part.person)
        facts.identifiers[:0] = part.facts.identifiers
        facts.countries[:0] = part.facts.countries
        part.facts = facts
        part.remarks.insert(0, text)


def _aliases(raw: RawFile, parts: dict[str, EntryParts], warnings: list[str]) -> None:
    for line, row in enumerate(_rows(raw, Role.ALIAS), start=1):
        ref, _alt_num, alt_type, alt_name, _remarks = (null(v) for v in row)
        part = parts.get(_ref(ref, raw, line))
        if part is None:
            warnings.append(f"{raw.name}: row {line}: ent_num {ref} is not in the primary file")
            continue
        kind = (alt_type or "").strip().lower().replace(".", "")
        if kind not in _ALIAS_TYPES:
            raise ParseError(f"{raw.name}: row {line}: unknown alias type {alt_type!r}")
        part.name(alt_name, NameKind.STRONG_ALIAS)


def _addresses(raw: RawFile, parts: dict[str, EntryParts], warnings: list[str]) -> None:
    for line, row in enumerate(_rows(raw, Role.ADDRESS), start=1):
        ref, _add_num, street, city, country, _remarks = (null(v) for v in row)
        part = parts.get(_ref(ref, raw, line))
        if part is None:
            warnings.append(f"{raw.name}: row {line}: ent_num {ref} is not in the primary file")
            continue
        text = ", ".join(value for value in (street, city, country) if value)
        if text:
            part.addresses.append(text)
        if country and (code := to_country(country)):
            part.facts.countries.append(code)


class OfacSdnAdapter(_OfacAdapter):
    source = "ofac_sdn"
    title = "OFAC Specially Designated Nationals (SDN) List"
    default_url = "https://sanctionslistservice.ofac.treas.gov/api/PublicationPreview/exports/SDN.XML"
    file_names: ClassVar[dict[str, Role]] = {
        "sdn.csv": Role.PRIMARY,
        "add.csv": Role.ADDRESS,
        "alt.csv": Role.ALIAS,
        "sdn_comments.csv": Role.COMMENTS,
    }
    other_names: ClassVar[dict[str, str]] = {
        name: "ofac_cons" for name in ("cons_prim.csv", "cons_add.csv", "cons_alt.csv", "cons_comments.csv")
    }


class OfacConsAdapter(_OfacAdapter):
    source = "ofac_cons"
    title = "OFAC Consolidated (non-SDN) List"
    default_url = "https://sanctionslistservice.ofac.treas.gov/api/PublicationPreview/exports/CONSOLIDATED.XML"
    file_names: ClassVar[dict[str, Role]] = {
        "cons_prim.csv": Role.PRIMARY,
        "cons_add.csv": Role.ADDRESS,
        "cons_alt.csv": Role.ALIAS,
        "cons_comments.csv": Role.COMMENTS,
    }
    other_names: ClassVar[dict[str, str]] = {
        name: "ofac_sdn" for name in ("sdn.csv", "add.csv", "alt.csv", "sdn_comments.csv")
    }
