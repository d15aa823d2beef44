"""OFAC's XML formats: the sdnList XML (SDN.XML, CONSOLIDATED.XML) and the enhanced XML (``*_ENHANCED.ZIP``).

sdnList: namespace changed over time (``http://tempuri.org/sdnList.xsd``, now the sanctionslistservice URL), so
elements are matched by local name. The header is misspelt ``publshInformation``; ``Publish_Date`` is MM/DD/YYYY.
Aliases carry ``category`` strong/weak; gender hides in ``idList`` as idType ``Gender``.

Enhanced XML: a normalised model. Countries, entity types, alias types and feature types are ``refId``s into
``referenceValues`` / ``featureTypes``; we resolve them there (countries by their ``isoCode``) instead of trusting
the display text next to them. The zip's decompressed size is capped (zip bomb).
"""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, datetime

from lxml import etree

from kyc.countries import to_country
from kyc.entry import Name, NameKind, PartialDate, Relation
from kyc.versions import ParsedList, RawFile
from lists.base import ParseError, make_partial_date
from lists.ofac_common import EntryParts, birth_date, identifier_kind, make_identifier, person_name, schema_for
from lists.xml import child_text, children, local, parse_xml

MAX_UNZIPPED_BYTES = 256 * 1024 * 1024
"""The full SDN_ENHANCED.XML is ~100 MB; anything beyond this cap is refused rather than inflated."""
_CHUNK = 1024 * 1024


def is_zip(data: bytes) -> bool:
    return data[:4] == b"PK\x03\x04"


def is_xml(data: bytes) -> bool:
    return data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"<"


# --- sdnList XML ------------------------------------------------------------------------------------------------


def parse_sdn_xml(raw: RawFile, source: str) -> ParsedList:
    root = parse_xml(raw.data, raw.name)
    if local(root.tag) != "sdnList":
        raise ParseError(f"{raw.name}: root element is <{local(root.tag)}>, expected <sdnList>")
    info = children(root, "publshInformation")
    published = _publish_date(child_text(info[0], "Publish_Date"), raw.name) if info else None
    entries = []
    seen: set[str] = set()
    for element in children(root, "sdnEntry"):
        part = _sdn_entry(element, source, raw.name)
        if part.source_ref in seen:
            raise ParseError(f"{raw.name}: uid {part.source_ref} is listed twice")
        seen.add(part.source_ref)
        entries.append(part.entry())
    return ParsedList(entries=entries, file_format="ofac_xml", published_at=published)


def _publish_date(value: str | None, name: str) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.strptime(value, "%m/%d/%Y").replace(tzinfo=UTC)
    except ValueError as exc:
        raise ParseError(f"{name}: Publish_Date {value!r} is not MM/DD/YYYY") from exc


def _full_name(element: etree._Element, person: bool) -> str | None:
    """``firstName lastName``; a person's weak alias comes as ``SURNAME, Given`` in lastName alone."""
    first, last = child_text(element, "firstName"), child_text(element, "lastName")
    if person and last and not first:
        return person_name(last)
    return " ".join(part for part in (first, last) if part) or None


def _sdn_entry(element: etree._Element, source: str, file_name: str) -> EntryParts:
    uid = child_text(element, "uid")
    if not uid or not uid.isdigit():
        raise ParseError(f"{file_name}: an sdnEntry has uid {uid!r}, expected a number")
    try:
        schema = schema_for(child_text(element, "sdnType"))
    except ValueError as exc:
        raise ParseError(f"{file_name}: uid {uid}: {exc}") from exc
    part = EntryParts(source=source, source_ref=uid, schema=schema)
    primary = _full_name(element, part.person)
    if not primary:
        raise ParseError(f"{file_name}: uid {uid} has no name")
    part.names.append(_name(primary, NameKind.PRIMARY))
    for aka in _items(element, "akaList", "aka"):
        if alias := _full_name(aka, part.person):
            weak = (child_text(aka, "category") or "").lower() == "weak"
            part.names.append(_name(alias, NameKind.WEAK_ALIAS if weak else NameKind.STRONG_ALIAS))
    part.programs = [p for item in _items(element, "programList", "program") if (p := (item.text or "").strip())]
    _sdn_ids(element, part)
    _sdn_person(element, part)
    _sdn_addresses(element, part)
    _sdn_vessel(element, part)
    remarks, title = child_text(element, "remarks"), child_text(element, "title")
    part.remarks = [text for text in (remarks, f"Title: {title}" if title else None) if text]
    return part


def _name(value: str, kind: NameKind) -> Name:
    return Name(value=value, kind=kind)


def _items(element: etree._Element, list_tag: str, item_tag: str) -> list[etree._Element]:
    return [item for container in children(element, list_tag) for item in children(container, item_tag)]


def _sdn_ids(element: etree._Element, part: EntryParts) -> None:
    for item in _items(element, "idList", "id"):
        label, number = child_text(item, "idType") or "", child_text(item, "idNumber")
        if label.lower() == "gender" and number:
            part.facts.gender = number.lower()
        elif label.lower().startswith("nationality of registration") and number:
            if code := to_country(number):
                part.facts.countries.append(code)
        elif (kind := identifier_kind(label)) and number:
            country = child_text(item, "idCountry")
            if identifier := make_identifier(kind, number, country):
                part.facts.identifiers.append(identifier)


def _sdn_person(element: etree._Element, part: EntryParts) -> None:
    for item in _items(element, "dateOfBirthList", "dateOfBirthItem"):
        if (text := child_text(item, "dateOfBirth")) and (parsed := birth_date(text)):
            part.facts.birth_dates.append(parsed)
    for item in _items(element, "placeOfBirthList", "placeOfBirthItem"):
        if text := child_text(item, "placeOfBirth"):
            part.facts.birth_places.append(text)
    for list_tag, item_tag in (("nationalityList", "nationality"), ("citizenshipList", "citizenship")):
        for item in _items(element, list_tag, item_tag):
            if code := to_country(child_text(item, "country")):
                part.facts.nationalities.append(code)


_ADDRESS_TAGS = ("address1", "address2", "address3", "city", "stateOrProvince", "postalCode", "country")


def _sdn_addresses(element: etree._Element, part: EntryParts) -> None:
    for item in _items(element, "addressList", "address"):
        text = ", ".join(value for tag in _ADDRESS_TAGS if (value := child_text(item, tag)))
        if text:
            part.addresses.append(text)
        if code := to_country(child_text(item, "country")):
            part.facts.countries.append(code)


def _sdn_vessel(element: etree._Element, part: EntryParts) -> None:
    for info in children(element, "vesselInfo"):
        call_sign = child_text(info, "callSign")
        if call_sign and (identifier := make_identifier("call_sign", call_sign)):
            part.facts.identifiers.append(identifier)
        flag = child_text(info, "vesselFlag")
        if code := to_country(flag):
            part.facts.countries.append(code)
        details = [
            f"{label}: {value}"
            for label, tag in (
                ("Vessel type", "vesselType"),
                ("Tonnage", "tonnage"),
                ("GRT", "grossRegisteredTonnage"),
                ("Flag", "vesselFlag"),
                ("Owner", "vesselOwner"),
            )
            if (value := child_text(info, tag))
        ]
        if details:
            part.remarks.append("; ".join(details))


# --- enhanced XML -----------------------------------------------------------------------------------------------


def parse_enhanced_zip(raw: RawFile, source: str) -> ParsedList:
    data, member = _unzip_xml(raw)
    name = f"{raw.name}!{member}"
    root = parse_xml(data, name)
    if local(root.tag) != "sanctionsData":
        raise ParseError(f"{name}: root element is <{local(root.tag)}>, expected <sanctionsData>")
    refs = _Refs(root)
    published = None
    for info in children(root, "publicationInfo"):
        published = _as_of(child_text(info, "dataAsOf"), name)
    entries = []
    seen: set[str] = set()
    for container in children(root, "entities"):
        for element in children(container, "entity"):
            part = _enhanced_entity(element, refs, source, name)
            if part.source_ref in seen:
                raise ParseError(f"{name}: entity {part.source_ref} is listed twice")
            seen.add(part.source_ref)
            entries.append(part.entry())
    return ParsedList(entries=entries, file_format="ofac_enhanced_xml", published_at=published)


def _unzip_xml(raw: RawFile) -> tuple[bytes, str]:
    """The one XML member of the zip, read in chunks so that a lying size header cannot inflate past the cap."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(raw.data))
    except zipfile.BadZipFile as exc:
        raise ParseError(f"{raw.name}: not a valid zip file: {exc}") from exc
    with archive:
        members = [info for info in archive.infolist() if info.filename.lower().endswith(".xml")]
        if len(members) != 1:
            raise ParseError(f"{raw.name}: expected one XML member, found {len(members)}")
        info = members[0]
        if info.file_size > MAX_UNZIPPED_BYTES:
            raise ParseError(f"{raw.name}: {info.filename} inflates to {info.file_size} bytes, over the cap")
        out = bytearray()
        try:
            with archive.open(info) as stream:
                while chunk := stream.read(_CHUNK):
                    out += chunk
                    if len(out) > MAX_UNZIPPED_BYTES:
                        raise ParseError(f"{raw.name}: {info.filename} inflates past {MAX_UNZIPPED_BYTES} bytes")
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            raise ParseError(f"{raw.name}: {info.filename} is corrupt: {exc}") from exc
        return bytes(out), info.filename


def _as_of(value: str | None, name: str) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ParseError(f"{name}: dataAsOf {value!r} is not a timestamp") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class _Refs:
    """``referenceValues`` by refId and ``featureTypes`` by featureTypeId."""

    def __init__(self, root: etree._Element) -> None:
        self.values: dict[str, tuple[str, str, str | None]] = {}
        for container in children(root, "referenceValues"):
            for item in children(container, "referenceValue"):
                ref = item.get("refId")
                if ref:
                    kind, value = child_text(item, "type") or "", child_text(item, "value") or ""
                    self.values[ref] = (kind, value, child_text(item, "isoCode"))
        self.features: dict[str, str] = {}
        for container in children(root, "featureTypes"):
            for item in children(container, "featureType"):
                feature_id, feature = item.get("featureTypeId"), child_text(item, "type")
                if feature_id and feature:
                    self.features[feature_id] = feature

    def value(self, element: etree._Element | None) -> str | None:
        """The reference value an element points at, falling back to its own text."""
        if element is None:
            return None
        found = self.values.get(element.get("refId") or "")
        return found[1] if found else (element.text or "").strip() or None

    def country(self, ref: str | None, text: str | None = None) -> str | None:
        found = self.values.get(ref or "")
        if found and found[2] and (code := to_country(found[2])):
            return code
        return to_country(found[1] if found else text)


def _first(element: etree._Element, tag: str) -> etree._Element | None:
    found = children(element, tag)
    return found[0] if found else None


def _enhanced_entity(element: etree._Element, refs: _Refs, source: str, name: str) -> EntryParts:
    ref = element.get("id")
    if not ref or not ref.isdigit():
        raise ParseError(f"{name}: an entity has id {ref!r}, expected a number")
    info = _first(element, "generalInfo")
    kind = refs.value(_first(info, "entityType")) if info is not None else None
    try:
        schema = schema_for(kind)
    except ValueError as exc:
        raise ParseError(f"{name}: entity {ref}: {exc}") from exc
    part = EntryParts(source=source, source_ref=ref, schema=schema)
    _enhanced_names(element, part, refs)
    if not any(n.kind == NameKind.PRIMARY for n in part.names):
        raise ParseError(f"{name}: entity {ref} has no primary name")
    part.programs = [
        program
        for container in children(element, "sanctionsPrograms")
        for item in children(container, "sanctionsProgram")
        if (program := refs.value(item))
    ]
    _enhanced_addresses(element, part, refs)
    _enhanced_features(element, part, refs)
    _enhanced_documents(element, part, refs)
    _enhanced_relations(element, part)
    if info is not None and (remarks := child_text(info, "remarks")):
        part.remarks.append(remarks)
    return part


def _enhanced_names(element: etree._Element, part: EntryParts, refs: _Refs) -> None:
    for container in children(element, "names"):
        for item in children(container, "name"):
            primary = child_text(item, "isPrimary") == "true"
            weak = child_text(item, "isLowQuality") == "true"
            for holder in children(item, "translations"):
                for translation in children(holder, "translation"):
                    latin = (refs.value(_first(translation, "script")) or "Latin") == "Latin"
                    value = _translation_name(translation, part.person)
                    if not value:
                        continue
                    if not latin:
                        kind = NameKind.ORIGINAL_SCRIPT
                    elif primary and child_text(translation, "isPrimary") == "true":
                        kind = NameKind.PRIMARY
                    else:
                        kind = NameKind.WEAK_ALIAS if weak else NameKind.STRONG_ALIAS
                    part.names.append(_name(value, kind))


def _translation_name(translation: etree._Element, person: bool) -> str | None:
    first, last = child_text(translation, "formattedFirstName"), child_text(translation, "formattedLastName")
    if person and (first or last):
        return " ".join(p for p in (first, last) if p)
    return last or child_text(translation, "formattedFullName")


def _enhanced_addresses(element: etree._Element, part: EntryParts, refs: _Refs) -> None:
    for container in children(element, "addresses"):
        for address in children(container, "address"):
            country_element = _first(address, "country")
            country = None
            if country_element is not None:
                country = refs.country(country_element.get("refId"), country_element.text)
            if country:
                part.facts.countries.append(country)
            values = [
                value
                for holder in children(address, "translations")
                for translation in children(holder, "translation")[:1]
                for parts in children(translation, "addressParts")
                for piece in children(parts, "addressPart")
                if (value := child_text(piece, "value"))
            ]
            if country_element is not None and country_element.text:
                values.append(country_element.text.strip())
            if values:
                part.addresses.append(", ".join(values))


def _enhanced_features(element: etree._Element, part: EntryParts, refs: _Refs) -> None:
    for container in children(element, "features"):
        for feature in children(container, "feature"):
            type_element = _first(feature, "type")
            label = ""
            if type_element is not None:
                label = refs.features.get(type_element.get("featureTypeId") or "", type_element.text or "")
            value = child_text(feature, "value")
            value_ref = child_text(feature, "valueRefId")
            _feature(part, refs, label.strip(), value, value_ref, feature)


def _feature(
    part: EntryParts, refs: _Refs, label: str, value: str | None, value_ref: str | None, feature: etree._Element
) -> None:
    facts = part.facts
    if label == "Birthdate":
        if parsed := _value_date(_first(feature, "valueDate"), value):
            facts.birth_dates.append(parsed)
    elif label == "Place of Birth" and value:
        facts.birth_places.append(value)
    elif label in ("Nationality Country", "Citizenship Country"):
        if code := refs.country(value_ref, value):
            facts.nationalities.append(code)
    elif label == "Nationality of Registration":
        if code := refs.country(value_ref, value):
            facts.countries.append(code)
    elif label == "Gender" and value:
        facts.gender = value.lower()
    elif value and (kind := identifier_kind(label)):
        number = f"{label.rsplit(' ', 1)[-1]} {value}" if kind == "crypto_wallet" else value
        if identifier := make_identifier(kind, number):
            facts.identifiers.append(identifier)


def _value_date(element: etree._Element | None, text: str | None) -> PartialDate | None:
    """The structured date: a range when begin and end years differ, else as precise as the text says."""
    parsed = birth_date(text) if text else None
    if element is None:
        return parsed
    approximate = child_text(element, "isApproximate") == "true"
    start, end = child_text(element, "fromDateBegin"), child_text(element, "toDateEnd")
    if child_text(element, "isDateRange") == "true" and start and end:
        begin, finish = make_partial_date(int(start[:4])), make_partial_date(int(end[:4]))
        if begin and finish:
            return PartialDate(date=begin.date, end=finish.date, approximate=approximate)
    if parsed is not None:
        return parsed.model_copy(update={"approximate": approximate or parsed.approximate})
    return None


def _enhanced_documents(element: etree._Element, part: EntryParts, refs: _Refs) -> None:
    for container in children(element, "identityDocuments"):
        for document in children(container, "identityDocument"):
            label = refs.value(_first(document, "type")) or ""
            number = child_text(document, "documentNumber")
            kind = identifier_kind(label)
            if not number or not kind:
                continue
            country_element = _first(document, "issuingCountry")
            country = None
            if country_element is not None:
                country = refs.country(country_element.get("refId"), country_element.text)
            note = "not valid" if child_text(document, "isValid") == "false" else None
            if identifier := make_identifier(kind, number, None, note):
                part.facts.identifiers.append(identifier.model_copy(update={"country": country}))


def _enhanced_relations(element: etree._Element, part: EntryParts) -> None:
    for container in children(element, "relationships"):
        for relation in children(container, "relationship"):
            related = _first(relation, "relatedEntity")
            if related is None:
                continue
            part.relations.append(
                Relation(
                    kind="associate",
                    other_ref=related.get("entityId"),
                    other_name=(related.text or "").strip() or None,
                    description=child_text(relation, "type"),
                )
            )
