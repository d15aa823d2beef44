"""What is screened (``Query``), what comes back (``Match``) and the tunable knobs (``MatchConfig``).

The configuration is hashed and recorded with every result: a hit must be reproducible, and an officer or auditor
must be able to tell which thresholds and weights produced it.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from kyc.countries import to_country
from kyc.dates import parse_birth_date
from kyc.entry import Entry, PartialDateStr
from kyc.text import has_letter, strip_invisible

ENGINE_VERSION = "kyc-match/1.6"
"""Bumped whenever normalisation, retrieval or scoring changes the results: stored with every result.
1.1: identical normalised names share one candidate slot (more listings of one person are hits).
1.2: two typos tolerated from five letters; split parts (Patr ushev) joined; names in Chinese characters or
Hangul compared syllable by syllable; father and son swapped around bin/ibn scored lower; a one-part person name
capped below the threshold against a fuller name; a person name in the Arabic script read as an abjad against
a Latin one; a second typo needs the first letter right.
1.3: a listed name is compared as written, not only by its normalised parts: spellings of one form in scripts
that comparison reads differently (Abu Banat / Абу Банат for an Arabic query, 尤索夫·奧塔米爾曼 / 尤索夫·奥塔米尔曼)
are each compared, whichever was listed or indexed first.
1.4: an approximate listed birth year contradicts queries more than three years away; birth dates ten years or
more apart cost more (-0.25); Arabic and Korean spellings of one name part are variants (Yusuf / Youssef, Pak /
Park), Abd al- is one part; Finnish and Swedish generic words and a country's genitive in organisation names;
identifiers compared by python-stdnum's formats and the kind of number; an acronym a listed organisation name gives
in parentheses scores as a weak alias; long organisation words also keyed by their first and last four letters,
country codes in organisation names no keys.
1.5: a nickname matches its full name (Ted / Theodore), a compound given name its initials (JC / Jean-Claude), a
Latvian or Lithuanian nominative ending is no typo (Lavrovs / Lavrov); Roman numerals in organisation names are
numbers (Fund II, XIII), and a number other than 1 on one side only is another member of a series; Wade-Giles and
Pinyin spellings of a Chinese name part are variants (Hsi / Xi); a given name is not the Iberian patronymic
made from it (Sancho / Sánchez); two disagreeing initials contradict as two names do; index keys for a Baltic stem and a
Wade-Giles spelling (Lavrovs finds Lavrov, Hsi finds Xi).
1.6: organisation words of six or seven letters also keyed by their outer two letters on each side and their
length (Tagriz finds Tabriz); for every query but a person's, names that key weights cannot tell apart are ranked
by spelling: those sharing the listed words when a query word is no listed word but its other keys find names
(Credit Bank of Msocow finds Credit Bank of Moscow), those sharing every word found beyond the bound on
candidates (Commercial Bank of Syria -ryhmä), and those tied in key weight with the last name kept."""

QuerySchema = Literal["Person", "Organization", "LegalEntity", "Vessel", "Aircraft"]


class Query(BaseModel):
    """One party to screen. Only ``name`` is required; every other field can raise or lower the score."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="forbid")

    name: str = Field(min_length=1)
    schema_: QuerySchema = Field("LegalEntity", alias="schema")
    birth_date: PartialDateStr | None = None
    nationality: str | None = None
    countries: tuple[str, ...] = ()
    identifiers: tuple[str, ...] = ()
    gender: Literal["male", "female"] | None = None
    aliases: tuple[str, ...] = ()

    @field_validator("name")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        """Invisible format characters (bidi controls, zero-width spaces) removed: they change how a name looks,
        never whom it names; what is left must hold a letter of some script."""
        cleaned = " ".join(strip_invisible(value).split())
        if not cleaned:
            raise ValueError("name is blank once invisible characters are removed")
        if not has_letter(cleaned):
            raise ValueError("name holds no letter")
        return cleaned

    @field_validator("aliases")
    @classmethod
    def _visible_aliases(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(alias for a in value if has_letter(alias := " ".join(strip_invisible(a).split())))

    @field_validator("birth_date", mode="before")
    @classmethod
    def _real_date(cls, value: object) -> object:
        """Unpadded forms made canonical and an impossible day cut to its month (``kyc.dates``); callers that must
        report what was cut parse the date themselves first."""
        if isinstance(value, str):
            return parse_birth_date(value).value
        return value

    @field_validator("nationality")
    @classmethod
    def _nationality(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        code = to_country(value)
        if code is None:
            raise ValueError(f"unknown country {value!r}")
        return code

    @field_validator("countries")
    @classmethod
    def _countries(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        codes = []
        for item in value:
            code = to_country(item)
            if code is None:
                raise ValueError(f"unknown country {item!r}")
            codes.append(code)
        return tuple(dict.fromkeys(codes))


class Match(BaseModel):
    """One hit, with the evidence a compliance officer needs to decide on it."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    source: str
    source_ref: str
    version_id: int
    schema_: str = Field(alias="schema")
    score: float
    matched_name: str
    query_name: str
    explanation: dict[str, Any]
    entry: Entry


class FeatureWeights(BaseModel):
    """Score adjustments from the qualifiers, added to the name score (then clamped to 0..1)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    birth_date_exact: float = 0.05
    birth_date_partial: float = 0.02
    """Same year (or month) where one side is less precise, or inside a listed range."""
    birth_date_near: float = -0.04
    """One year apart: a typo or an approximate listing, mildly against."""
    birth_date_mismatch: float = -0.15
    """Another birth year, fewer than ten years apart: a wrong year in a document, or another person."""
    birth_date_far: float = -0.25
    """Ten years or more apart: a relative or a namesake, so an exact name alone does not alert."""
    nationality_match: float = 0.03
    nationality_mismatch: float = -0.05
    country_match: float = 0.02
    identifier_match: float = 0.30
    """An exact passport or registration number is strong evidence on its own."""
    gender_mismatch: float = -0.10
    weak_alias: float = 0.90
    """Multiplier on the name score when the list name is a weak (low-quality) alias."""


class MatchConfig(BaseModel):
    """Thresholds and weights. The default threshold applies where no per-schema one is set."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    threshold: float = Field(0.8, ge=0, le=1)
    schema_thresholds: dict[str, float] = Field(default_factory=dict)
    weights: FeatureWeights = Field(default_factory=FeatureWeights)
    candidates: int = Field(12, ge=1)
    """How many index candidates per query name are scored in full."""
    identifier_floor: float = Field(0.9, ge=0, le=1)
    """An exact identifier match scores at least this, so it alerts even when the names are written differently."""
    min_name_score: float = Field(0.5, ge=0, le=1)
    """Below this name similarity no qualifier can lift an entry into the results (except an identifier)."""

    def threshold_for(self, schema: str) -> float:
        return self.schema_thresholds.get(schema, self.threshold)

    def config_hash(self) -> str:
        """sha256 over the canonical JSON of the configuration and the engine version."""
        payload = {"engine": ENGINE_VERSION, "config": self.model_dump(mode="json")}
        canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()
