"""Authority notifications and lifting a block over HTTP: real UN hits, two officers, every step audited.

A confirmed sanctions match blocks the customer and raises a pending notification; such a customer can be neither
ended nor purged. Here the way out: the notification is recorded as sent (who, when, reference), then a block lift
asked by one officer and approved by another approver — on the ground that the confirmation was wrong (the hit is
overturned) or that the entry was delisted (monitoring delists it when the UN removes IQi.074).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.app import create_app
from kyc import monitoring, retention
from kyc.access import Role
from kyc.matcher_cache import matcher_cache
from kyc.retention import PurgeResult, purge_expired
from kyc.settings import Settings
from kyc.storage.access import AuditLog
from kyc.storage.base import utcnow
from kyc.storage.db import transaction
from kyc.storage.jobs import Customer
from lists.ingest import ingest_files
from tests.support.env import list_file
from tests.support.review import REMOVED, UN_2025, UN_2026, customer_of, hit_on, submit
from tests.support.service import make_token
from workers.tasks import run_screening


@pytest.fixture
def blocked(settings: Settings) -> Iterator[tuple[TestClient, Settings, str, str, dict[str, str]]]:
    """A customer whose representative (IQi.074) two officers confirmed: blocked, notification pending."""
    matcher_cache.clear()
    ingest_files("un_sc", [list_file(UN_2025)], settings)
    job_id = submit(settings, "Jäädytetty Oy", "1572860-0", (REMOVED,))
    run_screening(settings, job_id)
    tokens = {
        "analyst": make_token(settings.database_url, Role.ANALYST),
        "approver": make_token(settings.database_url, Role.APPROVER),
        "approver2": make_token(settings.database_url, Role.APPROVER),
        "auditor": make_token(settings.database_url, Role.AUDITOR),
        "onboarding": make_token(settings.database_url, Role.ONBOARDING),
    }
    hit_id = hit_on(settings, job_id, "IQi.074").id
    with TestClient(create_app(settings)) as client:
        url = f"/v1/hits/{hit_id}/decisions"
        proposed = client.post(url, json={"decision": "true_match", "reason": "same"}, headers=auth(tokens["analyst"]))
        assert proposed.status_code == 201, proposed.text
        approved = client.post(url, json={"decision": "approve", "reason": "yes"}, headers=auth(tokens["approver"]))
        assert approved.status_code == 201 and approved.json()["customer_blocked"] is True
        yield client, settings, job_id, customer_of(settings, job_id).id, tokens
    matcher_cache.clear()


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def actions(settings: Settings, object_id: str) -> list[str]:
    with transaction(settings.database_url) as session:
        return list(
            session.execute(select(AuditLog.action).where(AuditLog.object_id == object_id).order_by(AuditLog.id))
            .scalars()
            .all()
        )


def test_notification_sent_then_two_officers_lift_a_block_confirmed_in_error(
    blocked: tuple[TestClient, Settings, str, str, dict[str, str]],
) -> None:
    client, settings, job_id, customer_id, tokens = blocked
    analyst, approver, approver2 = auth(tokens["analyst"]), auth(tokens["approver"]), auth(tokens["approver2"])
    end = f"/v1/customers/{customer_id}/end-relationship"
    assert client.post(end, json={}, headers=approver).status_code == 409  # blocked: cannot end

    pending = client.get("/v1/notifications", headers=auth(tokens["auditor"]))
    assert pending.status_code == 200
    [note] = pending.json()["notifications"]
    assert (note["customer_id"], note["source_ref"], note["status"]) == (customer_id, "IQi.074", "pending")
    assert client.get("/v1/notifications", headers=auth(tokens["onboarding"])).status_code == 403
    assert client.get("/v1/notifications", params={"status": "sent"}, headers=analyst).json()["notifications"] == []

    lifts = f"/v1/customers/{customer_id}/block-lifts"
    lift = client.post(
        lifts, json={"ground": "confirmed_in_error", "reason": "birth year differs on the passport"}, headers=analyst
    )
    assert lift.status_code == 201, lift.text
    assert (lift.json()["status"], lift.json()["customer_blocked"]) == ("requested", True)
    again = client.post(lifts, json={"ground": "confirmed_in_error", "reason": "again"}, headers=approver)
    assert again.status_code == 409  # one open request at a time
    decision = f"{lifts}/{lift.json()['id']}/decision"
    assert client.post(decision, json={"decision": "approve", "reason": "ok"}, headers=analyst).status_code == 403
    early = client.post(decision, json={"decision": "approve", "reason": "agreed"}, headers=approver)
    assert early.status_code == 409 and "pending" in early.json()["message"]  # report first, then lift

    sent = f"/v1/notifications/{note['id']}/sent"
    future = (utcnow() + timedelta(days=1)).isoformat()
    assert client.post(sent, json={"reference": "UO-1", "sent_at": future}, headers=analyst).status_code == 422
    assert client.post(sent, json={"reference": " "}, headers=analyst).status_code == 422
    assert client.post(sent, json={"reference": "UO-1"}, headers=auth(tokens["auditor"])).status_code == 403
    recorded = client.post(sent, json={"reference": "UO/2026/1234"}, headers=analyst)
    assert recorded.status_code == 200, recorded.text
    body = recorded.json()
    assert (body["status"], body["reference"]) == ("sent", "UO/2026/1234")
    assert body["sent_by_name"] and body["sent_by"] and body["sent_at"] and body["sent_recorded_at"]
    assert client.post(sent, json={"reference": "UO-2"}, headers=analyst).status_code == 409
    assert client.get("/v1/notifications", headers=analyst).json()["notifications"] == []

    lifted = client.post(decision, json={"decision": "approve", "reason": "checked the passport"}, headers=approver)
    assert lifted.status_code == 200, lifted.text
    assert (lifted.json()["status"], lifted.json()["customer_blocked"]) == ("approved", False)
    assert client.post(decision, json={"decision": "reject", "reason": "late"}, headers=approver2).status_code == 409
    history = client.get(f"/v1/hits/{hit_on(settings, job_id, 'IQi.074').id}/decisions", headers=analyst).json()
    assert [(d["decision"], d["status_after"]) for d in history][-1] == ("overturn", "dismissed")
    customer = client.get(f"/v1/customers/{customer_id}", headers=analyst).json()
    assert (customer["blocked"], customer["outcome"]) == (False, "clear")
    listed = client.get(lifts, headers=auth(tokens["auditor"])).json()
    assert [(item["status"], item["decision_reason"]) for item in listed] == [("approved", "checked the passport")]

    assert client.post(end, json={}, headers=approver).status_code == 200  # now the relationship can end
    with transaction(settings.database_url) as session:  # and once retention has run out, the case is purged
        retention.end_relationship(session, customer_id, datetime(2000, 1, 1, tzinfo=UTC), settings.retention_years)
    with transaction(settings.database_url) as session:
        assert purge_expired(session) == PurgeResult(1, 1)
        assert session.get(Customer, customer_id) is None
    trail = actions(settings, customer_id)
    for action in ("customer.block", "customer.block.lift_requested", "customer.block.lift", "retention.delete"):
        assert action in trail, action
    assert "notification.sent" in actions(settings, str(note["id"]))


def test_the_requester_cannot_approve_and_a_listed_entry_is_no_ground(
    blocked: tuple[TestClient, Settings, str, str, dict[str, str]],
) -> None:
    client, settings, job_id, customer_id, tokens = blocked
    approver, approver2 = auth(tokens["approver"]), auth(tokens["approver2"])
    lifts = f"/v1/customers/{customer_id}/block-lifts"
    still_listed = client.post(lifts, json={"ground": "delisted", "reason": "maybe delisted"}, headers=approver)
    assert still_listed.status_code == 409 and "still listed" in still_listed.json()["message"]

    # The UN list of 2026-02-27 removes IQi.074: monitoring delists the confirmed hit.
    newer = ingest_files("un_sc", [list_file(UN_2026)], settings)
    assert newer is not None
    with transaction(settings.database_url) as session:
        monitoring.delta_screen(session, newer.version_id, high_priority_score=0.9)
    assert hit_on(settings, job_id, "IQi.074").status == "delisted"
    with transaction(settings.database_url) as session:
        customer = session.get(Customer, customer_id)
        assert customer is not None and customer.blocked_at is not None  # delisting alone does not unfreeze

    asked = client.post(lifts, json={"ground": "delisted", "reason": "UN removed IQi.074"}, headers=approver)
    assert asked.status_code == 201, asked.text
    decision = f"{lifts}/{asked.json()['id']}/decision"
    own = client.post(decision, json={"decision": "approve", "reason": "mine"}, headers=approver)
    assert own.status_code == 403 and "four eyes" in own.json()["message"]
    assert "customer.block.lift_refused" in actions(settings, customer_id)
    rejected = client.post(decision, json={"decision": "reject", "reason": "wait for the report"}, headers=approver2)
    assert rejected.status_code == 200 and rejected.json()["customer_blocked"] is True

    [note] = client.get("/v1/notifications", headers=approver).json()["notifications"]
    sent_at = note["created_at"]
    assert (
        client.post(
            f"/v1/notifications/{note['id']}/sent", json={"reference": "UO-9", "sent_at": sent_at}, headers=approver2
        ).status_code
        == 200
    )
    asked = client.post(lifts, json={"ground": "delisted", "reason": "UN removed IQi.074"}, headers=approver)
    approved = client.post(
        f"{lifts}/{asked.json()['id']}/decision", json={"decision": "approve", "reason": "checked"}, headers=approver2
    )
    assert approved.status_code == 200 and approved.json()["customer_blocked"] is False
    assert hit_on(settings, job_id, "IQi.074").status == "delisted"  # nothing overturned: the entry simply left
    assert client.post(f"/v1/customers/{customer_id}/end-relationship", json={}, headers=approver).status_code == 200
