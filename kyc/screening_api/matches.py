"""``POST /match/{dataset}``: each query screened, filtered, calibrated and explained; the request audited."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from kyc import audit
from kyc.access import Principal
from kyc.matching import ENGINE_VERSION, Match
from kyc.screening_api.calibration import calibrate, uncalibrate
from kyc.screening_api.index import ApiIndex, Filters
from kyc.screening_api.protocol import (
    AUDIT_PURPOSE,
    MAX_BATCH,
    MAX_EXCLUDE_IDS,
    MAX_LIMIT,
    BadQuery,
    BodyParams,
    EntityExample,
    MatchParams,
    MatchRequest,
    algorithm_name,
    echo_query,
    to_query,
)


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
    index: ApiIndex, example: EntityExample, params: MatchParams, filters: Filters, cutoff: float
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
        "query": echo_query(example),
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
    filters = Filters(
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
