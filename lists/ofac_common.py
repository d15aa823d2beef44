"""What OFAC's formats (legacy CSV, sdnList XML, enhanced XML) and the trade.gov CSL share.

OFAC keeps most personal data of the legacy CSV in one free-text ``Remarks`` field (``DOB 28 Jul 1963; alt. DOB
1964; POB Tehran, Iran; nationality Iran; Passport X (Iran); Gender Male; a.k.a. 'X'.``); the XML formats and the
CSL carry the same identifier labels (``Tax ID No.``, ``Registration ID``) as typed fields. One label table and one
remark parser keep the three formats producing comparable entries.

Names: OFAC writes individuals as ``SURNAME, Given Names``. We store ``Given Names SURNAME`` as the primary name and do
NOT keep the comma form as an extra alias: it holds exactly the same tokens, the sdnList XML gives first and last
name separately (so the CSV and XML of one list agree only if both produce natural order), and a duplicate alias
per person would double index entries and hits without adding recall. Matchers that care about order should
normalise it themselves; the upper-case surname survives as a hint.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from kyc.countries import to_country
from kyc.entry import Entry, Identifier, Name, NameKind, PartialDate, Relation, Schema, unique
from lists.base import partial_date
from lists.names import listed_names

NULL = "-0-"
"""The legacy CSV's NULL literal (written ``-0- `` with a trailing space)."""

_ID_LABELS: dict[str, str] = {
    "Passport": "passport",
    "Diplomatic Passport": "passport",
    "National ID No.": "national_id",
    "Personal ID Card": "national_id",
    "Tazkira National ID Card": "national_id",
    "Kenyan ID No.": "national_id",
    "Turkish Identification Number": "national_id",
    "National Foreign ID Number": "national_id",
    "Citizen's Card Number": "national_id",
    "Numero de Identidad": "national_id",
    "D.N.I.": "national_id",
    "Identification Number": "id_number",
    "Tax ID No.": "tax_id",
    "Italian Fiscal Code": "tax_id",
    "US FEIN": "tax_id",
    "C.U.I.T.": "tax_id",
    "V.A.T. Number": "vat",
    "R.F.C.": "rfc",
    "RFC": "rfc",
    "C.U.R.P.": "curp",
    "Cedula No.": "cedula",
    "NIT #": "nit",
    "RUC #": "ruc",
    "RIF #": "rif",
    "Registration Number": "registration",
    "Registration ID": "registration",
    "Business Registration Number": "registration",
    "Business Registration Document #": "registration",
    "Commercial Registry Number": "registration",
    "Company Number": "registration",
    "UK Company Number": "registration",
    "C.R. No.": "registration",
    "Public Registration Number": "registration",
    "Central Registration System Number": "registration",
    "Chamber of Commerce Number": "registration",
    "Istanbul Chamber of Comm. No.": "registration",
    "Economic Register Number (CBLS)": "registration",
    "Enterprise Number": "registration",
    "Business Number": "registration",
    "Certificate of Incorporation Number": "registration",
    "Folio Mercantil No.": "registration",
    "Matricula Mercantil No": "registration",
    "Trade License No.": "trade_license",
    "Government Gazette Number": "gazette_number",
    "Unified Social Credit Code (USCC)": "uscc",
    "Legal Entity Number": "lei",
    "SWIFT/BIC": "swift_bic",
    "BIK (RU)": "bik",
    "D-U-N-S Number": "duns",
    "ISIN": "isin",
    "Vessel Registration Identification": "imo",
    "MMSI": "mmsi",
    "Aircraft Manufacturer's Serial Number (MSN)": "aircraft_msn",
    "Aircraft Tail Number": "aircraft_tail_number",
    "Aircraft Mode S Transponder Code": "aircraft_mode_s",
    "Driver's License No.": "drivers_license",
    "Birth Certificate Number": "birth_certificate",
    "Electoral Registry No.": "electoral_registry",
    "Credencial electoral": "electoral_registry",
    "Residency Number": "residency_permit",
    "SSN": "ssn",
    "Travel Document Number": "travel_document",
    "Refugee ID Card": "refugee_id",
    "Digital Currency Address -": "crypto_wallet",
}
_LABEL_KEYS = {label.casefold().rstrip(":").strip(): kind for label, kind in _ID_LABELS.items()}

_ALTERNATION = "|".join(re.escape(label) for label in sorted(_ID_LABELS, key=len, reverse=True))
_ID_SEGMENT = re.compile(rf"^(?:alt\.\s+)?(?P<label>{_ALTERNATION})(?=[\s:])\s*:?\s*(?P<rest>\S.*)$")
_ID_REST = re.compile(r"^(?P<number>.+?)(?:\s+\((?P<country>[^()]+)\))?(?P<note>\s+(?:issued|expires)\b.*)?$")
_ALIAS = re.compile(r"^(?P<kind>[afn])\.k\.a\.,?\s+'(?P<name>.+)'\.?$")
_DOB = re.compile(r"^(?:alt\.\s+)?DOB\s+(?P<value>.+)$")
_POB = re.compile(r"^(?:alt\.\s+)?POB\s+(?P<value>.+)$")
_NATIONALITY = re.compile(r"^(?:alt\.\s+)?(?P<kind>nationality|citizen)\s+(?P<value>.+)$")
_REGISTRATION_FLAG = re.compile(r"^(?:alt\.\s+)?Nationality of Registration\s+(?P<value>.+)$")
_LINKED = re.compile(r"^Linked To:\s*(?P<value>.+)$")
_GENDER = re.compile(r"^Gender\s+(?P<value>Male|Female)$", re.IGNORECASE)
_SEGMENT_SPLIT = re.compile(r";\s*")
_RANGE = re.compile(r"^(?P<start>.+?)\s+to\s+(?P<end>.+)$")
_TRAILING_COUNTRY = re.compile(r"^(?P<number>\S.*?)\s*\((?P<country>[^()]+)\)$")
_NOT_A_NUMBER = re.compile(r"[,:;]|\s(?:and|or)\s")
"""Free text that OFAC wrote where a number belongs (``No.: 0310857, Eritrea, ...``): left to the remarks."""
_SUFFIX = re.compile(r",\s*(?P<suffix>Jr\.|Sr\.|II|III|IV)$")


@dataclass
class RemarkFacts:
    """Structured facts found in a remarks text; the text itself is kept as the entry's remarks."""

    birth_dates: list[PartialDate] = field(default_factory=list)
    birth_places: list[str] = field(default_factory=list)
    nationalities: list[str] = field(default_factory=list)
    countries: list[str] = field(default_factory=list)
    identifiers: list[Identifier] = field(default_factory=list)
    weak_aliases: list[str] = field(default_factory=list)
    linked_to: list[str] = field(default_factory=list)
    """``Linked To: NAME``: the designation this one is linked to (an associate relation)."""
    gender: str | None = None


def null(value: str | None) -> str | None:
    """``-0- `` and blanks become None; other values are white-space collapsed."""
    if value is None:
        return None
    text = value.strip()
    if not text or text == NULL:
        return None
    if "  " in text or "\n" in text or "\t" in text or "\r" in text:
        return " ".join(text.split())
    return text


def person_name(listed: str) -> str:
    """``SURNAME, Given Names`` to ``Given Names SURNAME`` (``, Jr.`` stays a suffix at the end)."""
    text = listed.strip()
    suffix = ""
    if m := _SUFFIX.search(text):
        suffix = " " + m.group("suffix")
        text = text[: m.start()]
    surname, comma, given = text.partition(",")
    if not comma or not given.strip() or not surname.strip():
        return listed.strip()
    return f"{given.strip()} {surname.strip()}{suffix}"


def identifier_kind(label: str) -> str | None:
    """Our identifier type for an OFAC label (``Tax ID No.`` -> ``tax_id``); None for labels that are not ids."""
    key = label.casefold().rstrip(":").strip()
    if key.startswith("digital currency address"):
        return "crypto_wallet"
    return _LABEL_KEYS.get(key)


def make_identifier(kind: str, number: str, country: str | None = None, note: str | None = None) -> Identifier | None:
    """Normalise OFAC's number spellings: ``IMO 9187629`` is an IMO number, ``XBT 1Abc`` a wallet of currency XBT."""
    number = number.strip().rstrip(".").strip()
    if country is None and (m := _TRAILING_COUNTRY.match(number)) and to_country(m.group("country")):
        number, country = m.group("number"), m.group("country")
    if number.upper().startswith("IMO "):
        kind, number = "imo", number[4:].strip()
    if kind == "crypto_wallet":
        currency, _, address = number.partition(" ")
        if address.strip():
            note, number = currency, address.strip()
    if not number or _NOT_A_NUMBER.search(number):
        return None
    return Identifier(type=kind, number=number, country=to_country(country) if country else None, note=note)


def birth_date(text: str) -> PartialDate | None:
    """``28 Jul 1963``, ``1963``, ``circa 1960``, ``1960 to 1962``, ``01 Jan 1960 to 31 Dec 1962``."""
    value = text.strip().rstrip(".")
    approximate = False
    if value.lower().startswith("circa "):
        approximate, value = True, value[6:].strip()
    if m := _RANGE.match(value):
        start, end = partial_date(m.group("start")), partial_date(m.group("end"))
        if start is None or end is None:
            return None
        return PartialDate(date=start.date, end=end.date, approximate=approximate)
    return partial_date(value, approximate=approximate)


def parse_remarks(text: str | None, *, person: bool) -> RemarkFacts:
    """Pull dates, places, nationalities, identifiers, gender and weak aliases out of OFAC remarks."""
    facts = RemarkFacts()
    if not text:
        return facts
    for raw in _SEGMENT_SPLIT.split(text):
        segment = raw.strip()
        if segment:
            _segment(segment, facts, person)
    return facts


def _segment(segment: str, facts: RemarkFacts, person: bool) -> None:
    """Dispatch on the first word so that most segments ('Linked To:', 'Executive Order ...') cost one dict lookup."""
    head, _, rest = segment.partition(" ")
    if head == "alt.":
        head = rest.partition(" ")[0]
    handler = _HANDLERS.get(head)
    if handler is not None:
        handler(segment, facts, person)
    elif head in _ID_HEADS:
        _identifier_segment(segment.rstrip(".").strip(), facts)


def _alias_segment(segment: str, facts: RemarkFacts, person: bool) -> None:
    if m := _ALIAS.match(segment):
        name = m.group("name").strip()
        facts.weak_aliases.append(person_name(name) if person else name)


def _dob_segment(segment: str, facts: RemarkFacts, person: bool) -> None:
    if (m := _DOB.match(segment.rstrip("."))) and (parsed := birth_date(m.group("value"))):
        facts.birth_dates.append(parsed)


def _pob_segment(segment: str, facts: RemarkFacts, person: bool) -> None:
    if m := _POB.match(segment.rstrip(".").strip()):
        facts.birth_places.append(m.group("value").strip())


def _nationality_segment(segment: str, facts: RemarkFacts, person: bool) -> None:
    text = segment.rstrip(".").strip()
    if m := _NATIONALITY.match(text):
        if code := to_country(m.group("value")):
            facts.nationalities.append(code)
    elif (m := _REGISTRATION_FLAG.match(text)) and (code := to_country(m.group("value"))):
        facts.countries.append(code)


def _gender_segment(segment: str, facts: RemarkFacts, person: bool) -> None:
    if m := _GENDER.match(segment.rstrip(".").strip()):
        facts.gender = m.group("value").lower()


def _linked_segment(segment: str, facts: RemarkFacts, person: bool) -> None:
    if m := _LINKED.match(segment.rstrip(".").strip()):
        facts.linked_to.append(m.group("value").strip())


def _identifier_segment(segment: str, facts: RemarkFacts) -> None:
    if not (m := _ID_SEGMENT.match(segment)):
        return
    kind = identifier_kind(m.group("label"))
    rest = _ID_REST.match(m.group("rest"))
    if kind and rest:
        note = (rest.group("note") or "").strip() or None
        identifier = make_identifier(kind, rest.group("number"), rest.group("country"), note)
        if identifier is not None:
            facts.identifiers.append(identifier)


_HANDLERS: dict[str, Callable[[str, RemarkFacts, bool], None]] = {
    "a.k.a.": _alias_segment,
    "a.k.a.,": _alias_segment,
    "f.k.a.": _alias_segment,
    "f.k.a.,": _alias_segment,
    "n.k.a.": _alias_segment,
    "n.k.a.,": _alias_segment,
    "DOB": _dob_segment,
    "POB": _pob_segment,
    "nationality": _nationality_segment,
    "citizen": _nationality_segment,
    "Nationality": _nationality_segment,
    "Gender": _gender_segment,
    "Linked": _linked_segment,
}
_ID_HEADS = frozenset(label.split(" ", 1)[0] for label in _ID_LABELS)


_SCHEMAS = {
    "individual": Schema.PERSON,
    "entity": Schema.ORGANIZATION,
    "vessel": Schema.VESSEL,
    "aircraft": Schema.AIRCRAFT,
}


def schema_for(sdn_type: str | None) -> Schema:
    """OFAC's type; entities are ``-0-`` (no type) in the CSV and ``Entity`` in the XML."""
    if sdn_type is None:
        return Schema.ORGANIZATION
    schema = _SCHEMAS.get(sdn_type.strip().lower())
    if schema is None:
        raise ValueError(f"unknown SDN type {sdn_type!r}")
    return schema


@dataclass
class EntryParts:
    """One record as it is assembled from a CSV file set or an XML element, before it becomes an ``Entry``."""

    source: str
    source_ref: str
    schema: Schema
    names: list[Name] = field(default_factory=list)
    facts: RemarkFacts = field(default_factory=RemarkFacts)
    addresses: list[str] = field(default_factory=list)
    programs: list[str] = field(default_factory=list)
    relations: list[Relation] = field(default_factory=list)
    remarks: list[str] = field(default_factory=list)
    topics: tuple[str, ...] = ("sanction",)
    listed_on: str | None = None

    @property
    def person(self) -> bool:
        return self.schema == Schema.PERSON

    def name(self, listed: str | None, kind: NameKind) -> None:
        """Add a name as OFAC lists it; individuals' ``SURNAME, Given`` is turned into natural order."""
        if listed and (value := " ".join(listed.split())):
            self.names.append(Name(value=person_name(value) if self.person else value, kind=kind))

    def entry(self) -> Entry:
        facts = self.facts
        names = self.names + [Name(value=alias, kind=NameKind.WEAK_ALIAS) for alias in facts.weak_aliases]
        return Entry(
            source=self.source,
            source_ref=self.source_ref,
            schema_=self.schema,
            names=listed_names(names, self.schema),
            gender=facts.gender if facts.gender in ("male", "female") else None,  # type: ignore[arg-type]
            birth_dates=unique(facts.birth_dates),
            birth_places=unique(facts.birth_places),
            nationalities=unique(facts.nationalities),
            countries=unique(facts.countries),
            identifiers=unique(facts.identifiers),
            addresses=unique(self.addresses),
            programs=unique(self.programs),
            topics=self.topics,
            listed_on=self.listed_on,
            relations=unique(
                self.relations
                + [Relation(kind="associate", other_name=name, description="Linked To") for name in facts.linked_to]
            ),
            remarks="; ".join(self.remarks) or None,
        )
