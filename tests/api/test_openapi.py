"""The OpenAPI document tells clients every answer they can get: each authenticated operation documents the error
answers (in the one error shape) besides its success, and query parameters documented as ``date-time`` take ISO
8601 text only."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from kyc.access import Role
from kyc.settings import Settings
from tests.support.service import make_token

ERRORS = {"400", "401", "403", "404", "409", "422", "503"}


def test_every_authenticated_operation_documents_its_error_answers() -> None:
    spec = create_app(Settings(database_url="sqlite://")).openapi()
    operations = [(path, method, op) for path, item in spec["paths"].items() for method, op in item.items()]
    assert len(operations) > 20
    for path, method, operation in operations:
        if not path.startswith("/v1"):
            continue
        missing = ERRORS - set(operation["responses"])
        assert not missing, f"{method.upper()} {path} does not document {sorted(missing)}"
    unavailable = spec["paths"]["/v1/screenings"]["post"]["responses"]["503"]
    assert "Retry-After" in unavailable["headers"]
    error = spec["paths"]["/v1/audit"]["get"]["responses"]["404"]["content"]["application/json"]["schema"]
    assert error["$ref"].endswith("/ErrorOut")


@pytest.mark.parametrize("value", ["8023509674908", "1e5", "yesterday", "2026-03-01T25:00:00Z"])
def test_an_audit_time_bound_that_is_not_iso_8601_is_refused(sqlite_url: str, value: str) -> None:
    token = make_token(sqlite_url, Role.AUDITOR)
    with TestClient(create_app(Settings(database_url=sqlite_url))) as client:
        response = client.get("/v1/audit", params={"until": value}, headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 422, response.text
        assert response.json()["errors"][0]["field"] == "until"
        fine = client.get(
            "/v1/audit",
            params={"since": "2026-03-01", "until": "2026-03-02T12:00:00Z"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert fine.status_code == 200, fine.text


def test_a_body_that_is_not_json_is_a_400_in_the_error_shape(sqlite_url: str) -> None:
    token = make_token(sqlite_url, Role.ANALYST)
    with TestClient(create_app(Settings(database_url=sqlite_url))) as client:
        response = client.put(
            "/v1/customers/x/risk",
            content=b"\xc3\x28",  # not UTF-8: the framework cannot even decode it
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        assert response.status_code == 400
        assert response.json() == {
            "status": 400,
            "code": "bad_request",
            "message": "There was an error parsing the body",
        }
        missing = client.get("/v1/no-such-thing", headers={"Authorization": f"Bearer {token}"})
        assert missing.status_code == 404 and missing.json()["code"] == "not_found"


def test_an_audit_cursor_beyond_the_id_column_is_refused_not_a_database_error(pg_url: str) -> None:
    token = make_token(pg_url, Role.AUDITOR)
    with TestClient(create_app(Settings(database_url=pg_url))) as client:
        headers = {"Authorization": f"Bearer {token}"}
        assert client.get("/v1/audit", params={"after_id": 2**62 - 1}, headers=headers).status_code == 422
        assert client.get("/v1/audit", params={"after_id": 2**31 - 1}, headers=headers).status_code == 200
