"""Consolidated Canadian Autonomous Sanctions List (Global Affairs Canada ``sema-lmes.xml``, ``<data-set>/<record>``).

The file identifies nothing: no record id, no file date. Design decisions that follow from that:

- **source_ref** is the legal citation of the designation: the regulation (the English half of ``Country``, or the
  acronym in its trailing parentheses, e.g. ``JVCFOR``), the ``Schedule`` part and the ``Item`` number, e.g.
  ``Russia / Schedule 1, Part 1 / Item 123``. Regulations number their schedule items for good and repeal an item
  instead of renumbering the others, so the key is stable across list versions; in the 2025-05 file all 4,759
  keys are distinct. Seven regulations (Venezuela, Zimbabwe, JVCFOR...) have no ``Schedule``: their key is
  ``Venezuela / Item 12``. A file with a repeated key is rejected rather than silently merged.
- **Publication date**: the latest ``DateOfListing`` in the file, the only date it carries. It is the earliest the
  file can have been published, not the day it was.
- ``Country`` names the *regime* (``Russia / Russie``; also thematic ones such as JVCFOR or Hamas attacks), not the
  person's nationality: it becomes the programme, and the regime's country (where there is one) goes to
  ``countries``, never to ``nationalities``.
- ``Aliases`` is one free-text field: comma/semicolon/``or`` separated, with language prefixes (``Belarusian:``,
  ``Russian:``, ``Arabic:``). Names not in Latin script become original-script names with the prefix's language;
  single given-name fragments (``Sergei, Serhii SHERBAKOV``) and short acronyms become weak aliases; a fragment
  that is only a legal form (``Конкорд Менеджмент и консалтинг, ООО``) stays with the name it belongs to.
- Ships (``ShipIMONumber``) are vessels with an ``imo`` identifier; their ``DateOfBirthOrShipBuildDate`` is a build
  year, kept as a remark rather than a birth date. Other ``EntityOrShip`` records are organisations.
- ``DateOfBirthOrShipBuildDate`` is ``1972``, ``1965-04-29``, ``1963-1964`` (a range) or ``A or B``; anything else
  (``Sep-99``, ``born in the early 1970s``) is kept verbatim in the remarks.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime

from lxml import etree
from rigour.langs import iso_639_alpha3
from rigour.names import remove_org_types
from rigour.text.scripts import is_latin

from kyc.countries import to_countries
from kyc.entry import Entry, Identifier, Name, NameKind, PartialDate, Schema, unique
from kyc.versions import ParsedList, RawFile
from lists.base import Adapter, ParseError, partial_date, utc_midnight
from lists.names import listed_names
from lists.xml import child_text, children, parse_xml

_LANG_PREFIX = re.compile(r"\b([A-Z][a-z]+)\s*:")
_ALIAS_SPLIT = re.compile(r",|\s+or\s+|\s+/\s*|\s*/\s+", re.IGNORECASE)
_PERSON_SPLIT = re.compile(r",|\s+or\s+|\s+and\s+|/", re.IGNORECASE)
_YEAR_RANGE = re.compile(r"^(\d{4})\s*-\s*(\d{4})$")
_EDGE = " ,;:.\u200b"
_ACRONYM_MAX = 5


class CaSemaAdapter(Adapter):
    source = "ca_sema"
    title = "Consolidated Canadian Autonomous Sanctions List (SEMA, JVCFOR)"
    default_url = (
        "https://www.international.gc.ca/world-monde/assets/office_docs/"
        "international_relations-relations_internationales/sanctions/sema-lmes.xml"
    )
    parser_version = "2"
    """2: bundled names split into their spellings (``lists.names``)."""

    def parse(self, files: Sequence[RawFile]) -> ParsedList:
        if len(files) != 1:
            raise ParseError(f"expected one sema-lmes.xml, got {len(files)} files")
        raw = files[0]
        root = parse_xml(raw.data, raw.name)
        if root.tag != "data-set":
            raise ParseError(f"{raw.name}: root element is <{root.tag}>, expected <data-set>")
        entries: list[Entry] = []
        seen: dict[str, int] = {}
        for position, record in enumerate(children(root, "record"), start=1):
            entry = _entry(record, raw.name, position)
            if entry.source_ref in seen:
                raise ParseError(
                    f"{raw.name}: records {seen[entry.source_ref]} and {position} share the key {entry.source_ref!r}"
                )
            seen[entry.source_ref] = position
            entries.append(entry)
        listed = [entry.listed_on for entry in entries if entry.listed_on]
        published = utc_midnight(datetime.strptime(max(listed), "%Y-%m-%d").date()) if listed else None
        return ParsedList(entries=entries, file_format="ca_sema_xml", published_at=published, dated_by_file=False)


def _where(file_name: str, position: int) -> str:
    return f"{file_name}: record {position}"


def source_ref(country: str, schedule: str | None, item: str) -> str:
    """The designation's citation: regulation / schedule part / item (see the module docstring)."""
    regime = country.split(" / ")[0].strip()
    if acronym := re.search(r"\(([A-Z]{3,})\)$", regime):
        regime = acronym.group(1)
    parts = [regime]
    if schedule:
        parts.append("Schedule " + re.sub(r"\s*,\s*", ", ", schedule))
    parts.append(f"Item {item}")
    return " / ".join(parts)


def _entry(record: etree._Element, file_name: str, position: int) -> Entry:
    country, item = child_text(record, "Country"), child_text(record, "Item")
    if not country or not item:
        raise ParseError(f"{_where(file_name, position)}: Country and Item are required")
    ref = source_ref(country, child_text(record, "Schedule"), item)
    listed = child_text(record, "DateOfListing")
    listed_on = partial_date(listed)
    if listed and (listed_on is None or len(listed_on.date) != 10):
        raise ParseError(f"{_where(file_name, position)} ({ref}): DateOfListing {listed!r} is not a date")
    entity, imo = child_text(record, "EntityOrShip"), child_text(record, "ShipIMONumber")
    schema = Schema.PERSON if not entity else Schema.VESSEL if imo else Schema.ORGANIZATION
    primary = entity or " ".join(p for p in (child_text(record, "GivenName"), child_text(record, "LastName")) if p)
    if not primary:
        raise ParseError(f"{_where(file_name, position)} ({ref}): no LastName, GivenName or EntityOrShip")
    names = [Name(value=primary, kind=NameKind.PRIMARY), *aliases(child_text(record, "Aliases"), schema)]
    remarks: list[str] = []
    title = child_text(record, "TitleOrShip")
    if title:
        remarks.append(f"{'Vessel type' if schema == Schema.VESSEL else 'Title'}: {title}")
    dob_text = child_text(record, "DateOfBirthOrShipBuildDate")
    birth_dates: tuple[PartialDate, ...] = ()
    if dob_text and schema == Schema.VESSEL:
        remarks.append(f"Built: {dob_text}")
    elif dob_text:
        birth_dates = birth_date(dob_text)
        if not birth_dates:
            remarks.append(f"Date of birth: {dob_text}")
    regime = country.split(" / ")[0].strip()
    return Entry(
        source="ca_sema",
        source_ref=ref,
        schema_=schema,
        names=listed_names(names, schema),
        birth_dates=birth_dates,
        countries=tuple(to_countries(country)),
        identifiers=(Identifier(type="imo", number=imo),) if imo else (),
        programs=(regime,),
        topics=("sanction",),
        listed_on=listed_on.date if listed_on else None,
        remarks="; ".join(remarks) or None,
    )


def birth_date(text: str) -> tuple[PartialDate, ...]:
    """``1972``, ``1965-04-29``, ``1963-1964``, ``A or B``; empty when any alternative is not a date."""
    found: list[PartialDate] = []
    for part in re.split(r"\s+or\s+", text.strip(), flags=re.IGNORECASE):
        part = part.strip()
        if m := _YEAR_RANGE.match(part):
            found.append(PartialDate(date=m.group(1), end=m.group(2)))
        elif parsed := partial_date(part):
            found.append(parsed)
        else:
            return ()
    return unique(found)


def aliases(text: str | None, schema: Schema) -> list[Name]:
    """Split the free-text ``Aliases`` field into names (see the module docstring)."""
    names: list[Name] = []
    for segment in (text or "").split(";"):
        for lang, chunk in _language_chunks(" ".join(segment.split())):
            for piece in _pieces(chunk, schema):
                names.append(_name(piece, lang, schema))
    return names


def _language_chunks(segment: str) -> list[tuple[str | None, str]]:
    """``A, Belarusian: B, Russian: C`` -> ``[(None, 'A,'), ('bel', 'B,'), ('rus', 'C')]``."""
    chunks: list[tuple[str | None, str]] = []
    lang: str | None = None
    start = 0
    for m in _LANG_PREFIX.finditer(segment):
        code = iso_639_alpha3(m.group(1))
        if code is None:
            continue
        chunks.append((lang, segment[start : m.start()]))
        lang, start = code, m.end()
    chunks.append((lang, segment[start:]))
    return [(lang, chunk) for lang, chunk in chunks if chunk.strip(_EDGE)]


def _pieces(chunk: str, schema: Schema) -> list[str]:
    splitter = _PERSON_SPLIT if schema == Schema.PERSON else _ALIAS_SPLIT
    pieces: list[str] = []
    for raw_piece in splitter.split(chunk):
        piece = _trim(raw_piece)
        if not piece:
            continue
        if schema != Schema.PERSON and _only_legal_form(piece):
            if pieces:
                pieces[-1] = f"{pieces[-1]}, {piece}"
            continue
        pieces.append(piece)
    return pieces


def _trim(piece: str) -> str:
    """Strip separators and brackets the split left unbalanced (``(Владимир ...``, ``... СКР)``)."""
    text = piece.strip(_EDGE + " ")
    if text.count("(") != text.count(")"):
        text = text.strip("()").strip(_EDGE)
    return text


def _only_legal_form(piece: str) -> bool:
    return not remove_org_types(piece.casefold()).strip(_EDGE + "\"'«»“”()")


def _name(piece: str, lang: str | None, schema: Schema) -> Name:
    if not is_latin(piece):
        return Name(value=piece, kind=NameKind.ORIGINAL_SCRIPT, lang=lang)
    single = len(piece.split()) == 1
    if single and (schema == Schema.PERSON or len(piece) <= _ACRONYM_MAX):
        return Name(value=piece, kind=NameKind.WEAK_ALIAS, lang=lang)
    return Name(value=piece, kind=NameKind.STRONG_ALIAS, lang=lang)
