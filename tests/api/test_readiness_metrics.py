"""``/readyz`` (database, broker, this process's index) and ``/metrics`` (Prometheus text, the scraper's own token)
against the real databases and the real Redis; a broker or database that is away makes the replica unready."""

from __future__ import annotations

import math
import time
import uuid
from typing import Any

import pytest
from celery import Celery
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from api.app import create_app
from kyc import checkpoints
from kyc.access import Role
from kyc.settings import Settings
from kyc.storage.db import transaction
from lists.ingest import ingest_files
from tests.support.env import REDIS_URL, list_file
from tests.support.live import free_port
from tests.support.service import UN_2026, business_id, make_token
from workers.enqueue import BrokerProbe
from workers.tasks import run_screening

pytestmark = pytest.mark.usefixtures("encryption_key")

METRICS_TOKEN = "metrics-" + uuid.uuid4().hex


def _probe(url: str) -> BrokerProbe:
    app = Celery("readiness-test", broker=url, set_as_current=False)
    app.conf.task_default_queue = f"kyc-readiness-{uuid.uuid4().hex[:8]}"
    return BrokerProbe(app, timeout=0.5)


def _ready(client: TestClient, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        response = client.get("/readyz")
        if response.status_code == 200 or time.monotonic() > deadline:
            return {"code": response.status_code, **response.json(), "headers": response.headers}
        assert response.status_code == 503 and response.headers["Retry-After"]
        assert response.json()["index"] in ("building", "ok"), response.json()
        time.sleep(0.1)


def test_ready_once_database_broker_and_index_are(db_url: str) -> None:
    app = create_app(Settings(database_url=db_url), broker=_probe(REDIS_URL))
    with TestClient(app) as client:
        ready = _ready(client)
    assert ready["code"] == 200, ready
    assert (ready["database"], ready["broker"], ready["index"]) == ("ok", "ok", "ok")


def test_a_broker_that_is_away_makes_the_replica_unready(db_url: str) -> None:
    app = create_app(Settings(database_url=db_url), broker=_probe(f"redis://127.0.0.1:{free_port()}/0"))
    with TestClient(app) as client:
        response = client.get("/readyz")
    assert response.status_code == 503 and int(response.headers["Retry-After"]) > 0
    assert response.json()["broker"] == "unreachable"


def test_a_database_that_is_away_makes_the_replica_unready() -> None:
    app = create_app(Settings(database_url=f"postgresql://postgres@127.0.0.1:{free_port()}/kyc"))
    with TestClient(app) as client:
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["database"] == "unreachable" and response.json()["broker"] == "embedded"


def _metrics(client: TestClient) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    response = client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    found: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            found.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return found


@pytest.mark.slow
def test_metrics_report_jobs_queue_latency_lists_deliveries_and_checkpoint_age(db_url: str) -> None:
    settings = Settings(database_url=db_url, metrics_token=METRICS_TOKEN)
    ingest_files("un_sc", [list_file(UN_2026)], settings)
    onboarding = make_token(db_url, Role.ONBOARDING)
    app = create_app(settings, broker=_probe(REDIS_URL))
    with TestClient(app) as client:
        ids = []
        for n in range(3):
            submitted = client.post(
                "/v1/screenings",
                json={
                    "customer": {"name": f"Mittari {n} Oy", "business_id": business_id(4_000_000 + n), "country": "FI"}
                },
                headers={"Authorization": f"Bearer {onboarding}", "Idempotency-Key": uuid.uuid4().hex},
            )
            assert submitted.status_code == 202, submitted.text
            ids.append(submitted.json()["id"])
        before = _metrics(client)
        assert before["kyc_jobs"][(("status", "queued"),)] == 3
        assert before["kyc_queue_depth"][()] == 3
        assert before["kyc_queue_oldest_age_seconds"][()] > 0
        assert before["kyc_broker_queue_depth"][()] == 0
        assert before["kyc_screening_latency_seconds_count"][()] == 0
        assert before["kyc_list_age_since_fetch_seconds"][(("source", "un_sc"),)] >= 0
        assert before["kyc_list_age_since_publication_seconds"][(("source", "un_sc"),)] > 86400  # a 2026-02 file
        assert before["kyc_webhook_deliveries"][(("result", "delivered"),)] == 0
        assert math.isnan(before["kyc_audit_checkpoint_age_seconds"][()])

        for job_id in ids[:2]:
            assert run_screening(settings, job_id)["status"] == "completed"
        with transaction(db_url) as session:
            assert checkpoints.take(session, settings) is not None
        after = _metrics(client)
        assert after["kyc_jobs"][(("status", "completed"),)] == 2
        assert after["kyc_queue_depth"][()] == 1
        assert after["kyc_screening_latency_seconds_count"][()] == 2
        assert after["kyc_screening_latency_seconds_bucket"][(("le", "+Inf"),)] == 2
        assert 0 <= after["kyc_audit_checkpoint_age_seconds"][()] < 60
        again = _metrics(client)
        assert again["kyc_screening_latency_seconds_count"][()] == 2  # each job counted once


def test_metrics_take_the_metrics_token_only(sqlite_url: str) -> None:
    user = make_token(sqlite_url, Role.ADMIN)
    for configured in (None, METRICS_TOKEN):
        app = create_app(Settings(database_url=sqlite_url, metrics_token=configured))
        with TestClient(app) as client:
            assert client.get("/metrics").status_code == 401
            assert client.get("/metrics", headers={"Authorization": f"Bearer {user}"}).status_code == 403
            wrong = client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}x"})
            assert wrong.status_code == 403
            right = client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
            assert right.status_code == (200 if configured else 403)
