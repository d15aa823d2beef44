"""Only /healthz is open in production: the OpenAPI pages are opt-in there."""

from __future__ import annotations


def test_api_docs_are_off_in_production_unless_enabled() -> None:
    from fastapi.testclient import TestClient

    from api.app import create_app
    from kyc.settings import Settings

    production = TestClient(create_app(Settings(env="production", database_url="sqlite://")))
    assert production.get("/openapi.json").status_code == 404
    assert production.get("/docs").status_code == 404
    opted_in = TestClient(create_app(Settings(env="production", api_docs=True, database_url="sqlite://")))
    assert opted_in.get("/openapi.json").status_code == 200
    development = TestClient(create_app(Settings(database_url="sqlite://")))
    assert development.get("/docs").status_code == 200
