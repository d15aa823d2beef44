"""``/v1/cases`` end to end: FastAPI + a real Celery worker on Redis + SQLite and PostgreSQL + the real UN list.

The customer's four beneficial owners are the four people the UN list of 2026-02-27 designates as SDi.007..010:
four sanctions cases, worked, filtered, decided in bulk with four eyes, and the outcome change delivered to the
onboarding system's webhook within seconds of the second decision.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from kyc.access import Role
from kyc.settings import Settings
from lists.ingest import ingest_files
from tests.support import service as service_support
from tests.support.env import list_file
from tests.support.review import ADDED, UN_2026, customer_of, submit
from tests.support.service import make_token, wait_for, wait_until
from tests.support.webhooks import receiver
from workers.tasks import notify_outcome_task, screen_job_task

pytestmark = pytest.mark.slow
celery_worker = service_support.celery_worker
service = service_support.service


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def client(service: Settings) -> Iterator[TestClient]:
    ingest_files("un_sc", [list_file(UN_2026)], service)
    app = create_app(service)
    app.state.on_outcome_changed = notify_outcome_task.delay  # what ``kyc serve`` wires
    with TestClient(app) as test_client:
        yield test_client


def test_case_workflow_bulk_four_eyes_and_webhook_within_seconds(client: TestClient, service: Settings) -> None:
    analyst_name = f"ana-{time.monotonic_ns()}"
    analyst = make_token(service.database_url, Role.ANALYST, analyst_name)
    colleague_name = f"ana2-{time.monotonic_ns()}"
    make_token(service.database_url, Role.ANALYST, colleague_name)
    approver = make_token(service.database_url, Role.APPROVER)
    auditor = make_token(service.database_url, Role.AUDITOR)
    with receiver(client="onboarding-test") as hook:
        job_id = submit(service, "Khartoum Gold Oy", "0737546-2", tuple(ADDED.values()), callback_url=hook.url)
        screen_job_task.delay(job_id)
        assert wait_for(service.database_url, job_id) == "completed"
        wait_until(lambda: len(hook.received) == 1, what="the completion callback")
        assert hook.received[0]["body"]["outcome"] == "review"
        customer_id = customer_of(service, job_id).id

        queue = client.get("/v1/cases", params={"customer_id": customer_id}, headers=auth(analyst)).json()
        assert queue["total"] == 4 and {c["status"] for c in queue["cases"]} == {"open"}
        assert all(c["sources"] == ["un_sc"] and c["hits"] == 1 and c["kind"] == "sanction" for c in queue["cases"])
        page = client.get(
            "/v1/cases", params={"customer_id": customer_id, "limit": 2, "offset": 2}, headers=auth(auditor)
        )
        assert page.status_code == 200 and len(page.json()["cases"]) == 2 and page.json()["total"] == 4
        assert client.get("/v1/cases", params={"source": "eu_fsf"}, headers=auth(analyst)).json()["total"] == 0
        assert client.get("/v1/cases", params={"overdue": "true"}, headers=auth(analyst)).json()["total"] == 0
        first = queue["cases"][0]["id"]

        claimed = client.post(f"/v1/cases/{first}/assign", json={}, headers=auth(analyst))
        assert claimed.status_code == 200 and claimed.json()["assignee"] == analyst_name
        assert claimed.json()["status"] == "in_review"
        mine = client.get("/v1/cases", params={"assignee": "me"}, headers=auth(analyst)).json()
        assert [c["id"] for c in mine["cases"]] == [first]
        assert client.get("/v1/cases", params={"assignee": "unassigned"}, headers=auth(analyst)).json()["total"] == 3
        handed = client.post(f"/v1/cases/{first}/assign", json={"assignee": colleague_name}, headers=auth(analyst))
        assert handed.json()["assignee"] == colleague_name
        unknown = client.post(f"/v1/cases/{first}/assign", json={"assignee": "nobody-here"}, headers=auth(analyst))
        assert unknown.status_code == 422
        comment = client.post(f"/v1/cases/{first}/comments", json={"text": "asked for ID copy"}, headers=auth(analyst))
        assert comment.status_code == 201
        detail = client.get(f"/v1/cases/{first}", headers=auth(auditor)).json()
        assert detail["party"]["role"] == "beneficial_owner" and detail["comments"][0]["text"] == "asked for ID copy"
        assert detail["subject"]["listings"][0]["source"] == "un_sc" and detail["hits"][0]["explanation"]
        assert [h["action"] for h in detail["history"] if h["kind"] == "event"] == ["opened", "assigned", "assigned"]

        ids = [c["id"] for c in queue["cases"]]
        proposed = client.post(
            "/v1/cases/decisions",
            json={"case_ids": ids, "decision": "false_positive", "reason": "Finnish owners, other birth dates"},
            headers=auth(analyst),
        ).json()
        assert proposed["decided"] == 4 and {r["result"]["status"] for r in proposed["results"]} == {"proposed"}
        refused = client.post(
            f"/v1/cases/{first}/decisions", json={"decision": "approve", "reason": "x"}, headers=auth(analyst)
        )
        assert refused.status_code == 403
        assert client.get(f"/v1/screenings/{job_id}", headers=auth(analyst)).json()["outcome"] == "review"

        half: Any = client.post(
            "/v1/cases/decisions",
            json={"case_ids": [*ids[:3], "no-such-case"], "decision": "false_positive", "reason": "agreed"},
            headers=auth(approver),
        ).json()
        assert half["decided"] == 3 and [r["ok"] for r in half["results"]] == [True, True, True, False]
        assert client.get(f"/v1/screenings/{job_id}", headers=auth(analyst)).json()["outcome"] == "review"
        last = client.post(
            f"/v1/cases/{ids[3]}/decisions", json={"decision": "false_positive", "reason": "ok"}, headers=auth(approver)
        )
        decided_at = time.monotonic()
        assert (
            last.status_code == 201 and last.json()["status"] == "closed" and last.json()["verdict"] == "false_positive"
        )
        wait_until(
            lambda: any(r["body"]["outcome"] == "clear" for r in hook.received), timeout=5, what="the outcome callback"
        )
        assert time.monotonic() - decided_at < 5
    closed = client.get("/v1/cases", params={"customer_id": customer_id, "status": "closed"}, headers=auth(analyst))
    assert closed.json()["total"] == 4
    hits = client.get("/v1/hits", params={"customer_id": customer_id}, headers=auth(analyst))  # still served
    assert hits.status_code == 200 and {h["status"] for h in hits.json()["hits"]} == {"dismissed"}


def test_overdue_follows_the_sla_of_the_priority(service: Settings) -> None:
    ingest_files("un_sc", [list_file(UN_2026)], service)
    job_id = submit(service, "Late Oy", "0737546-2", (ADDED["SDi.007"],))
    screen_job_task.delay(job_id)
    assert wait_for(service.database_url, job_id) == "completed"
    analyst = make_token(service.database_url, Role.ANALYST)
    strict = service.model_copy(update={"case_sla_hours": {"high": 0.0, "normal": 0.0}})
    with TestClient(create_app(strict)) as client:
        overdue = client.get("/v1/cases", params={"overdue": "true"}, headers=auth(analyst)).json()
        on_time = client.get("/v1/cases", params={"overdue": "false"}, headers=auth(analyst)).json()
    assert overdue["total"] == 1 and overdue["cases"][0]["overdue"] and on_time["total"] == 0
