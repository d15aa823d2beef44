"""The OpenSanctions-compatible API as its real clients use it: Marble's exact request, nomenklatura's
``YenteEnricher`` (unmodified, against a real uvicorn server of ours), and every response validated with yente's own
pydantic models. The real UN list, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient
from followthemoney import Dataset, StatementEntity
from nomenklatura.cache import Cache
from nomenklatura.db import Session, get_engine
from nomenklatura.enrich.yente import YenteEnricher
from sqlalchemy import select
from yente.data.common import (
    AlgorithmResponse,
    DataCatalogModel,
    EntityMatchResponse,
    EntityResponse,
    SearchResponse,
)

from api.app import create_app
from kyc import access
from kyc.access import Role
from kyc.matcher_cache import matcher_cache
from kyc.settings import Settings
from kyc.storage.access import AuditLog
from kyc.storage.db import transaction
from lists.ingest import ingest_files
from tests.support.env import list_file

pytestmark = pytest.mark.usefixtures("encryption_key")

UN_OLD = "un_sc/2025-11-20_mkweli/un_consolidated.xml"
UN_NEW = "un_sc/2026-02-27_watchman/UN_consolidated.xml"
MAKENGA = "un-sc-CDi.008"
"""SULTANI MAKENGA, born 1973-12-25, Congolese (UN CDi.008)."""
MARBLE_QUERY = "/opensanctions/match/default?algorithm=logic-v1&threshold=0.7&cutoff=0.7&limit=10"


def marble_body(name: str = "Sultani Makenga", birth: str = "1973-12-25", nationality: str = "CD") -> dict[str, Any]:
    """The body Marble sends: a fresh UUID per query, ``filters`` and ``params`` on each query."""
    query = {
        "schema": "Person",
        "properties": {"name": [name], "birthDate": [birth], "nationality": [nationality]},
        "filters": {},
        "params": None,
    }
    return {"queries": {str(uuid.uuid4()): query}}


@pytest.fixture
def service(db_url: str) -> Iterator[tuple[Settings, str]]:
    """The UN list ingested and a ``screening_api`` client's token."""
    matcher_cache.clear()
    settings = Settings(database_url=db_url)
    ingest_files("un_sc", [list_file(UN_NEW)], settings)
    with transaction(db_url) as session:
        _principal, token = access.create_user(session, "marble", Role.SCREENING_API)
    yield settings, token
    matcher_cache.clear()


@pytest.fixture
def client(service: tuple[Settings, str]) -> TestClient:
    return TestClient(create_app(service[0]))


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_marble_request_returns_the_listed_person_as_a_match(client: TestClient, service: tuple[Settings, str]) -> None:
    _settings, token = service
    body = marble_body()
    response = client.post(MARBLE_QUERY, json=body, headers=bearer(token))
    assert response.status_code == 200, response.text
    data = response.json()
    EntityMatchResponse.model_validate(data)
    (key,) = body["queries"]
    answer = data["responses"][key]
    assert answer["status"] == 200
    best = answer["results"][0]
    assert best["id"] == MAKENGA
    assert best["match"] is True
    assert best["score"] >= 0.7
    assert best["schema"] == "Person"
    assert "un_sc" in best["datasets"]
    assert best["properties"]["birthDate"] == ["1973-12-25"]
    assert {"name", "birth_date", "nationality", "kyc_score"} <= set(best["explanations"])
    assert answer["total"] == {"value": sum(r["match"] for r in answer["results"]), "relation": "eq"}
    assert data["limit"] == 10
    assert response.headers["x-batch-size"] == "1"


def test_match_is_the_score_against_the_threshold_and_total_counts_matches(
    client: TestClient, service: tuple[Settings, str]
) -> None:
    """A surname alone scores under the threshold: returned above the cutoff, but no match."""
    body = marble_body(name="Makenga", birth="1973-12-25")
    data = client.post("/opensanctions/match/default?threshold=0.7&cutoff=0.3", json=body, headers=bearer(service[1]))
    answer = next(iter(data.json()["responses"].values()))
    assert answer["results"]
    assert all(r["match"] == (r["score"] >= 0.7) for r in answer["results"])
    assert any(not r["match"] for r in answer["results"])
    assert answer["total"]["value"] == sum(r["match"] for r in answer["results"])
    assert all(r["score"] > 0.3 for r in answer["results"])


def test_marble_reads_readyz_catalog_and_algorithms(client: TestClient, service: tuple[Settings, str]) -> None:
    _settings, token = service
    ready = client.get("/opensanctions/readyz")
    deadline = time.monotonic() + 60
    while ready.status_code == 503 and time.monotonic() < deadline:  # the index is built in the background
        assert ready.json()["detail"]
        time.sleep(0.1)
        ready = client.get("/opensanctions/readyz")
    assert ready.status_code == 200

    catalog = client.get("/opensanctions/catalog", headers=bearer(token))
    assert catalog.status_code == 200
    model = DataCatalogModel.model_validate(catalog.json())
    names = {d.name: d for d in model.datasets}
    assert {"default", "sanctions", "peps", "un_sc"} <= set(names)
    default = names["default"]
    assert default.index_current and default.index_version
    # Marble parses the index time from the part before the dash
    assert time.strptime(default.index_version.split("-")[0], "%Y%m%d%H%M%S").tm_year == 2026
    assert "un_sc" in default.children
    assert "default" in model.current and not model.index_stale
    etag = catalog.headers["ETag"]
    assert client.get("/opensanctions/catalog", headers={**bearer(token), "If-None-Match": etag}).status_code == 304

    algorithms = client.get("/opensanctions/algorithms", headers=bearer(token))
    parsed = AlgorithmResponse.model_validate(algorithms.json())
    assert parsed.best == "logic-v2" and parsed.default == "best"
    assert {"logic-v1", "logic-v2", "name-based", "name-qualified", "regression-v1", "ofac"} <= {
        a.name for a in parsed.algorithms
    }
    assert all("this service's engine" in (a.description or "") for a in parsed.algorithms)


def test_readyz_is_503_without_lists(db_url: str) -> None:
    matcher_cache.clear()
    client = TestClient(create_app(Settings(database_url=db_url)))
    response = client.get("/opensanctions/readyz")
    assert response.status_code == 503
    assert "detail" in response.json()


def test_match_without_any_active_list_is_503_never_an_empty_answer(db_url: str) -> None:
    matcher_cache.clear()
    with transaction(db_url) as session:
        _p, token = access.create_user(session, "early", Role.SCREENING_API)
    client = TestClient(create_app(Settings(database_url=db_url)))
    response = client.post(MARBLE_QUERY, json=marble_body(), headers=bearer(token))
    assert response.status_code == 503
    assert "no active list" in response.json()["detail"]


def test_search_and_entities_validate_with_yentes_models(client: TestClient, service: tuple[Settings, str]) -> None:
    _settings, token = service
    found = client.get("/opensanctions/search/default", params={"q": "Makenga", "api_key": token})
    assert found.status_code == 200, found.text
    search = SearchResponse.model_validate(found.json())
    assert MAKENGA in [r.id for r in search.results]
    assert search.total.value >= 1
    assert "countries" in search.facets

    everything = client.get("/opensanctions/search/un_sc", params={"limit": 3, "offset": 2, "api_key": token}).json()
    assert len(everything["results"]) == 3 and everything["total"]["value"] > 1000
    only_orgs = client.get("/opensanctions/search/default", params={"schema": "Organization", "api_key": token})
    assert {r["schema"] for r in only_orgs.json()["results"]} == {"Organization"}

    nested = client.get(f"/opensanctions/entities/{MAKENGA}", headers={"Authorization": f"ApiKey {token}"})
    assert nested.status_code == 200
    entity = EntityResponse.model_validate(nested.json())
    (sanction,) = entity.properties["sanctions"]
    assert isinstance(sanction, EntityResponse)
    assert sanction.schema_ == "Sanction"
    assert sanction.properties["authority"] == ["United Nations Security Council"]
    flat = client.get(f"/opensanctions/entities/{MAKENGA}?nested=false", headers=bearer(token)).json()
    assert "sanctions" not in flat["properties"]
    missing = client.get("/opensanctions/entities/un-sc-nope", headers=bearer(token))
    assert missing.status_code == 404 and missing.json() == {"detail": "No such entity."}


def test_ids_stay_the_same_across_list_versions(db_url: str) -> None:
    matcher_cache.clear()
    settings = Settings(database_url=db_url)
    with transaction(db_url) as session:
        _p, token = access.create_user(session, "stable", Role.SCREENING_API)
    ingest_files("un_sc", [list_file(UN_OLD)], settings)
    client = TestClient(create_app(settings))
    before = client.post(MARBLE_QUERY, json=marble_body(), headers=bearer(token)).json()
    ingest_files("un_sc", [list_file(UN_NEW)], settings)
    after = client.post(MARBLE_QUERY, json=marble_body(), headers=bearer(token)).json()
    ids = [next(iter(r["responses"].values()))["results"][0]["id"] for r in (before, after)]
    assert ids == [MAKENGA, MAKENGA]
    matcher_cache.clear()


def test_filters_in_the_query_string_and_in_marbles_body_params(
    client: TestClient, service: tuple[Settings, str]
) -> None:
    _settings, token = service

    def ids(url: str, body: dict[str, Any]) -> list[str]:
        data = client.post(url, json=body, headers=bearer(token)).json()
        return [r["id"] for r in next(iter(data["responses"].values()))["results"]]

    assert MAKENGA in ids(MARBLE_QUERY, marble_body())
    assert MAKENGA not in ids(MARBLE_QUERY + f"&exclude_entity_ids={MAKENGA}", marble_body())
    body = marble_body()
    body["params"] = {"include_datasets": ["un_sc"], "exclude_datasets": [], "exclude_entity_ids": [MAKENGA]}
    assert MAKENGA not in ids(MARBLE_QUERY, body)
    assert ids("/opensanctions/match/peps?threshold=0.7", marble_body()) == []
    assert MAKENGA in ids("/opensanctions/match/sanctions?topics=sanction", marble_body())
    assert ids("/opensanctions/match/un_sc?exclude_schema=Person", marble_body()) == []
    assert ids("/opensanctions/match/default?changed_since=2030-01-01", marble_body()) == []


@pytest.mark.parametrize(
    ("url", "body", "status", "detail"),
    [
        ("/opensanctions/match/default", {"queries": {}}, 400, "No queries provided."),
        (
            "/opensanctions/match/default",
            {"queries": {str(i): {"schema": "Person", "properties": {"name": ["A B"]}} for i in range(101)}},
            400,
            "Too many queries in one batch (limit: 100)",
        ),
        (
            "/opensanctions/match/default",
            {"queries": {"q": {"schema": "Address", "properties": {"full": ["x"]}}}},
            400,
            "not matchable",
        ),
        ("/opensanctions/match/default", {"queries": {"q": {"schema": "Dragon", "properties": {}}}}, 400, "unknown"),
        ("/opensanctions/match/default?algorithm=magic", marble_body(), 400, "Invalid algorithm: magic"),
        ("/opensanctions/match/nowhere", marble_body(), 404, "No such dataset."),
        (
            "/opensanctions/match/default",
            {**marble_body(), "params": {"exclude_entity_ids": [f"x{i}" for i in range(51)]}},
            400,
            "Too many excluded entity ids",
        ),
    ],
)
def test_bad_requests_answer_like_yente(
    client: TestClient, service: tuple[Settings, str], url: str, body: Any, status: int, detail: str
) -> None:
    response = client.post(url, json=body, headers=bearer(service[1]))
    assert response.status_code == status, response.text
    assert detail in response.json()["detail"]


def test_unknown_properties_are_ignored_and_every_algorithm_name_answers(
    client: TestClient, service: tuple[Settings, str]
) -> None:
    body = marble_body()
    next(iter(body["queries"].values()))["properties"]["favouriteColour"] = ["blue"]
    for algorithm in ("best", "logic-v2", "logic-v1", "name-based", "name-qualified", "regression-v1", "ofac"):
        response = client.post(
            f"/opensanctions/match/default?algorithm={algorithm}", json=body, headers=bearer(service[1])
        )
        assert response.status_code == 200
        assert next(iter(response.json()["responses"].values()))["results"][0]["id"] == MAKENGA


def test_only_the_screening_api_role_and_every_request_audited_without_names(
    client: TestClient, service: tuple[Settings, str], db_url: str
) -> None:
    _settings, token = service
    with transaction(db_url) as session:
        _p, analyst = access.create_user(session, "ana", Role.ANALYST)
    assert client.post(MARBLE_QUERY, json=marble_body(), headers=bearer(analyst)).status_code == 403
    anonymous = client.post(MARBLE_QUERY, json=marble_body())
    assert anonymous.status_code == 401 and set(anonymous.json()) == {"detail"}
    assert client.post(MARBLE_QUERY, json=marble_body(), headers=bearer("kyc_" + "0" * 40)).status_code == 401
    assert client.get("/v1/hits", headers=bearer(token)).status_code == 403
    query = next(iter(marble_body()["queries"].values()))
    body = {"queries": {f"q{i}": query for i in range(3)}}
    for headers, params in (
        (bearer(token), {}),
        ({"Authorization": f"ApiKey {token}"}, {}),
        ({}, {"api_key": token}),
    ):
        assert client.post(MARBLE_QUERY, json=body, headers=headers, params=params).status_code == 200
    with transaction(db_url) as session:
        rows = session.scalars(select(AuditLog).where(AuditLog.action == "opensanctions.match")).all()
        assert len(rows) == 3
        assert all(r.details["queries"] == 3 and r.purpose == "aml_cdd" and r.actor_name == "marble" for r in rows)
        assert all(r.details["matches"] >= 3 for r in rows)
        everything = json.dumps([[r.object_id, r.details] for r in session.scalars(select(AuditLog)).all()])
    assert "Makenga" not in everything and "1973-12-25" not in everything


def test_the_compatible_api_is_documented_next_to_ours(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    (tag,) = [t for t in spec["tags"] if t["name"] == "OpenSanctions-compatible (yente 5.x)"]
    assert "/opensanctions" in tag["description"] and "ApiKey" in tag["description"]
    assert client.get("/docs").status_code == 200
    assert "/v1/screenings" in paths
    assert {"/opensanctions/match/{dataset}", "/opensanctions/catalog", "/opensanctions/readyz"} <= set(paths)
    assert paths["/opensanctions/match/{dataset}"]["post"]["tags"] == ["OpenSanctions-compatible (yente 5.x)"]


def test_the_base_path_is_a_setting(service: tuple[Settings, str]) -> None:
    settings, token = service
    client = TestClient(create_app(settings.model_copy(update={"opensanctions_path": "/screening/yente"})))
    response = client.post("/screening/yente/match/default", json=marble_body(), headers=bearer(token))
    assert response.status_code == 200
    assert client.post("/opensanctions/match/default", json=marble_body(), headers=bearer(token)).status_code == 404


# ---- nomenklatura's YenteEnricher against a real uvicorn server ---------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def server(service: tuple[Settings, str]) -> Iterator[str]:
    """Our app served by uvicorn on 127.0.0.1 in a thread; yields the API URL a yente client is configured with."""
    port = _free_port()
    config = uvicorn.Config(create_app(service[0]), host="127.0.0.1", port=port, log_config=None, log_level="warning")
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not uv.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}/opensanctions/"
    while httpx.get(base + "readyz").status_code != 200:
        assert time.monotonic() < deadline + 60, "the index was not built"
        time.sleep(0.1)
    yield base
    uv.should_exit = True
    thread.join(timeout=10)


def test_nomenklatura_yente_enricher_matches_and_expands_a_un_listed_person(
    server: str, service: tuple[Settings, str], tmp_path: Path
) -> None:
    _settings, token = service
    dataset = Dataset.make({"name": "customers", "title": "Customers"})
    session = Session(get_engine(f"sqlite:///{tmp_path / 'nomenklatura.db'}"))
    cache = Cache(session, dataset, create=True)
    config: dict[str, Any] = {"api": server, "api_key": token, "cache_days": 0, "algorithm": "logic-v2"}
    enricher = YenteEnricher(dataset, cache, config)
    query = StatementEntity.from_data(
        dataset,
        {
            "id": "customer-1",
            "schema": "Person",
            "properties": {"name": ["Sultani Makenga"], "birthDate": ["1973-12-25"], "nationality": ["cd"]},
        },
    )
    matches = list(enricher.match(query))
    assert matches, "the enricher found nothing"
    best = matches[0]
    assert best.id == MAKENGA
    assert best.schema.name == "Person"
    assert best.first("sourceUrl") == server + f"entities/{MAKENGA}"

    expanded = list(enricher.expand(query, best))
    schemata = {e.schema.name for e in expanded}
    assert {"Person", "Sanction"} <= schemata
    sanction = next(e for e in expanded if e.schema.name == "Sanction")
    assert sanction.get("entity") == [MAKENGA]
    assert "United Nations Security Council" in sanction.get("authority")
    enricher.close()
    session.close()
