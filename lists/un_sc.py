"""UN Security Council Consolidated List (``sc-sanctions.xsd`` XML, no namespace).

Quirks handled: names split over FIRST..FOURTH_NAME, not consistently in given/family order (kept in the
listed order, which is how the UN and other lists print them); empty placeholder aliases; alias quality
``Low`` is a weak alias; dates of birth as DATE, YEAR or FROM_YEAR..TO_YEAR with EXACT/APPROXIMATELY/BETWEEN;
nationalities as English country names.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from lxml import etree

from kyc.countries import to_countries, to_country
from kyc.entry import Entry, Identifier, Name, NameKind, PartialDate, Schema, unique
from kyc.versions import ParsedList, RawFile
from lists.base import Adapter, ParseError, make_partial_date, partial_date
from lists.names import listed_names
from lists.xml import child_text, children, parse_xml

_NAME_PARTS = ("FIRST_NAME", "SECOND_NAME", "THIRD_NAME", "FOURTH_NAME")


class UnScAdapter(Adapter):
    source = "un_sc"
    title = "UN Security Council Consolidated List"
    default_url = "https://scsanctions.un.org/resources/xml/en/consolidated.xml"
    parser_version = "2"
    """2: bundled names split into their spellings (``lists.names``)."""

    def parse(self, files: Sequence[RawFile]) -> ParsedList:
        if len(files) != 1:
            raise ParseError(f"expected one consolidated.xml, got {len(files)} files")
        raw = files[0]
        root = parse_xml(raw.data, raw.name)
        if root.tag != "CONSOLIDATED_LIST":
            raise ParseError(f"{raw.name}: root element is <{root.tag}>, expected <CONSOLIDATED_LIST>")
        published = _generated(root.get("dateGenerated"), raw.name)
        entries: list[Entry] = []
        for group, record_tag, schema in (
            ("INDIVIDUALS", "INDIVIDUAL", Schema.PERSON),
            ("ENTITIES", "ENTITY", Schema.ORGANIZATION),
        ):
            for container in children(root, group):
                for record in children(container, record_tag):
                    entries.append(_entry(record, schema, raw.name))
        return ParsedList(entries=entries, file_format="un_sc_xml", published_at=published)


def _generated(value: str | None, name: str) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ParseError(f"{name}: dateGenerated {value!r} is not a timestamp") from exc


def _entry(record: etree._Element, schema: Schema, file_name: str) -> Entry:
    ref = child_text(record, "REFERENCE_NUMBER")
    if not ref:
        raise ParseError(f"{file_name}: a {record.tag} (DATAID {child_text(record, 'DATAID')}) has no REFERENCE_NUMBER")
    parts = [part for tag in _NAME_PARTS if (part := child_text(record, tag))]
    if not parts:
        raise ParseError(f"{file_name}: {ref} has no name")
    names = [Name(value=" ".join(parts), kind=NameKind.PRIMARY)]
    original = child_text(record, "NAME_ORIGINAL_SCRIPT")
    if original:
        names.append(Name(value=original, kind=NameKind.ORIGINAL_SCRIPT))
    alias_tag = "INDIVIDUAL_ALIAS" if schema == Schema.PERSON else "ENTITY_ALIAS"
    for alias in children(record, alias_tag):
        alias_name = child_text(alias, "ALIAS_NAME")
        if alias_name:
            weak = (child_text(alias, "QUALITY") or "").lower() in ("low", "a.k.a. low")
            names.append(Name(value=alias_name, kind=NameKind.WEAK_ALIAS if weak else NameKind.STRONG_ALIAS))

    gender = (child_text(record, "GENDER") or "").lower()
    nationalities = [code for value in _values(record, "NATIONALITY") for code in to_countries(value)]
    countries: list[str] = []
    addresses: list[str] = []
    for address in children(record, "INDIVIDUAL_ADDRESS") + children(record, "ENTITY_ADDRESS"):
        country = to_country(child_text(address, "COUNTRY"))
        if country:
            countries.append(country)
        text = ", ".join(
            v for tag in ("STREET", "CITY", "STATE_PROVINCE", "ZIP_CODE", "COUNTRY") if (v := child_text(address, tag))
        )
        if text:
            addresses.append(text)
    places = []
    for place in children(record, "INDIVIDUAL_PLACE_OF_BIRTH"):
        text = ", ".join(v for tag in ("CITY", "STATE_PROVINCE", "COUNTRY") if (v := child_text(place, tag)))
        if text:
            places.append(text)
    identifiers = [doc for element in children(record, "INDIVIDUAL_DOCUMENT") if (doc := _document(element))]
    program = child_text(record, "UN_LIST_TYPE")
    return Entry(
        source="un_sc",
        source_ref=ref,
        schema_=schema,
        names=listed_names(names, schema),
        gender=gender if gender in ("male", "female") else None,
        birth_dates=unique(
            d for element in children(record, "INDIVIDUAL_DATE_OF_BIRTH") if (d := _birth_date(element))
        ),
        birth_places=unique(places),
        nationalities=unique(nationalities),
        countries=unique(countries),
        identifiers=unique(identifiers),
        addresses=unique(addresses),
        programs=(program,) if program else (),
        topics=("sanction",),
        listed_on=_listed_on(child_text(record, "LISTED_ON")),
        un_ref=ref,
        remarks=child_text(record, "COMMENTS1"),
    )


def _values(record: etree._Element, tag: str) -> list[str]:
    return [text for element in children(record, tag) if (text := child_text(element, "VALUE"))]


def _listed_on(value: str | None) -> str | None:
    parsed = partial_date(value)
    return parsed.date if parsed else None


def _birth_date(element: etree._Element) -> PartialDate | None:
    kind = (child_text(element, "TYPE_OF_DATE") or "").upper()
    approximate = kind == "APPROXIMATELY"
    exact = child_text(element, "DATE")
    if exact:
        return partial_date(exact[:10], approximate=approximate)
    year = child_text(element, "YEAR")
    if year and year.isdigit():
        return make_partial_date(int(year), approximate=approximate)
    start, end = child_text(element, "FROM_YEAR"), child_text(element, "TO_YEAR")
    if start and end and start.isdigit() and end.isdigit():
        return PartialDate(date=start, end=end, approximate=approximate)
    return None


def _document(element: etree._Element) -> Identifier | None:
    number = child_text(element, "NUMBER")
    if not number:
        return None
    kind = child_text(element, "TYPE_OF_DOCUMENT") or "document"
    country = to_country(child_text(element, "ISSUING_COUNTRY") or child_text(element, "COUNTRY_OF_ISSUE"))
    note = child_text(element, "NOTE")
    return Identifier(type=kind.lower(), number=number, country=country, note=note)
