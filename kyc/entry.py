"""The list entry model every source adapter maps into.

One model for all sources so that matching, diffing and review never need to know which official format an
entry came from. Entries are immutable values: their ``content_hash`` identifies a designation's content across
list versions, which is what makes diffs and false-positive suppression possible.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import date
from enum import StrEnum
from typing import Annotated, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

Country = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
"""ISO 3166-1 alpha-2, upper case. Adapters convert names and alpha-3 codes with ``kyc.countries``."""

T = TypeVar("T")

PartialDateStr = Annotated[str, StringConstraints(pattern=r"^\d{4}(-\d{2}(-\d{2})?)?$")]


class Schema(StrEnum):
    """What kind of thing an entry designates; a person is never matched to a vessel."""

    PERSON = "Person"
    ORGANIZATION = "Organization"
    VESSEL = "Vessel"
    AIRCRAFT = "Aircraft"
    LEGAL_ENTITY = "LegalEntity"
    """A designation whose source does not say whether it is a person or an organisation."""


class NameKind(StrEnum):
    PRIMARY = "primary"
    STRONG_ALIAS = "strong_alias"
    WEAK_ALIAS = "weak_alias"
    """Low-quality aliases (UN 'Low', OFAC weak a.k.a.): screened, but weighted lower."""
    ORIGINAL_SCRIPT = "original_script"


class DatePrecision(StrEnum):
    DAY = "day"
    MONTH = "month"
    YEAR = "year"
    RANGE = "range"


class _Value(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Name(_Value):
    value: str = Field(min_length=1)
    kind: NameKind = NameKind.PRIMARY
    lang: str | None = None
    """ISO 639 language or script hint where the source gives one."""

    @field_validator("value")
    @classmethod
    def _strip(cls, value: str) -> str:
        cleaned = " ".join(value.split())
        if not cleaned:
            raise ValueError("name is blank")
        return cleaned


class PartialDate(_Value):
    """A date as precise as the source knows it: ``1963``, ``1963-07`` or ``1963-07-28``.

    A range (UN ``BETWEEN``, DFAT ``1955-1958``) has ``end``; ``approximate`` marks 'circa'/'about'.
    """

    date: PartialDateStr
    end: PartialDateStr | None = None
    approximate: bool = False

    @property
    def precision(self) -> DatePrecision:
        if self.end is not None:
            return DatePrecision.RANGE
        return {4: DatePrecision.YEAR, 7: DatePrecision.MONTH}.get(len(self.date), DatePrecision.DAY)

    @field_validator("date", "end")
    @classmethod
    def _real_date(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = [int(p) for p in value.split("-")]
        year = parts[0]
        if not 1000 <= year <= 2999:
            raise ValueError(f"implausible year {year}")
        if len(parts) >= 2 and not 1 <= parts[1] <= 12:
            raise ValueError(f"month out of range in {value}")
        if len(parts) == 3:
            date(parts[0], parts[1], parts[2])  # raises ValueError on 31 Feb
        return value


class Identifier(_Value):
    """A document or registration number; an exact match is strong evidence."""

    type: str = Field(min_length=1)
    """Free text from the source, lightly normalised: ``passport``, ``national_id``, ``imo``, ``registration``…"""
    number: str = Field(min_length=1)
    country: Country | None = None
    note: str | None = None


class Position(_Value):
    """A public function held by a PEP."""

    role: str = Field(min_length=1)
    country: Country | None = None
    start: PartialDateStr | None = None
    end: PartialDateStr | None = None
    body: str | None = None
    """The organisation or chamber, e.g. 'Eduskunta'."""


class Relation(_Value):
    """Family membership or close association with another (usually PEP) entry."""

    kind: Literal["family", "associate"]
    other_ref: str | None = None
    """``source_ref`` of the related entry in the same source, when known."""
    other_name: str | None = None
    description: str | None = None
    """The relationship as the source words it: 'spouse', 'son', 'business partner'."""


class Entry(_Value):
    """One designation (person, organisation, vessel…) in one list version."""

    source: str
    source_ref: str = Field(min_length=1)
    schema_: Schema = Field(alias="schema")
    names: tuple[Name, ...] = Field(min_length=1)
    gender: Literal["male", "female"] | None = None
    birth_dates: tuple[PartialDate, ...] = ()
    birth_places: tuple[str, ...] = ()
    nationalities: tuple[Country, ...] = ()
    countries: tuple[Country, ...] = ()
    """Countries of residence, address, registration or flag."""
    identifiers: tuple[Identifier, ...] = ()
    addresses: tuple[str, ...] = ()
    programs: tuple[str, ...] = ()
    """Sanctions programmes or regimes, as the source names them."""
    topics: tuple[str, ...] = ()
    """``sanction``, ``role.pep``, ``role.rca`` (relative or close associate), ``debarment``…"""
    listed_on: PartialDateStr | None = None
    un_ref: str | None = None
    """The UN Security Council reference (``QDi.430``) when the source carries one: links lists together."""
    referents: tuple[str, ...] = ()
    """Ids other datasets give the same designation, where the source says so (OpenSanctions referents such as
    ``ofac-13168`` or ``gb-hmt-13141``): links lists together (``kyc.designations``)."""
    positions: tuple[Position, ...] = ()
    relations: tuple[Relation, ...] = ()
    remarks: str | None = None

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    @property
    def primary_name(self) -> str:
        for name in self.names:
            if name.kind == NameKind.PRIMARY:
                return name.value
        return self.names[0].value

    @property
    def is_pep(self) -> bool:
        return "role.pep" in self.topics or "role.rca" in self.topics

    def to_data(self) -> dict[str, object]:
        """A JSON-ready dict, without empty fields, in a stable key order."""
        return self.model_dump(mode="json", by_alias=True, exclude_defaults=True)

    @property
    def content_hash(self) -> str:
        """sha256 over the canonical JSON: equal for equal content, whatever the file's bytes looked like."""
        return data_hash(self.to_data())

    @classmethod
    def from_data(cls, data: dict[str, object]) -> Entry:
        return cls.model_validate(data)


def data_hash(data: dict[str, object]) -> str:
    """The content hash of ``Entry.to_data()`` output (lets callers that already dumped an entry skip a re-dump)."""
    canonical = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def unique_names(names: list[Name]) -> tuple[Name, ...]:
    """Drop repeated names, keeping the strongest kind for each spelling (sources repeat names a lot)."""
    rank = {NameKind.PRIMARY: 0, NameKind.STRONG_ALIAS: 1, NameKind.ORIGINAL_SCRIPT: 2, NameKind.WEAK_ALIAS: 3}
    best: dict[str, Name] = {}
    for name in names:
        key = name.value.casefold()
        current = best.get(key)
        if current is None or rank[name.kind] < rank[current.kind]:
            best[key] = name
    ordered = sorted(best.values(), key=lambda n: rank[n.kind])
    return tuple(ordered)


def unique(values: Iterable[T]) -> tuple[T, ...]:
    """Order-preserving de-duplication."""
    return tuple(dict.fromkeys(values))
