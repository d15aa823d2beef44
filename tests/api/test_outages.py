"""Outages and races as clients see them over real HTTP: a database that is away answers 503 with ``Retry-After``
(never a bare 500, never a dropped keep-alive connection), and one Idempotency-Key sent many times at once gives
one job and no server error."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from api.app import create_app
from kyc import access, tokens
from kyc.access import Role
from kyc.settings import Settings
from kyc.storage.db import transaction
from tests.support.live import free_port, live_server
from tests.support.service import business_id

pytestmark = pytest.mark.usefixtures("encryption_key")


def _body(business_id: str = "1572860-0", name: str = "Esimerkki Oy") -> dict[str, Any]:
    return {
        "customer": {"name": name, "business_id": business_id, "country": "FI"},
        "persons": [{"role": "representative", "name": "Matti Meikäläinen", "birth_date": "1980-05-17"}],
    }


def test_a_database_that_is_away_answers_503_with_retry_after_on_a_kept_alive_connection() -> None:
    down = f"postgresql://postgres@127.0.0.1:{free_port()}/kyc"  # nothing listens there: connection refused
    app = create_app(Settings(database_url=down), enqueue=lambda _job: None)
    headers = {"Authorization": f"Bearer {tokens.new_token()}"}  # well-formed: it has to be looked up
    with live_server(app) as base, httpx.Client(base_url=base, headers=headers, timeout=20) as client:
        for _ in range(2):  # the same connection serves the next request too
            submitted = client.post("/v1/screenings", json=_body(), headers={"Idempotency-Key": uuid.uuid4().hex})
            assert submitted.status_code == 503, submitted.text
            assert int(submitted.headers["Retry-After"]) > 0
            assert submitted.json()["code"] == "unavailable"
            read = client.get(f"/v1/screenings/{uuid.uuid4()}")
            assert read.status_code == 503 and "Retry-After" in read.headers
        health = client.get("/healthz")
        assert health.status_code == 503


def _token(db_url: str, name: str) -> str:
    with transaction(db_url) as session:
        _principal, token = access.create_user(session, name, Role.ONBOARDING)
    return token


@pytest.mark.slow
def test_one_key_sent_twenty_times_at_once_gives_one_job_and_no_server_error(pg_url: str) -> None:
    token = _token(pg_url, f"burst-{uuid.uuid4().hex[:6]}")
    app = create_app(Settings(database_url=pg_url), enqueue=lambda _job: None)
    headers = {"Authorization": f"Bearer {token}"}
    with live_server(app) as base, httpx.Client(base_url=base, headers=headers, timeout=60) as client:

        def send(key: str, body: dict[str, Any]) -> httpx.Response:
            return client.post("/v1/screenings", json=body, headers={"Idempotency-Key": key})

        keys = [uuid.uuid4().hex for _ in range(10)]
        with ThreadPoolExecutor(20) as pool:
            # ten keys, each sent twice at once, for new companies and for one company they share
            same = list(pool.map(lambda n: send(keys[n % 10], _body(business_id(2_000_000 + n % 10))), range(20)))
            shared = list(pool.map(lambda n: send(keys[n % 10] + "s", _body()), range(20)))
            # one key, two bodies
            twin = uuid.uuid4().hex
            mixed = list(pool.map(lambda n: send(twin, _body(name=f"Toinen {n % 2} Oy")), range(20)))
    for responses in (same, shared):
        assert sorted({r.status_code for r in responses}) in ([200, 202], [202]), [r.text for r in responses]
        assert sum(r.status_code == 202 for r in responses) == 10
        assert len({r.json()["id"] for r in responses}) == 10
    assert {r.status_code for r in mixed} <= {200, 202, 409}, [r.text for r in mixed]
    assert sum(r.status_code == 202 for r in mixed) == 1
