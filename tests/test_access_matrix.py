"""Every role (and no token) against every endpoint of the real app: least privilege, enforced end to end.

The endpoints are discovered from ``app.routes``: an endpoint added without a row here fails the test, and so does
a row whose endpoint disappeared. Allowed means "not 401/403" (the call may still be 2xx, 404, 409 or 422 on its
own merits); denied means exactly 403; no token means exactly 401. Open endpoints answer everyone.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import pytest
from cryptography.fernet import Fernet
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import select
from starlette.routing import Route

from api.app import create_app
from kyc import access, crypto
from kyc.access import Role
from kyc.settings import Settings, get_settings
from kyc.storage.db import transaction
from kyc.storage.screening_models import Party

OPEN = "open"
ALL = frozenset(Role)
ONB, ANA, APP, AUD, DPO, ADM = (
    Role.ONBOARDING,
    Role.ANALYST,
    Role.APPROVER,
    Role.AUDITOR,
    Role.DPO,
    Role.ADMIN,
)
COMPLIANCE = frozenset({ANA, APP, AUD})

# (method, path) -> roles allowed, or OPEN. Written out per endpoint on purpose: this is the policy under test.
MATRIX: dict[tuple[str, str], frozenset[Role] | str] = {
    ("GET", "/healthz"): OPEN,
    ("GET", "/openapi.json"): OPEN,
    ("GET", "/docs"): OPEN,
    ("GET", "/docs/oauth2-redirect"): OPEN,
    ("GET", "/redoc"): OPEN,
    ("POST", "/v1/screenings"): frozenset({ONB}),
    ("GET", "/v1/screenings/{job_id}"): frozenset({ONB}) | COMPLIANCE,
    ("GET", "/v1/screenings/{job_id}/hits"): COMPLIANCE,
    ("GET", "/v1/audit"): frozenset({AUD}),
    ("GET", "/v1/audit/verify"): frozenset({AUD}),
    ("GET", "/v1/admin/users"): frozenset({ADM}),
    ("POST", "/v1/admin/users"): frozenset({ADM}),
    ("POST", "/v1/admin/users/{name}/tokens"): frozenset({ADM}),
    ("POST", "/v1/admin/users/{name}/revoke"): frozenset({ADM}),
    ("POST", "/v1/subjects/export"): frozenset({DPO}),
    ("GET", "/v1/subjects/parties/{party_id}/corrections"): frozenset({DPO}),
    ("POST", "/v1/subjects/parties/{party_id}/corrections"): frozenset({DPO}),
    ("POST", "/v1/subjects/erasure"): frozenset({DPO}),
}

PERSONAL_ID = "170580-123L"
SCREENING = {
    "client_reference": "CRM-1042",
    "customer": {"name": "Esimerkki Oy", "business_id": "1234567-1", "country": "FI"},
    "persons": [
        {
            "role": "representative",
            "name": "Matti Meikäläinen",
            "birth_date": "1980-05-17",
            "nationality": "FI",
            "personal_id": PERSONAL_ID,
        }
    ],
}
BODIES: dict[tuple[str, str], Any] = {
    ("POST", "/v1/screenings"): SCREENING,
    ("POST", "/v1/admin/users"): {"name": "matrix-new", "role": "analyst"},
    ("POST", "/v1/subjects/export"): {"personal_id": PERSONAL_ID},
    ("POST", "/v1/subjects/parties/{party_id}/corrections"): {
        "field": "name",
        "value": "Matti Juhani Meikäläinen",
        "reason": "matrix test",
    },
    ("POST", "/v1/subjects/erasure"): {"personal_id": PERSONAL_ID},
}


def _walk(routes: Iterable[Any], prefix: str = "") -> Iterator[tuple[str, str]]:
    """(method, path) of every endpoint, descending into included routers."""
    for route in routes:
        if isinstance(route, APIRoute | Route):
            for method in sorted((route.methods or set()) - {"HEAD"}):
                yield method, prefix + route.path
        elif hasattr(route, "original_router"):  # FastAPI's included-router node
            context = getattr(route, "include_context", None)
            yield from _walk(route.original_router.routes, prefix + getattr(context, "prefix", ""))
        elif hasattr(route, "routes"):  # a mounted sub-application
            yield from _walk(route.routes, prefix + getattr(route, "path", ""))
        else:
            raise AssertionError(f"unknown route type {type(route).__name__}: extend _walk")


def endpoints(app: FastAPI) -> set[tuple[str, str]]:
    return set(_walk(app.routes))


@pytest.fixture(autouse=True)
def encryption_key(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("KYC_ENCRYPTION_KEY", Fernet.generate_key().decode())
    get_settings.cache_clear()
    crypto.get_cipher.cache_clear()
    yield
    get_settings.cache_clear()
    crypto.get_cipher.cache_clear()


def test_every_endpoint_has_a_matrix_row() -> None:
    found = endpoints(create_app(Settings()))
    assert found - set(MATRIX) == set(), "endpoints without an access-matrix row"
    assert set(MATRIX) - found == set(), "matrix rows for endpoints that no longer exist"


def test_every_role_against_every_endpoint(db_url: str) -> None:
    client = TestClient(create_app(Settings(database_url=db_url)))
    with transaction(db_url) as session:
        tokens = {role: access.create_user(session, f"matrix-{role.value}", role)[1] for role in Role}
        access.create_user(session, "matrix-target", Role.ANALYST)
    submitted = client.post(
        "/v1/screenings",
        json=SCREENING,
        headers={"Authorization": f"Bearer {tokens[ONB]}", "Idempotency-Key": "matrix-1"},
    )
    assert submitted.status_code == 202, submitted.text
    with transaction(db_url) as session:
        party_id = session.scalars(select(Party.id).where(Party.role == "representative")).one()
    ids = {"job_id": submitted.json()["id"], "party_id": party_id, "name": "matrix-target"}

    failures: list[str] = []
    for method, template in sorted(endpoints(client.app)):  # type: ignore[arg-type]
        expected = MATRIX[(method, template)]
        url = template.format(**ids)
        body = BODIES.get((method, template))
        callers: list[tuple[str, Role | None]] = [("no token", None), *((r.value, r) for r in Role)]
        for label, role in callers:
            headers = {"Idempotency-Key": "matrix-1"}
            if role is not None:
                headers["Authorization"] = f"Bearer {tokens[role]}"
            status = client.request(method, url, json=body, headers=headers).status_code
            if expected == OPEN:
                ok = status not in (401, 403)
            elif role is None:
                ok = status == 401
            elif role in expected:
                ok = status not in (401, 403)
            else:
                ok = status == 403
            if not ok:
                failures.append(f"{method} {template} as {label}: got {status}")
    assert not failures, "\n".join(failures)
