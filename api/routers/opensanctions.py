"""The OpenSanctions-compatible API (yente 5.x protocol) under ``KYC_OPENSANCTIONS_PATH`` (``/opensanctions``).

Marble, nomenklatura's ``YenteEnricher`` and other yente clients switch by changing their host setting to
``https://kyc.example/opensanctions``. Parse the request, make one ``kyc.screening_api`` call, respond: the
translation (entities, scores, datasets) and the audit are there. Errors are yente's ``{"detail": …}`` (see
``api.errors``). Only the ``screening_api`` role may call it; ``/readyz`` and ``/healthz`` are open health checks.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from api.auth import require_screening_api
from api.deps import SessionDep, SettingsDep
from kyc import screening_api as yente
from kyc.access import Principal
from kyc.matcher_cache import config_from_settings, matcher_cache
from kyc.screening_api import ApiIndex, MatchParams, MatchRequest, SearchParams
from kyc.storage.db import transaction
from kyc.versions import active_version_ids

PREFIX_SETTING = "opensanctions_path"
TAG = "OpenSanctions-compatible (yente 5.x)"
TS_PATTERN = r"^\d{4}-\d{2}-\d{2}(T\d{2}(:\d{2}(:\d{2})?)?)?$"


class DetailOut(BaseModel):
    """yente's error shape: ``{"detail": ...}``."""

    detail: str | list[Any]


def _detail(description: str) -> dict[str, Any]:
    return {"model": DetailOut, "description": description}


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _detail("Malformed query: no queries, more than 100, an unknown or non-matchable schema."),
    401: _detail("No valid token (`Authorization: Bearer`, `Authorization: ApiKey` or `api_key=`)."),
    403: _detail("The token's role is not screening_api."),
    404: _detail("No such dataset or entity."),
    422: {"description": "Invalid parameters: the field and the reason (no value echoed)."},
    503: _detail("No active list version, or the database is unavailable: retry later."),
}
"""What every route of the compatible API may answer besides its success, in yente's shape, so that clients and
schema checkers know them."""

router = APIRouter(tags=[TAG], responses=ERROR_RESPONSES)
Client = Annotated[Principal, Depends(require_screening_api)]
Strings = Annotated[tuple[str, ...], Query()]


def get_index(session: SessionDep, settings: SettingsDep) -> ApiIndex:
    """The matcher over the active versions (built now if it is not yet) and its entity index; 503 without any
    active list, so that "no match" is never an answer against no lists."""
    matcher = matcher_cache.get(settings.database_url, config_from_settings(settings))
    if not matcher.version_ids:
        raise yente.IndexNotReady("no active list version; ingest the lists first")
    return yente.api_index(session, matcher)


IndexDep = Annotated[ApiIndex, Depends(get_index)]


@router.post(
    "/match/{dataset}",
    summary="Query-by-example matching (yente /match)",
    response_model=None,
    responses={
        200: {
            "description": "yente's EntityMatchResponse: `{responses: {key: {status, results, total, query}}, limit}`"
        },
        400: {"description": "`{detail}`: no queries, more than 100, an unknown or non-matchable schema"},
        404: {"description": "`{detail}`: no such dataset"},
        503: {"description": "`{detail}`: no active list version"},
    },
)
def match(
    dataset: str,
    body: MatchRequest,
    client: Client,
    session: SessionDep,
    index: IndexDep,
    limit: Annotated[int, Query(le=yente.MAX_LIMIT, ge=0)] = yente.DEFAULT_LIMIT,
    threshold: Annotated[float, Query(ge=0, le=1)] = yente.DEFAULT_THRESHOLD,
    cutoff: Annotated[float, Query(ge=0, le=1, deprecated=True)] = yente.DEFAULT_THRESHOLD,
    algorithm: str = yente.DEFAULT_ALGORITHM,
    include_dataset: Strings = (),
    exclude_dataset: Strings = (),
    exclude_schema: Strings = (),
    topics: Strings = (),
    changed_since: Annotated[str | None, Query(pattern=TS_PATTERN)] = None,
    exclude_entity_ids: Annotated[tuple[str, ...], Query(max_length=yente.MAX_EXCLUDE_IDS)] = (),
    fuzzy: bool = False,
) -> JSONResponse:
    """Screen up to 100 example entities (``{"queries": {key: {"schema", "properties"}}}``) against a dataset
    (``default``, ``sanctions``, ``peps`` or a source). ``threshold`` is on yente's scale: 0.70 is this service's
    own alert threshold (scores are calibrated, see the README). ``fuzzy`` is accepted and has no effect: the
    engine always tolerates spelling variants."""
    del fuzzy
    params = MatchParams(
        dataset,
        limit,
        threshold,
        cutoff,
        algorithm,
        include_dataset,
        exclude_dataset,
        exclude_schema,
        topics,
        changed_since,
        exclude_entity_ids,
    )
    result = yente.match(session, index, client, body, params)
    # plain JSON data already: rendered directly, without FastAPI's generic encoder (the hot path)
    return JSONResponse(result, headers={"x-batch-size": str(len(result["responses"]))})


@router.get("/search/{dataset}", summary="Text search (yente /search)")
def search(
    dataset: str,
    client: Client,
    session: SessionDep,
    index: IndexDep,
    q: str = "",
    schema: str = "Thing",
    countries: Strings = (),
    topics: Strings = (),
    include_dataset: Strings = (),
    exclude_dataset: Strings = (),
    exclude_schema: Strings = (),
    changed_since: Annotated[str | None, Query(pattern=TS_PATTERN)] = None,
    limit: Annotated[int, Query(ge=0, le=yente.MAX_LIMIT)] = yente.SEARCH_DEFAULT_LIMIT,
    offset: Annotated[int, Query(ge=0, le=yente.SEARCH_MAX_OFFSET)] = 0,
) -> dict[str, Any]:
    """Entities whose names resemble ``q``, best first, with facets (countries, topics, data sources)."""
    params = SearchParams(
        dataset,
        q,
        schema,
        countries,
        topics,
        include_dataset,
        exclude_dataset,
        exclude_schema,
        changed_since,
        limit,
        offset,
    )
    return yente.search(session, index, client, params)


@router.get("/entities/{entity_id}", summary="One entity (yente /entities)")
def entity(entity_id: str, client: Client, session: SessionDep, index: IndexDep, nested: bool = True) -> dict[str, Any]:
    """The entity; ``nested`` adds its sanctions (programme, authority, listing date), PEP positions, family and
    associates as nested entities."""
    return yente.entity(session, index, client, entity_id, nested)


@router.get("/catalog", summary="Datasets and index versions (yente /catalog)", response_model=None)
def catalog(request: Request, client: Client, session: SessionDep, settings: SettingsDep) -> JSONResponse | Response:
    """One dataset per source with an active version, plus ``default``, ``sanctions`` and ``peps``; ``ETag`` and
    ``If-None-Match`` (304) as in yente."""
    del client
    versions = yente.active_versions(session, active_version_ids(session))
    matcher = matcher_cache.current(settings.database_url, config_from_settings(settings))
    index = yente.api_index(session, matcher) if matcher is not None and matcher.version_ids else None
    body = yente.catalog(index, versions)
    etag = yente.catalog_etag(body)
    headers = {"ETag": etag, "Cache-Control": "private, max-age=300"}
    wanted = [tag.strip() for tag in request.headers.get("if-none-match", "").split(",")]
    if etag in wanted or "*" in wanted:
        return Response(status_code=304, headers=headers)
    return JSONResponse(body, headers=headers)


@router.get("/algorithms", summary="Accepted algorithm names (yente /algorithms)")
def algorithms(client: Client) -> dict[str, Any]:
    """Every algorithm name yente accepts; all are answered by this service's engine."""
    del client
    return yente.algorithms()


@router.get("/-/version", summary="Version of the compatible API")
def version(client: Client) -> dict[str, str]:
    del client
    return yente.version_info()


@router.get("/healthz", summary="Liveness (open)")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Index readiness (open): 503 until the index over the active lists is built")
def readyz(settings: SettingsDep) -> JSONResponse:
    """200 once the matcher over every active list version is built; until then 503, and the build is started in
    the background so that the first screening does not wait for it."""
    config = config_from_settings(settings)
    with transaction(settings.database_url) as session:
        if not active_version_ids(session):
            return JSONResponse({"detail": "No active list version: the index is empty."}, status_code=503)
    if matcher_cache.current(settings.database_url, config) is None:
        matcher_cache.build_in_background(settings.database_url, config)
        return JSONResponse({"detail": "Index not ready."}, status_code=503, headers={"Retry-After": "10"})
    return JSONResponse({"status": "ok"})
