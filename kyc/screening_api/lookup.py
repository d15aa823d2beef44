"""``GET /search/{dataset}`` and ``GET /entities/{id}``: names like a text, and one entity with what is attached
to it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any, cast

from sqlalchemy.orm import Session

from kyc import audit, ftm
from kyc.access import Principal
from kyc.countries import to_country
from kyc.entry import Entry
from kyc.matching import Query
from kyc.matching.model import QuerySchema
from kyc.screening_api.index import ApiIndex, Filters
from kyc.screening_api.protocol import (
    AUDIT_PURPOSE,
    MAX_LIMIT,
    QUERY_SCHEMA,
    SEARCH_MAX_OFFSET,
    SEARCH_THRESHOLD,
    BadQuery,
    SearchParams,
    UnknownEntity,
)


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
    filters = Filters(
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
