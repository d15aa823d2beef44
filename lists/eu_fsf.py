"""EU Financial Sanctions Files (FSF) consolidated list: XML 1.1 ("export") and the legacy 1.0 XML.

The format is told by the root element: ``export`` in namespace ``http://eu.europa.ec/fpi/fsd/export`` (1.1) or
``WHOLE`` without a namespace (1.0). Both key entities by the same id (1.1 ``logicalId`` = 1.0 ``ENTITY@Id``), so a
switch between them diffs cleanly. Quirks handled: the first strong name alias is the primary name; translations
carry ``nameLanguage``; ``countryIso2Code="00"`` means unknown; birth dates as a full date, a year, a year range or
``circa``; 1.0 puts ISO alpha-3 codes, ``1965 (approximative)`` and ``NUMBER (type-Description) (remark)`` in text.

An entity's ``regulation`` is its latest legal act, not its listing: ``listed_on`` is the designation date when the
file has one, else the earliest act the file cites for the entity.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, date, datetime
from typing import Literal

from lxml import etree

from kyc.countries import to_country
from kyc.entry import Entry, Identifier, Name, NameKind, PartialDate, Position, Schema, unique
from kyc.versions import ParsedList, RawFile
from lists.base import Adapter, ParseError, clean, make_partial_date, partial_date, utc_midnight
from lists.names import listed_names
from lists.xml import child_text, children, parse_xml

EXPORT_NS = "http://eu.europa.ec/fpi/fsd/export"
_SCHEMAS = {"person": Schema.PERSON, "p": Schema.PERSON, "enterprise": Schema.ORGANIZATION, "e": Schema.ORGANIZATION}
_GENDERS: dict[str, Literal["male", "female"]] = {"M": "male", "F": "female"}
_DOCUMENT_TYPES = {"passport": "passport", "id": "national_id", "other": "other"}
_LEGACY_DOCUMENT = re.compile(
    r"^(?P<number>.+?)\s+\((?P<code>[a-z]+)-(?P<description>[^)]*)\)\s*(?P<note>.*)$", re.DOTALL
)
_LEGACY_BIRTH = re.compile(
    r"^(?P<start>\d{4}(?:-\d{2}-\d{2})?)(?:\s*-\s*(?P<end>\d{4}))?\s*(?P<approx>\(approximative\))?$"
)


class EuFsfAdapter(Adapter):
    source = "eu_fsf"
    title = "EU Financial Sanctions Files (consolidated list)"
    default_url = (
        "https://webgate.ec.europa.eu/fsd/fsf/public/files/xmlFullSanctionsList_1_1/content?token=dG9rZW4tMjAxNw"
    )
    parser_version = "2"
    """2: bundled names split into their spellings (``lists.names``)."""

    def parse(self, files: Sequence[RawFile]) -> ParsedList:
        if len(files) != 1:
            raise ParseError(f"expected one EU FSF XML file, got {len(files)} files")
        raw = files[0]
        root = parse_xml(raw.data, raw.name)
        if root.tag == f"{{{EXPORT_NS}}}export":
            published = _timestamp(root.get("generationDate"), raw.name)
            entries = [_entry(element, raw.name) for element in children(root, "sanctionEntity")]
            return ParsedList(entries=entries, file_format="eu_fsf_xml_1_1", published_at=published)
        if root.tag == "WHOLE":
            published = _legacy_published(root.get("Date"), raw.name)
            entries = [_legacy_entry(element, raw.name) for element in children(root, "ENTITY")]
            return ParsedList(entries=entries, file_format="eu_fsf_xml_1_0", published_at=published)
        raise ParseError(f"{raw.name}: root element is <{root.tag}>, expected <export> in {EXPORT_NS} or <WHOLE>")


def _timestamp(value: str | None, name: str) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ParseError(f"{name}: generationDate {value!r} is not a timestamp") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _legacy_published(value: str | None, name: str) -> datetime | None:
    if not value:
        return None
    day = partial_date(value)
    if day is None or len(day.date) != 10:
        raise ParseError(f"{name}: WHOLE@Date {value!r} is not a dd/mm/yyyy date")
    return utc_midnight(date.fromisoformat(day.date))


def _attr(element: etree._Element, name: str) -> str | None:
    return clean(element.get(name))


def _country(code: str | None) -> str | None:
    """ISO codes as the EU gives them; ``00`` (unknown) and historic codes become None."""
    return to_country(code) if code and code != "00" else None


def _positions(functions: Iterable[str | None]) -> tuple[Position, ...]:
    """Each translation repeats the function, sometimes in another case (``President``, ``president``)."""
    roles: dict[str, str] = {}
    for role in functions:
        if role:
            roles.setdefault(role.casefold(), role)
    return tuple(Position(role=role) for role in roles.values())


# --- XML 1.1 -----------------------------------------------------------------------------------------------------


def _entry(element: etree._Element, file_name: str) -> Entry:
    ref = _attr(element, "logicalId")
    if not ref:
        raise ParseError(
            f"{file_name}: a sanctionEntity (euReferenceNumber {element.get('euReferenceNumber')}) has no logicalId"
        )
    subject = next(iter(children(element, "subjectType")), None)
    code = ((subject.get("code") or subject.get("classificationCode") or "") if subject is not None else "").lower()
    aliases = children(element, "nameAlias")
    schema = _SCHEMAS.get(code, Schema.LEGAL_ENTITY)
    names = _names(aliases, schema)
    if not names:
        raise ParseError(f"{file_name}: sanctionEntity {ref} has no nameAlias with a name")
    genders = {_GENDERS.get((alias.get("gender") or "").upper()) for alias in aliases} - {None}
    return Entry(
        source="eu_fsf",
        source_ref=ref,
        schema_=schema,
        names=names,
        gender=genders.pop() if len(genders) == 1 else None,
        birth_dates=unique(d for birth in children(element, "birthdate") if (d := _birth_date(birth))),
        birth_places=unique(place for birth in children(element, "birthdate") if (place := _place(birth))),
        nationalities=unique(
            country for item in children(element, "citizenship") if (country := _country(item.get("countryIso2Code")))
        ),
        countries=unique(
            country for item in children(element, "address") if (country := _country(item.get("countryIso2Code")))
        ),
        identifiers=unique(_identifiers(element)),
        addresses=unique(text for item in children(element, "address") if (text := _address(item))),
        programs=unique(p for reg in children(element, "regulation") if (p := _attr(reg, "programme"))),
        topics=("sanction",),
        listed_on=_listed_on(element),
        un_ref=_attr(element, "unitedNationId"),
        positions=_positions(_attr(alias, "function") for alias in aliases),
        remarks="\n".join(text for item in children(element, "remark") if (text := clean(item.text))) or None,
    )


def _names(aliases: list[etree._Element], schema: Schema) -> tuple[Name, ...]:
    names: list[Name] = []
    for alias in aliases:
        parts = (_attr(alias, "firstName"), _attr(alias, "middleName"), _attr(alias, "lastName"))
        value = _attr(alias, "wholeName") or " ".join(part for part in parts if part)
        if not value:
            continue
        strong = (alias.get("strong") or "true").lower() != "false"
        if not strong:
            kind = NameKind.WEAK_ALIAS
        elif any(name.kind == NameKind.PRIMARY for name in names):
            kind = NameKind.STRONG_ALIAS
        else:
            kind = NameKind.PRIMARY
        language = _attr(alias, "nameLanguage")
        names.append(Name(value=value, kind=kind, lang=language.lower() if language else None))
    return listed_names(names, schema)


def _birth_date(element: etree._Element) -> PartialDate | None:
    approximate = (element.get("circa") or "").lower() == "true"
    if full := _attr(element, "birthdate"):
        return partial_date(full, approximate=approximate)
    start, end = _attr(element, "yearRangeFrom"), _attr(element, "yearRangeTo")
    if start and end and start.isdigit() and end.isdigit():
        return PartialDate(date=start, end=end, approximate=approximate)
    year = _attr(element, "year")
    if year and year.isdigit():
        month = _attr(element, "monthOfYear") or "0"
        return make_partial_date(int(year), int(month) if month.isdigit() else 0, approximate=approximate)
    return None


def _place(element: etree._Element) -> str | None:
    country = _attr(element, "countryDescription")
    parts = [_attr(element, tag) for tag in ("city", "place", "region")]
    parts.append(country if country and country.upper() != "UNKNOWN" else None)
    return ", ".join(part for part in parts if part) or None


def _address(element: etree._Element) -> str | None:
    country = _attr(element, "countryDescription")
    parts = [_attr(element, tag) for tag in ("street", "poBox", "zipCode", "city", "place", "region")]
    parts.append(country if country and country.upper() != "UNKNOWN" else None)
    return ", ".join(part for part in parts if part) or None


def _identifiers(element: etree._Element) -> Iterator[Identifier]:
    for item in children(element, "identification"):
        number = _attr(item, "number") or _attr(item, "latinNumber")
        if not number:
            continue
        code = (_attr(item, "identificationTypeCode") or "other").lower()
        notes = [_attr(item, "identificationTypeDescription")]
        notes += [clean(remark.text) for remark in children(item, "remark")]
        yield Identifier(
            type=_DOCUMENT_TYPES.get(code, code),
            number=number,
            country=_country(item.get("countryIso2Code")),
            note="; ".join(note for note in notes if note) or None,
        )
    if eu_ref := _attr(element, "euReferenceNumber"):
        yield Identifier(type="eu_reference_number", number=eu_ref)


def _listed_on(element: etree._Element) -> str | None:
    if designated := partial_date(_attr(element, "designationDate")):
        return designated.date
    dates = [
        day.date
        for found in element.iter("{*}regulation", "{*}regulationSummary")
        if (day := partial_date(found.get("publicationDate")))
    ]
    return min(dates, default=None)


# --- legacy XML 1.0 ----------------------------------------------------------------------------------------------


def _legacy_entry(element: etree._Element, file_name: str) -> Entry:
    ref = _attr(element, "Id")
    if not ref:
        raise ParseError(f"{file_name}: an ENTITY has no Id")
    kind = (element.get("Type") or "").lower()
    schema = _SCHEMAS.get(kind)
    if schema is None:
        raise ParseError(f"{file_name}: ENTITY {ref}: unknown Type {element.get('Type')!r}")
    name_elements = children(element, "NAME")
    names = _legacy_names(name_elements, schema)
    if not names:
        raise ParseError(f"{file_name}: ENTITY {ref} has no NAME")
    genders = {_GENDERS.get(child_text(name, "GENDER") or "") for name in name_elements} - {None}
    births = children(element, "BIRTH")
    programme = _attr(element, "programme")
    remark = clean(element.get("remark"))
    return Entry(
        source="eu_fsf",
        source_ref=ref,
        schema_=schema,
        names=names,
        gender=genders.pop() if len(genders) == 1 else None,
        birth_dates=unique(d for birth in births if (d := _legacy_birth_date(child_text(birth, "DATE")))),
        birth_places=unique(
            place
            for birth in births
            if (place := ", ".join(v for tag in ("PLACE", "COUNTRY") if (v := child_text(birth, tag))))
        ),
        nationalities=unique(
            code for citizen in children(element, "CITIZEN") if (code := _country(child_text(citizen, "COUNTRY")))
        ),
        countries=unique(
            code for address in children(element, "ADDRESS") if (code := _country(child_text(address, "COUNTRY")))
        ),
        identifiers=unique(_legacy_documents(children(element, "PASSPORT"))),
        addresses=unique(
            text
            for address in children(element, "ADDRESS")
            if (
                text := ", ".join(
                    v
                    for tag in ("NUMBER", "STREET", "ZIPCODE", "CITY", "COUNTRY", "OTHER")
                    if (v := child_text(address, tag))
                )
            )
        ),
        programs=(programme,) if programme else (),
        topics=("sanction",),
        listed_on=_legacy_listed_on(element),
        positions=_positions(child_text(name, "FUNCTION") for name in name_elements),
        remarks=remark.removeprefix("(").removesuffix(")") if remark else None,
    )


def _legacy_names(elements: list[etree._Element], schema: Schema) -> tuple[Name, ...]:
    names: list[Name] = []
    for element in elements:
        parts = (child_text(element, tag) for tag in ("FIRSTNAME", "MIDDLENAME", "LASTNAME"))
        value = child_text(element, "WHOLENAME") or " ".join(part for part in parts if part)
        if not value:
            continue
        language = child_text(element, "LANGUAGE")
        kind = NameKind.STRONG_ALIAS if names else NameKind.PRIMARY
        names.append(Name(value=value, kind=kind, lang=language.lower() if language else None))
    return listed_names(names, schema)


def _legacy_birth_date(text: str | None) -> PartialDate | None:
    """``1937-04-28``, ``1965``, ``1965 (approximative)``, ``1955 - 1960 (approximative)``."""
    if not text or not (m := _LEGACY_BIRTH.match(text)):
        return None
    approximate = m.group("approx") is not None
    if m.group("end"):
        return PartialDate(date=m.group("start")[:4], end=m.group("end"), approximate=approximate)
    return partial_date(m.group("start"), approximate=approximate)


def _legacy_documents(elements: list[etree._Element]) -> Iterator[Identifier]:
    for element in elements:
        text = (element.findtext("NUMBER") or "").strip()
        if not text:
            continue
        m = _LEGACY_DOCUMENT.match(text)
        number = clean(m.group("number") if m else text)
        if not number or number.upper() == "UNKNOWN":
            continue
        code = m.group("code") if m else "other"
        note = clean(" ".join(part for part in (m.group("description"), m.group("note")) if part)) if m else None
        yield Identifier(
            type=_DOCUMENT_TYPES.get(code, code),
            number=number,
            country=_country(child_text(element, "COUNTRY")),
            note=note,
        )


def _legacy_listed_on(element: etree._Element) -> str | None:
    dates = [day.date for found in element.iter() if (day := partial_date(found.get("reg_date")))]
    return min(dates, default=None)
