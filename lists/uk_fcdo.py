"""UK Sanctions List (FCDO), XML edition: ``Designations/Designation``, no namespace.

The successor of the OFSI ConList and the UK's single authoritative list since January 2026. Quirks handled:
names split over ``Name1..Name6`` (Name6 the surname or whole entity name); ``NameType`` in varying case
(Primary Name / Primary Name Variation / Alias); ``AliasStrength`` ``Low quality a.k.a`` is a weak alias; dates
``dd/mm/yyyy`` with literal ``dd``/``mm`` for unknown parts; leading and trailing spaces inside values; the same
passport repeated many times; blank ``UKStatementofReasons``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date, datetime

from lxml import etree

from kyc.entry import Entry, Identifier, Name, NameKind, Position, Schema, unique
from kyc.versions import ParsedList, RawFile
from lists.base import Adapter, ParseError, clean, utc_midnight
from lists.names import listed_names
from lists.uk_common import gender, uk_countries, uk_date, uk_day
from lists.xml import child_text, children, local, parse_xml

_NAME_PARTS = ("Name1", "Name2", "Name3", "Name4", "Name5", "Name6")
_SCHEMAS = {"individual": Schema.PERSON, "entity": Schema.ORGANIZATION, "ship": Schema.VESSEL}
_ADDRESS_LINES = (
    "AddressLine1",
    "AddressLine2",
    "AddressLine3",
    "AddressLine4",
    "AddressLine5",
    "AddressLine6",
    "AddressPostalCode",
    "AddressCountry",
)
_INDIVIDUAL = "IndividualDetails/Individual"


class UkFcdoAdapter(Adapter):
    source = "uk_fcdo"
    title = "UK Sanctions List (FCDO)"
    default_url = "https://sanctionslist.fcdo.gov.uk/docs/UK-Sanctions-List.xml"
    parser_version = "2"
    """2: bundled names split into their spellings (``lists.names``)."""

    def parse(self, files: Sequence[RawFile]) -> ParsedList:
        if len(files) != 1:
            raise ParseError(f"expected one UK-Sanctions-List.xml, got {len(files)} files")
        raw = files[0]
        root = parse_xml(raw.data, raw.name)
        if local(root.tag) != "Designations":
            raise ParseError(f"{raw.name}: root element is <{local(root.tag)}>, expected <Designations>")
        published = _generated(child_text(root, "DateGenerated"), raw.name)
        entries = [_entry(designation, raw.name) for designation in children(root, "Designation")]
        return ParsedList(entries=entries, file_format="uk_fcdo_xml", published_at=published)


def _generated(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    day = uk_date(value)
    if day is None or len(day.date) != 10:
        raise ParseError(f"{name}: DateGenerated {value!r} is not a dd/mm/yyyy date")
    return utc_midnight(date.fromisoformat(day.date))


def _texts(element: etree._Element, path: str) -> list[str]:
    """Cleaned texts at ``path``; the FCDO pads values with spaces and repeats them."""
    return list(unique(text for found in element.iterfind(path) if (text := clean(found.text))))


def _entry(designation: etree._Element, file_name: str) -> Entry:
    ref = child_text(designation, "UniqueID")
    if not ref:
        raise ParseError(
            f"{file_name}: a Designation (OFSIGroupID {child_text(designation, 'OFSIGroupID')}) has no UniqueID"
        )
    kind = (child_text(designation, "IndividualEntityShip") or "").lower()
    schema = _SCHEMAS.get(kind)
    if schema is None:
        raise ParseError(f"{file_name}: {ref}: unknown IndividualEntityShip {kind!r}")
    names = [name for element in designation.iterfind("Names/Name") if (name := _name(element))]
    if not names:
        raise ParseError(f"{file_name}: {ref} has no name")
    names += [
        Name(value=text, kind=NameKind.ORIGINAL_SCRIPT)
        for text in _texts(designation, "NonLatinNames/*/NameNonLatinScript")
    ]
    genders = {gender(text) for text in _texts(designation, f"{_INDIVIDUAL}/Genders/Gender")} - {None}
    regime = child_text(designation, "RegimeName")
    remarks = [text for tag in ("OtherInformation", "UKStatementofReasons") if (text := child_text(designation, tag))]
    return Entry(
        source="uk_fcdo",
        source_ref=ref,
        schema_=schema,
        names=listed_names(names, schema),
        gender=genders.pop() if len(genders) == 1 else None,
        birth_dates=unique(d for text in _texts(designation, f"{_INDIVIDUAL}/DOBs/DOB") if (d := uk_date(text))),
        birth_places=unique(_birth_places(designation)),
        nationalities=unique(
            code
            for text in _texts(designation, f"{_INDIVIDUAL}/Nationalities/Nationality")
            for code in uk_countries(text)
        ),
        countries=unique(_countries(designation)),
        identifiers=unique(_identifiers(designation)),
        addresses=unique(_addresses(designation)),
        programs=(regime,) if regime else (),
        topics=("sanction",),
        listed_on=uk_day(child_text(designation, "DateDesignated")),
        un_ref=child_text(designation, "UNReferenceNumber"),
        positions=tuple(Position(role=text) for text in _texts(designation, f"{_INDIVIDUAL}/Positions/Position")),
        remarks="\n".join(remarks) or None,
    )


def _name(element: etree._Element) -> Name | None:
    parts = [part for tag in _NAME_PARTS if (part := child_text(element, tag))]
    if not parts:
        return None
    name_type = (child_text(element, "NameType") or "").lower()
    strength = (child_text(element, "AliasStrength") or "").lower()
    if name_type == "primary name":
        kind = NameKind.PRIMARY
    elif strength.startswith("low"):
        kind = NameKind.WEAK_ALIAS
    else:
        kind = NameKind.STRONG_ALIAS
    return Name(value=" ".join(parts), kind=kind)


def _birth_places(designation: etree._Element) -> Iterator[str]:
    for location in designation.iterfind(f"{_INDIVIDUAL}/BirthDetails/Location"):
        place = ", ".join(v for tag in ("TownOfBirth", "CountryOfBirth") if (v := child_text(location, tag)))
        if place:
            yield place


def _countries(designation: etree._Element) -> Iterator[str]:
    for text in _texts(designation, "Addresses/Address/AddressCountry"):
        yield from uk_countries(text)
    for text in _texts(designation, "ShipDetails/Ship/CurrentBelievedFlagOfShips/CurrentBelievedFlagOfShip"):
        yield from uk_countries(text)


def _addresses(designation: etree._Element) -> Iterator[str]:
    for address in designation.iterfind("Addresses/Address"):
        text = ", ".join(v for tag in _ADDRESS_LINES if (v := child_text(address, tag)))
        if text:
            yield text


def _identifiers(designation: etree._Element) -> Iterator[Identifier]:
    for kind, path, number_tag, note_tag in (
        ("passport", f"{_INDIVIDUAL}/PassportDetails/Passport", "PassportNumber", "PassportAdditionalInformation"),
        (
            "national_id",
            f"{_INDIVIDUAL}/NationalIdentifierDetails/NationalIdentifier",
            "NationalIdentifierNumber",
            "NationalIdentifierAdditionalInformation",
        ),
    ):
        for document in designation.iterfind(path):
            if number := child_text(document, number_tag):
                yield Identifier(type=kind, number=number, note=child_text(document, note_tag))
    for number in _texts(designation, "ShipDetails/Ship/IMONumbers/IMONumber"):
        yield Identifier(type="imo", number=number.removeprefix("IMO").strip())
    for number in _texts(designation, "EntityDetails/Entity/BusinessRegistrationNumbers/BusinessRegistrationNumber"):
        yield Identifier(type="registration", number=number)
    if group_id := child_text(designation, "OFSIGroupID"):
        yield Identifier(type="ofsi_group_id", number=group_id, country="GB")
