"""The yente protocol's vocabulary: limits and defaults, request models, errors, and example entities read
as our ``Query`` (unknown properties ignored, as yente ignores them).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from kyc.countries import to_country
from kyc.crypto import redact
from kyc.entry import PartialDate
from kyc.errors import Invalid, NotFound, Unavailable
from kyc.matching import Query
from kyc.matching.model import QuerySchema

COMPATIBLE_VERSION = "5.5.0"
"""The yente release whose protocol this follows."""
DEFAULT_THRESHOLD = 0.70
"""yente's ``SCORE_THRESHOLD``: on the reported scale our own threshold sits here (see the package docstring)."""
MAX_BATCH = 100
MAX_LIMIT = 500
DEFAULT_LIMIT = 5
MAX_EXCLUDE_IDS = 50
SEARCH_DEFAULT_LIMIT = 10
SEARCH_MAX_OFFSET = 9_500
SEARCH_THRESHOLD = 0.6
"""Raw engine score from which ``/search`` lists an entity: looser than screening, as a search box is."""
AUDIT_PURPOSE = "aml_cdd"

ALGORITHMS: Mapping[str, str] = {
    "logic-v2": "yente's default rule-based matcher",
    "logic-v1": "yente's earlier rule-based matcher",
    "name-based": "names only",
    "name-qualified": "names with qualifiers",
    "regression-v1": "yente's regression model",
    "ofac": "the OFAC search tool's algorithm",
}
"""Every algorithm name yente accepts (plus ``best``); each is answered by our engine."""
BEST_ALGORITHM = "logic-v2"
DEFAULT_ALGORITHM = "best"

COLLECTIONS: Mapping[str, str] = {
    "default": "All active lists",
    "sanctions": "Sanctions and asset-freeze lists",
    "peps": "Politically exposed persons, family and close associates",
}

QUERY_SCHEMA: Mapping[str, str] = {
    "Person": "Person",
    "Organization": "Organization",
    "Company": "Organization",
    "PublicBody": "Organization",
    "LegalEntity": "LegalEntity",
    "Vessel": "Vessel",
    "Airplane": "Aircraft",
}
"""Matchable FollowTheMoney schemata -> our query schema."""
NOT_MATCHABLE = frozenset(
    {
        "Thing",
        "Address",
        "Sanction",
        "Occupancy",
        "Position",
        "Family",
        "Associate",
        "Ownership",
        "Directorship",
        "Membership",
        "Employment",
        "Representation",
        "UnknownLink",
        "Note",
        "Document",
        "Event",
        "Asset",
        "Security",
        "BankAccount",
        "CryptoWallet",
        "Identification",
        "Passport",
        "Payment",
        "Vehicle",
        "Project",
    }
)
NAME_PROPS = ("name", "alias", "previousName", "weakAlias", "abbreviation")
PART_PROPS = ("firstName", "secondName", "middleName", "fatherName", "lastName")
IDENTIFIER_PROPS = (
    "idNumber",
    "passportNumber",
    "registrationNumber",
    "taxNumber",
    "imoNumber",
    "innCode",
    "ogrnCode",
    "leiCode",
    "swiftBic",
    "vatCode",
    "dunsCode",
    "uniqueEntityId",
    "npiCode",
    "okpoCode",
    "bikCode",
    "mmsi",
    "serialNumber",
    "icaoCode",
)
COUNTRY_PROPS = ("country", "jurisdiction", "citizenship", "mainCountry", "flag", "birthCountry")
USED_PROPS = (*NAME_PROPS, *PART_PROPS, *IDENTIFIER_PROPS, *COUNTRY_PROPS, "nationality", "birthDate", "gender")


class BadQuery(Invalid):
    """A query the protocol refuses (yente answers these with 400)."""

    code = "bad_request"


class UnknownDataset(NotFound):
    def __init__(self) -> None:
        super().__init__("No such dataset.")


class UnknownEntity(NotFound):
    def __init__(self) -> None:
        super().__init__("No such entity.")


class IndexNotReady(Unavailable):
    def __init__(self, reason: str = "Index not ready.") -> None:
        super().__init__(reason, retry_after=10)


# ---- request models -------------------------------------------------------------------------------------------


class EntityExample(BaseModel):
    """One query: an example entity. Marble also sends ``filters`` and ``params`` per query (ignored here)."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    id: str | None = None
    schema_: str = Field(alias="schema")
    properties: dict[str, str | list[Any]] = Field(default_factory=dict)


class BodyParams(BaseModel):
    """Marble's ``params`` object: datasets and excluded ids in the body instead of the query string."""

    model_config = ConfigDict(extra="ignore")

    include_datasets: list[str] | None = None
    exclude_datasets: list[str] | None = None
    exclude_entity_ids: list[str] | None = None


class MatchRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    queries: dict[str, EntityExample | None]
    weights: dict[str, float] = Field(default_factory=dict)
    config: dict[str, str | int | float | bool | None] = Field(default_factory=dict)
    params: BodyParams | None = None


@dataclass(frozen=True)
class MatchParams:
    """The query-string parameters of ``/match/{dataset}`` (yente's names and defaults)."""

    dataset: str = "default"
    limit: int = DEFAULT_LIMIT
    threshold: float = DEFAULT_THRESHOLD
    cutoff: float = DEFAULT_THRESHOLD
    algorithm: str = DEFAULT_ALGORITHM
    include_dataset: tuple[str, ...] = ()
    exclude_dataset: tuple[str, ...] = ()
    exclude_schema: tuple[str, ...] = ()
    topics: tuple[str, ...] = ()
    changed_since: str | None = None
    exclude_entity_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class SearchParams:
    dataset: str = "default"
    q: str = ""
    schema: str = "Thing"
    countries: tuple[str, ...] = ()
    topics: tuple[str, ...] = ()
    include_dataset: tuple[str, ...] = ()
    exclude_dataset: tuple[str, ...] = ()
    exclude_schema: tuple[str, ...] = ()
    changed_since: str | None = None
    limit: int = SEARCH_DEFAULT_LIMIT
    offset: int = 0


def algorithm_name(name: str) -> str:
    """The algorithm a client named (``best`` is logic-v2), or BadQuery for a name yente would refuse too."""
    clean = name.lower().strip()
    if clean == "best":
        return BEST_ALGORITHM
    if clean not in ALGORITHMS:
        raise BadQuery(f"Invalid algorithm: {name}")
    return clean


# ---- queries -----------------------------------------------------------------------------------------------------


def _values(props: Mapping[str, str | list[Any]], name: str) -> list[str]:
    raw = props.get(name)
    if raw is None:
        return []
    items = raw if isinstance(raw, list) else [raw]
    return [" ".join(str(v).split()) for v in items if isinstance(v, str | int | float) and str(v).strip()]


def _birth_date(values: Sequence[str]) -> str | None:
    for value in values:
        for candidate in (value[:10], value[:7], value[:4]):
            try:
                PartialDate(date=candidate)
            except ValidationError:
                continue
            return candidate
    return None


def to_query(example: EntityExample) -> Query:
    """The example entity as our query; unknown properties are ignored, as yente ignores them."""
    schema = QUERY_SCHEMA.get(example.schema_)
    if schema is None:
        if example.schema_ in NOT_MATCHABLE:
            raise BadQuery(f"Cannot parse example entity: schema {example.schema_} is not matchable")
        raise BadQuery(f"Cannot parse example entity: unknown schema {example.schema_!r}")
    props = example.properties
    names = [v for prop in NAME_PROPS for v in _values(props, prop)]
    parts = [" ".join(_values(props, prop)) for prop in PART_PROPS]
    joined = " ".join(p for p in parts if p)
    if joined:
        names.append(joined)
    names = list(dict.fromkeys(names))
    if not names:
        raise BadQuery("Cannot parse example entity: it has no name")
    countries = [c for prop in COUNTRY_PROPS for c in _values(props, prop)]
    nationalities = [code for code in (to_country(v) for v in _values(props, "nationality")) if code]
    codes = [code for code in (to_country(v) for v in countries) if code]
    gender = next((g for g in (v.lower() for v in _values(props, "gender")) if g in ("male", "female")), None)
    try:
        return Query(
            name=names[0],
            aliases=tuple(names[1:]),
            schema_=cast(QuerySchema, schema),
            birth_date=_birth_date(_values(props, "birthDate")),
            nationality=nationalities[0] if nationalities else None,
            countries=tuple(dict.fromkeys([*nationalities[1:], *codes])),
            identifiers=tuple(v for prop in IDENTIFIER_PROPS for v in _values(props, prop)),
            gender=cast(Literal["male", "female"] | None, gender),
        )
    except ValidationError as exc:
        reasons = "; ".join(str(e.get("msg", "")) for e in exc.errors())
        raise BadQuery(f"Cannot parse example entity: {reasons}") from None


def echo_query(example: EntityExample) -> dict[str, Any]:
    """The query as understood: the properties used for matching (yente echoes its parsed entity), with personal
    identity codes masked as in every other answer of the service."""
    props = {name: [redact(v) for v in _values(example.properties, name)] for name in USED_PROPS}
    return {"id": example.id, "schema": example.schema_, "properties": {k: v for k, v in props.items() if v}}
