# Over 400 lines: one protocol (request models, query mapping, calibration, filters, responses) kept together.
"""The OpenSanctions-compatible screening API (yente 5.x protocol), translated onto our engine.

Clients that speak yente — Marble, nomenklatura's ``YenteEnricher``, scripts written against the hosted API —
send FollowTheMoney example entities; we screen them with ``kyc.matching`` and answer with FtM entities
(``kyc.ftm``), a ``score``, ``match`` and per-feature ``explanations``. Every algorithm name yente accepts is
accepted and answered by our engine (``/algorithms`` says so).

**Scores.** Clients choose a ``threshold`` on yente's scale, where 0.70 is "a match" by default. Our engine has its
own threshold per schema (``KYC_MATCH_THRESHOLD``, 0.80 by default). Scores are reported calibrated, piecewise
linearly, so that our threshold lands on 0.70: ``s * 0.70 / t`` below it, ``0.70 + (s - t) * 0.30 / (1 - t)`` at or
above. A client keeping yente's default threshold therefore gets exactly the hits our engine alerts on, and
raising or lowering it moves along our scale. The raw engine score is in ``explanations.kyc_score``.

**Cutoff.** As in yente the effective cutoff is ``min(cutoff, threshold)`` and results at or below it are dropped,
except that a result at or above the threshold (a match) is always returned, even when it equals the cutoff.

Every request is audited with who asked, how many queries, which dataset and algorithm, and how many matches —
never the names or other properties queried.
"""

from __future__ import annotations

import hashlib
import weakref
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, cast

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from kyc import audit, ftm
from kyc.access import Principal
from kyc.countries import to_country
from kyc.entry import Entry, PartialDate
from kyc.errors import Invalid, NotFound, Unavailable
from kyc.matching import ENGINE_VERSION, Match, Matcher, Query
from kyc.matching.model import QuerySchema
from kyc.pep import PEP_SOURCES
from kyc.storage.lists import ListVersion

COMPATIBLE_VERSION = "5.5.0"
"""The yente release whose protocol this follows."""
DEFAULT_THRESHOLD = 0.70
"""yente's ``SCORE_THRESHOLD``: on the reported scale our own threshold sits here (see the module docstring)."""
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


# ---- the index: entries as entities, datasets --------------------------------------------------------------------


@dataclass(frozen=True)
class VersionInfo:
    source: str
    version_id: int
    published_at: datetime | None
    fetched_at: datetime
    activated_at: datetime | None
    sha256: str
    entry_count: int

    @property
    def moment(self) -> datetime:
        return self.published_at or self.fetched_at

    @property
    def version(self) -> str:
        """yente's version form ``YYYYMMDDHHMMSS-xxxx`` (Marble reads the timestamp before the dash)."""
        return f"{self.moment:%Y%m%d%H%M%S}-{self.sha256[:4]}"


def active_versions(session: Session, version_ids: Mapping[str, int]) -> list[VersionInfo]:
    ids = list(version_ids.values())
    if not ids:
        return []
    rows = session.scalars(select(ListVersion).where(ListVersion.id.in_(ids)).order_by(ListVersion.source))
    return [
        VersionInfo(r.source, r.id, r.published_at, r.fetched_at, r.activated_at, r.sha256, r.entry_count) for r in rows
    ]


@dataclass
class ApiIndex:
    """What the API needs beside the matcher: entity ids, per-source dates and the dataset tree."""

    matcher: Matcher
    versions: dict[str, VersionInfo]
    positions: dict[str, int] = field(default_factory=dict)
    """entity id -> position in ``matcher.entries``."""
    refs: dict[tuple[str, str], int] = field(default_factory=dict)
    sanction_sources: set[str] = field(default_factory=set)
    pep_sources: set[str] = field(default_factory=set)
    seen: dict[str, ftm.Seen] = field(default_factory=dict)

    @classmethod
    def build(cls, matcher: Matcher, versions: Iterable[VersionInfo]) -> ApiIndex:
        index = cls(matcher, {v.source: v for v in versions})
        for source, info in index.versions.items():
            stamp = ftm.iso_seconds(info.moment)
            index.seen[source] = ftm.Seen(first_seen=stamp, last_seen=stamp, last_change=stamp)
        for position, (_version, entry) in enumerate(matcher.entries):
            index.positions[ftm.entity_id(entry.source, entry.source_ref)] = position
            index.refs[(entry.source, entry.source_ref)] = position
            if is_sanction(entry):
                index.sanction_sources.add(entry.source)
            if entry.is_pep:
                index.pep_sources.add(entry.source)
        return index

    @property
    def sources(self) -> list[str]:
        return sorted(self.versions)

    def entry(self, entity_id: str) -> Entry | None:
        position = self.positions.get(entity_id)
        return None if position is None else self.matcher.entries[position][1]

    def related(self, source: str, ref: str) -> Entry | None:
        position = self.refs.get((source, ref))
        return None if position is None else self.matcher.entries[position][1]

    def seen_of(self, entry: Entry) -> ftm.Seen:
        """The version's date for first seen, last seen and last change — except that a listing date, when the
        source gives one, is when the entry was first seen."""
        seen = self.seen.get(entry.source, ftm.Seen())
        if entry.listed_on and len(entry.listed_on) == 10:
            first = f"{entry.listed_on}T00:00:00"
            if seen.first_seen is None or first < seen.first_seen:
                return ftm.Seen(first_seen=first, last_seen=seen.last_seen, last_change=seen.last_change)
        return seen

    def entity(self, entry: Entry) -> dict[str, Any]:
        return ftm.to_entity(entry, self.seen_of(entry))

    def check_dataset(self, name: str) -> None:
        if name not in COLLECTIONS and name not in self.versions:
            raise UnknownDataset()


def is_sanction(entry: Entry) -> bool:
    return "sanction" in entry.topics or (entry.source not in PEP_SOURCES and not entry.is_pep)


def in_dataset(name: str, entry: Entry) -> bool:
    if name == "default":
        return True
    if name == "sanctions":
        return is_sanction(entry)
    if name == "peps":
        return entry.is_pep
    return entry.source == name


_indexes: weakref.WeakKeyDictionary[Matcher, ApiIndex] = weakref.WeakKeyDictionary()


def api_index(session: Session, matcher: Matcher) -> ApiIndex:
    """The index of a matcher, built once per matcher (a new list version brings a new matcher, so a new index)."""
    found = _indexes.get(matcher)
    if found is None:
        found = _indexes[matcher] = ApiIndex.build(matcher, active_versions(session, matcher.version_ids))
    return found


# ---- score calibration -------------------------------------------------------------------------------------------


def calibrate(raw: float, threshold: float) -> float:
    """Our engine score on yente's scale: our threshold lands on ``DEFAULT_THRESHOLD``."""
    t = min(max(threshold, 0.01), 0.99)
    if raw < t:
        value = raw * DEFAULT_THRESHOLD / t
    else:
        value = DEFAULT_THRESHOLD + (raw - t) * (1 - DEFAULT_THRESHOLD) / (1 - t)
    return round(min(max(value, 0.0), 1.0), 4)


def uncalibrate(score: float, threshold: float) -> float:
    """The raw engine score that reports as ``score`` (the inverse of ``calibrate``)."""
    t = min(max(threshold, 0.01), 0.99)
    if score < DEFAULT_THRESHOLD:
        return score * t / DEFAULT_THRESHOLD
    return t + (score - DEFAULT_THRESHOLD) * (1 - t) / (1 - DEFAULT_THRESHOLD)


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


def _echo(example: EntityExample) -> dict[str, Any]:
    """The query as understood: the properties used for matching (yente echoes its parsed entity)."""
    props = {name: _values(example.properties, name) for name in USED_PROPS}
    return {"id": example.id, "schema": example.schema_, "properties": {k: v for k, v in props.items() if v}}


@dataclass(frozen=True)
class _Filters:
    dataset: str
    include: tuple[str, ...]
    exclude: tuple[str, ...]
    exclude_schema: frozenset[str]
    topics: frozenset[str]
    changed_since: str | None
    exclude_ids: frozenset[str]

    def keep(self, index: ApiIndex, entry: Entry) -> bool:
        if not in_dataset(self.dataset, entry):
            return False
        if self.include and not any(in_dataset(name, entry) for name in self.include):
            return False
        if any(in_dataset(name, entry) for name in self.exclude):
            return False
        if ftm.SCHEMA[entry.schema_.value] in self.exclude_schema:
            return False
        if self.topics and not self.topics & set(entry.topics):
            return False
        if self.exclude_ids and ftm.entity_id(entry.source, entry.source_ref) in self.exclude_ids:
            return False
        if self.changed_since:
            changed = index.seen_of(entry).last_change
            if changed is not None and changed < self.changed_since:
                return False
        return True


def _explanations(found: Match, threshold: float) -> dict[str, dict[str, Any]]:
    """Our explanation in yente's form: ``{feature: {score, detail}}``, the name comparison first."""
    explanation = found.explanation
    out: dict[str, dict[str, Any]] = {
        "name": {
            "score": explanation.get("name_score", 0.0),
            "detail": f"{explanation.get('name_method')} ({explanation.get('name_kind') or 'identifier'})",
            "query": explanation.get("query_name"),
            "candidate": explanation.get("matched_name"),
        }
    }
    for feature, value in explanation.get("features", {}).items():
        out[feature] = {"score": value.get("contribution", 0.0), "detail": str(value.get("detail"))}
    out["kyc_score"] = {
        "score": found.score,
        "detail": (
            f"engine {explanation.get('engine_version', ENGINE_VERSION)}, threshold {threshold}"
            f", config {str(explanation.get('config_hash', ''))[:12]}"
        ),
    }
    return out


def _match_one(
    index: ApiIndex, example: EntityExample, params: MatchParams, filters: _Filters, cutoff: float
) -> dict[str, Any]:
    query = to_query(example)
    ours = index.matcher.config.threshold_for(query.schema_)
    raw_cutoff = max(0.0, uncalibrate(cutoff, ours) - 1e-9)
    found = index.matcher.screen(query, threshold=raw_cutoff, limit=10_000)
    results: list[dict[str, Any]] = []
    matches = 0
    for hit in found:
        if not filters.keep(index, hit.entry):
            continue
        score = calibrate(hit.score, ours)
        is_match = score >= params.threshold
        if score <= cutoff and not is_match:
            continue
        matches += is_match
        result = index.entity(hit.entry)
        result.update(score=score, match=is_match, explanations=_explanations(hit, ours))
        results.append(result)
    results.sort(key=lambda r: (-r["score"], r["id"]))
    return {
        "status": 200,
        "results": results[: params.limit],
        "total": {"value": matches, "relation": "eq"},
        "query": _echo(example),
    }


def match(
    session: Session, index: ApiIndex, principal: Principal, request: MatchRequest, params: MatchParams
) -> dict[str, Any]:
    """``POST /match/{dataset}``: each query screened, results filtered and calibrated; the request audited."""
    index.check_dataset(params.dataset)
    algorithm = algorithm_name(params.algorithm)
    if len(request.queries) > MAX_BATCH:
        raise BadQuery(f"Too many queries in one batch (limit: {MAX_BATCH})")
    if not 0 <= params.limit <= MAX_LIMIT:
        raise BadQuery(f"limit must be between 0 and {MAX_LIMIT}")
    body = request.params or BodyParams()
    excluded = (*params.exclude_entity_ids, *(body.exclude_entity_ids or ()))
    if len(excluded) > MAX_EXCLUDE_IDS:
        raise BadQuery(f"Too many excluded entity ids (limit: {MAX_EXCLUDE_IDS})")
    include = (*params.include_dataset, *(body.include_datasets or ()))
    exclude = (*params.exclude_dataset, *(body.exclude_datasets or ()))
    for name in (*include, *exclude):
        index.check_dataset(name)
    filters = _Filters(
        params.dataset,
        include,
        exclude,
        frozenset(params.exclude_schema),
        frozenset(params.topics),
        params.changed_since,
        frozenset(excluded),
    )
    cutoff = min(params.cutoff, params.threshold)
    responses = {
        key: _match_one(index, example, params, filters, cutoff)
        for key, example in request.queries.items()
        if example is not None
    }
    if not responses:
        raise BadQuery("No queries provided.")
    details = {
        "queries": len(responses),
        "dataset": params.dataset,
        "algorithm": algorithm,
        "threshold": params.threshold,
        "matches": sum(r["total"]["value"] for r in responses.values()),
    }
    audit.record(
        session,
        actor=principal,
        action="opensanctions.match",
        object_type="screening_api",
        object_id=params.dataset,
        purpose=AUDIT_PURPOSE,
        details=details,
    )
    return {"responses": responses, "limit": params.limit}


# ---- search, entities, catalog, algorithms ------------------------------------------------------------------------


def _search_schemas(schema: str) -> list[str]:
    if schema in ("Thing", "", "LegalEntity"):
        return ["LegalEntity", "Vessel", "Aircraft"] if schema != "LegalEntity" else ["LegalEntity"]
    ours = QUERY_SCHEMA.get(schema)
    if ours is None:
        raise BadQuery(f"Invalid schema: {schema}")
    return [ours]


def _facet(label: str, counts: Counter[str], labels: Mapping[str, str] | None = None) -> dict[str, Any]:
    values = [{"name": k, "label": (labels or {}).get(k, k), "count": n} for k, n in counts.most_common(30)]
    return {"label": label, "values": values}


def search(session: Session, index: ApiIndex, principal: Principal, params: SearchParams) -> dict[str, Any]:
    """``GET /search/{dataset}``: entities whose names resemble ``q`` (every entity when it is empty)."""
    index.check_dataset(params.dataset)
    if not 0 <= params.limit <= MAX_LIMIT or not 0 <= params.offset <= SEARCH_MAX_OFFSET:
        raise BadQuery(f"limit must be between 0 and {MAX_LIMIT}, offset at most {SEARCH_MAX_OFFSET}")
    schemas = _search_schemas(params.schema)
    for name in (*params.include_dataset, *params.exclude_dataset):
        index.check_dataset(name)
    filters = _Filters(
        params.dataset,
        params.include_dataset,
        params.exclude_dataset,
        frozenset(params.exclude_schema),
        frozenset(params.topics),
        params.changed_since,
        frozenset(),
    )
    countries = {c for c in (to_country(v) for v in params.countries) if c}
    wanted = {ftm.SCHEMA[s] for s in schemas} | ({"Person", "Organization"} if "LegalEntity" in schemas else set())
    found: list[tuple[float, Entry]] = []
    if params.q.strip():
        seen: set[tuple[str, str]] = set()
        for schema in schemas:
            query = Query(name=params.q, schema_=cast(QuerySchema, schema))
            for hit in index.matcher.screen(query, threshold=SEARCH_THRESHOLD, limit=10_000):
                key = (hit.source, hit.source_ref)
                if key not in seen:
                    seen.add(key)
                    found.append((hit.score, hit.entry))
        found.sort(key=lambda pair: -pair[0])
    else:
        found = [(1.0, entry) for _v, entry in index.matcher.entries]
    kept = [
        entry
        for _score, entry in found
        if ftm.SCHEMA[entry.schema_.value] in wanted
        and filters.keep(index, entry)
        and (not countries or countries & {*entry.countries, *entry.nationalities})
    ]
    page = kept[params.offset : params.offset + params.limit]
    facets = {
        "countries": _facet("Countries", Counter(c.lower() for e in kept for c in {*e.countries, *e.nationalities})),
        "topics": _facet("Topics", Counter(t for e in kept for t in e.topics)),
        "datasets": _facet("Data sources", Counter(e.source for e in kept), ftm.SOURCE_TITLES),
    }
    audit.record(
        session,
        actor=principal,
        action="opensanctions.search",
        object_type="screening_api",
        object_id=params.dataset,
        purpose=AUDIT_PURPOSE,
        details={"queries": 1 if params.q.strip() else 0, "results": len(kept)},
    )
    return {
        "results": [index.entity(e) for e in page],
        "facets": facets,
        "total": {"value": len(kept), "relation": "eq"},
        "limit": params.limit,
        "offset": params.offset,
    }


def entity(session: Session, index: ApiIndex, principal: Principal, entity_id: str, nested: bool) -> dict[str, Any]:
    """``GET /entities/{id}``: the entity, with its sanctions, positions, family and associates when nested."""
    entry = index.entry(entity_id)
    if entry is None:
        raise UnknownEntity()
    audit.record(
        session,
        actor=principal,
        action="opensanctions.entity",
        object_type="list_entry",
        object_id=entity_id,
        purpose=AUDIT_PURPOSE,
    )
    seen = index.seen_of(entry)
    if not nested:
        return ftm.to_entity(entry, seen)
    return ftm.nested_entity(entry, seen, lambda ref: index.related(entry.source, ref))


def _dataset(
    name: str, title: str, version: str, indexed: bool, children: Iterable[str], **extra: Any
) -> dict[str, Any]:
    return {
        "name": name,
        "title": title,
        "version": version,
        "index_version": version if indexed else None,
        "index_current": indexed,
        "load": True,
        "children": sorted(children),
        "tags": [],
        **extra,
    }


def catalog(index: ApiIndex | None, versions: Sequence[VersionInfo]) -> dict[str, Any]:
    """``GET /catalog``: one dataset per source with an active version, and the collections over them.

    ``index`` is None while the matcher is still being built: the datasets are then listed without an
    ``index_version`` (yente's "outdated"), which is how a client sees that the index is not current.
    """
    indexed = index is not None
    by_source = {v.source: v for v in versions}
    datasets = [
        _dataset(
            v.source,
            ftm.SOURCE_TITLES.get(v.source, v.source),
            v.version,
            indexed,
            (),
            updated_at=ftm.iso_seconds(v.moment),
            last_export=ftm.iso_seconds(v.activated_at or v.fetched_at),
            entity_count=v.entry_count,
            thing_count=v.entry_count,
            category="sanctions" if v.source not in PEP_SOURCES else "peps",
        )
        for v in versions
    ]
    newest = max((v.moment for v in versions), default=None)
    digest = hashlib.sha256("|".join(f"{v.source}:{v.version_id}" for v in versions).encode()).hexdigest()[:4]
    collection_version = f"{newest:%Y%m%d%H%M%S}-{digest}" if newest else "empty"
    members = {
        "default": set(by_source),
        "sanctions": index.sanction_sources if index else {s for s in by_source if s not in PEP_SOURCES},
        "peps": index.pep_sources if index else {s for s in by_source if s in PEP_SOURCES},
    }
    for name, title in COLLECTIONS.items():
        children = members[name] & set(by_source)
        datasets.append(
            _dataset(
                name,
                title,
                collection_version,
                indexed,
                children,
                updated_at=ftm.iso_seconds(newest),
                entity_count=sum(by_source[s].entry_count for s in children),
            )
        )
    current = [d["name"] for d in datasets] if indexed else []
    outdated = [] if indexed else [d["name"] for d in datasets]
    return {"datasets": datasets, "current": current, "outdated": outdated, "index_stale": not indexed}


def catalog_etag(body: Mapping[str, Any]) -> str:
    parts = sorted(f"{d['name']}:{d['version']}:{d['index_version']}" for d in body["datasets"])
    return '"' + hashlib.sha256("\n".join(parts).encode()).hexdigest()[:32] + '"'


def algorithms() -> dict[str, Any]:
    """``GET /algorithms``: every name yente accepts, each answered by our engine."""
    docs = {
        "name": {
            "description": "Name similarity (parts in any order, transliteration, typos)",
            "coefficient": 1.0,
            "url": "https://github.com/opensanctions/yente",
        },
        "kyc_score": {
            "description": "The engine's raw score before calibration to the yente scale",
            "coefficient": 0.0,
            "url": "https://github.com/opensanctions/yente",
        },
    }
    entries = []
    for name, original in ALGORITHMS.items():
        description = (
            f"Accepted for compatibility with yente's {name} ({original}); answered by this service's engine "
            f"{ENGINE_VERSION}: names, birth date, nationality, identifiers and gender, scores calibrated so that "
            f"its threshold is {DEFAULT_THRESHOLD}."
        )
        entries.append(
            {
                "name": name,
                "description": description,
                "features": docs,
                "docs": {"name": name, "description": description, "config": {}, "features": docs},
            }
        )
    return {"algorithms": entries, "best": BEST_ALGORITHM, "default": DEFAULT_ALGORITHM}


def version_info() -> dict[str, str]:
    return {"yente": COMPATIBLE_VERSION, "engine": ENGINE_VERSION}
