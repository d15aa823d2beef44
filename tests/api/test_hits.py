"""The review, customer and list-version endpoints over HTTP, on the real UN lists and a real fi_national import."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from api.app import create_app
from kyc import monitoring
from kyc.access import Role
from kyc.matcher_cache import matcher_cache
from kyc.settings import Settings
from kyc.storage.access import AuditLog, User
from kyc.storage.base import utcnow
from kyc.storage.db import transaction
from kyc.storage.lists import ListEntry
from kyc.storage.subjects import SubjectCorrection
from lists.fi_national import COLUMNS
from lists.ingest import ingest_files
from tests.support.env import list_file
from tests.support.review import CHANGED, REMOVED, UN_2025, UNRELATED, customer_of, hit_on, hits_by_party, submit
from tests.support.service import make_token
from workers.tasks import run_screening


@pytest.fixture
def case(settings: Settings) -> Iterator[tuple[TestClient, Settings, str]]:
    """An app on the test database and one screened customer with hits on HTi.006 and IQi.074."""
    matcher_cache.clear()
    ingest_files("un_sc", [list_file(UN_2025)], settings)
    job_id = submit(settings, "Esimerkki Kauppa Oy", "1572860-0", (CHANGED, REMOVED, UNRELATED[1]))
    run_screening(settings, job_id)
    with TestClient(create_app(settings)) as client:
        yield client, settings, job_id
    matcher_cache.clear()


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_queue_detail_and_four_eyes_confirmation_block_the_customer(case: tuple[TestClient, Settings, str]) -> None:
    client, settings, job_id = case
    analyst, approver = (
        make_token(settings.database_url, Role.ANALYST),
        make_token(settings.database_url, Role.APPROVER),
    )
    customer_id = customer_of(settings, job_id).id

    queue = client.get("/v1/hits", params={"status": "open", "source": "un_sc"}, headers=auth(analyst))
    assert queue.status_code == 200, queue.text
    assert {h["source_ref"] for h in queue.json()["hits"]} == {"HTi.006", "IQi.074"} and queue.json()["total"] == 2
    assert client.get("/v1/hits", params={"customer_id": "nobody"}, headers=auth(analyst)).json()["total"] == 0
    assert client.get("/v1/hits", params={"older_than_hours": 1}, headers=auth(analyst)).json()["total"] == 0
    assert client.get("/v1/hits", params={"min_score": 1.0}, headers=auth(analyst)).json()["hits"] == [
        h for h in queue.json()["hits"] if h["score"] >= 1.0
    ]
    assert client.get("/v1/hits", headers=auth(make_token(settings.database_url, Role.ONBOARDING))).status_code == 403
    assert client.get("/v1/hits").status_code == 401

    hit_id = hit_on(settings, job_id, "IQi.074").id
    detail = client.get(f"/v1/hits/{hit_id}", headers=auth(analyst)).json()
    assert detail["party"]["name"] == REMOVED.name and detail["party"]["birth_date"] == "1966"
    assert detail["entry"]["source_ref"] == "IQi.074" and "MUNIR AL QUBAYSI" in [
        n["value"] for n in detail["entry"]["names"]
    ]
    assert detail["explanation"]["name_score"] > 0 and detail["decisions"] == []
    assert detail["four_eyes_needed_to_dismiss"] is True

    url = f"/v1/hits/{hit_id}/decisions"
    assert client.post(url, json={"decision": "true_match"}, headers=auth(analyst)).status_code == 422
    assert client.post(url, json={"decision": "true_match", "reason": "  "}, headers=auth(analyst)).status_code == 422
    proposed = client.post(
        url, json={"decision": "true_match", "reason": "name, year, nationality"}, headers=auth(analyst)
    )
    assert proposed.status_code == 201 and proposed.json()["awaiting_second_decision"] is True
    assert client.post(url, json={"decision": "approve", "reason": "ok"}, headers=auth(analyst)).status_code == 403
    approved = client.post(url, json={"decision": "approve", "reason": "verified"}, headers=auth(approver))
    assert approved.status_code == 201, approved.text
    assert (approved.json()["status"], approved.json()["customer_blocked"]) == ("confirmed", True)
    assert client.post(url, json={"decision": "approve", "reason": "again"}, headers=auth(approver)).status_code == 409

    customer = client.get(f"/v1/customers/{customer_id}", headers=auth(analyst)).json()
    assert (customer["outcome"], customer["blocked"]) == ("match", True)
    assert [(n["source_ref"], n["status"]) for n in customer["notifications"]] == [("IQi.074", "pending")]
    history = client.get(url, headers=auth(approver)).json()
    assert [d["decision"] for d in history] == ["true_match", "approve"]


def test_a_promoted_proposer_cannot_approve_their_own_proposal(case: tuple[TestClient, Settings, str]) -> None:
    client, settings, job_id = case
    token = make_token(settings.database_url, Role.ANALYST, "officer-kim")
    url = f"/v1/hits/{hit_on(settings, job_id, 'HTi.006').id}/decisions"
    assert (
        client.post(url, json={"decision": "false_positive", "reason": "namesake"}, headers=auth(token)).status_code
        == 201
    )
    with transaction(settings.database_url) as session:
        session.execute(update(User).where(User.name == "officer-kim").values(role=Role.APPROVER.value))
    refused = client.post(url, json={"decision": "approve", "reason": "mine"}, headers=auth(token))
    assert refused.status_code == 403 and "four eyes" in refused.json()["message"]
    with transaction(settings.database_url) as session:
        assert session.execute(select(AuditLog.id).where(AuditLog.action == "hit.decision.refused")).first() is not None
    assert hit_on(settings, job_id, "HTi.006").status == "proposed"


def test_party_correction_reopens_a_dismissal_and_ending_the_relationship_stops_monitoring(
    case: tuple[TestClient, Settings, str],
) -> None:
    client, settings, job_id = case
    analyst, approver = (
        make_token(settings.database_url, Role.ANALYST),
        make_token(settings.database_url, Role.APPROVER),
    )
    hit = hit_on(settings, job_id, "HTi.006")
    url = f"/v1/hits/{hit.id}/decisions"
    client.post(url, json={"decision": "false_positive", "reason": "namesake"}, headers=auth(analyst))
    assert (
        client.post(url, json={"decision": "approve", "reason": "ok"}, headers=auth(approver)).json()["status"]
        == "dismissed"
    )
    customer_id = customer_of(settings, job_id).id
    party = f"/v1/customers/{customer_id}/parties/{hit.party_id}"

    assert (
        client.patch(
            party,
            json={"birth_date": "1970", "reason": "x"},
            headers=auth(make_token(settings.database_url, Role.ONBOARDING)),
        ).status_code
        == 403
    )
    why = "customer's passport copy"
    assert client.patch(party, json={"personal_id": "x", "reason": why}, headers=auth(analyst)).status_code == 422
    assert (
        client.patch(party, json={"birth_date": "1970-02-30", "reason": why}, headers=auth(analyst)).status_code == 422
    )
    assert client.patch(party, json={"birth_date": "1970"}, headers=auth(analyst)).status_code == 422  # no reason
    assert client.patch(party, json={"name": None, "reason": why}, headers=auth(analyst)).status_code == 422
    assert client.patch(party, json={"reason": why}, headers=auth(analyst)).status_code == 422  # nothing to correct
    patched = client.patch(party, json={"birth_date": "1970", "reason": why}, headers=auth(analyst))
    assert patched.status_code == 200, patched.text
    assert patched.json()["reopened"] == 1 and patched.json()["changed_fields"] == ["birth_date"]
    reopened = hit_on(settings, job_id, "HTi.006")
    assert reopened.status == "open" and "party's screened data changed" in (reopened.reopen_reason or "")
    with transaction(settings.database_url) as session:  # the earlier screening stays explainable
        kept = session.execute(select(SubjectCorrection).where(SubjectCorrection.party_id == hit.party_id)).scalars()
        analyst_id = session.execute(select(User.id).where(User.role == Role.ANALYST.value)).scalars().all()
        assert [(c.field, c.old_value, c.new_value, c.reason) for c in kept] == [("birth_date", None, "1970", why)]
        (correction,) = session.execute(select(SubjectCorrection)).scalars()
        assert correction.corrected_by in analyst_id

    risk = client.put(f"/v1/customers/{customer_id}/risk", json={"risk": "high"}, headers=auth(analyst)).json()
    assert risk["risk"] == "high"
    end = f"/v1/customers/{customer_id}/end-relationship"
    assert client.post(end, json={}, headers=auth(analyst)).status_code == 403
    ended = client.post(end, json={}, headers=auth(approver))
    assert ended.status_code == 200 and ended.json()["next_rescreen_at"] is None
    assert ended.json()["relationship_ended_at"] is not None
    assert client.patch(party, json={"birth_date": "1971", "reason": why}, headers=auth(analyst)).status_code == 409
    with transaction(settings.database_url) as session:
        assert customer_id not in monitoring.all_active_customers(session)


def _fi_csv(tmp_path: Path) -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";")
    writer.writerow(COLUMNS)
    row = {
        "schema": "Person",
        "name": UNRELATED[1].name,
        "aliases": "",
        "birth_date": "1980-05-17",
        "birth_place": "",
        "nationality": "Suomi",
        "identifiers": "",
        "decision_number": "KRP/1/2025",
        "decision_date": "2025-01-11",
        "virallinen_lehti": "",
        "notes": "",
    }
    writer.writerow([row[c] for c in COLUMNS])
    path = tmp_path / "kansallinen_lista.csv"
    path.write_bytes(b"\xef\xbb\xbf" + buffer.getvalue().encode())
    return path


def test_fi_national_import_is_approved_by_another_admin_then_delta_screened(
    case: tuple[TestClient, Settings, str], tmp_path: Path
) -> None:
    client, settings, job_id = case
    importer = make_token(settings.database_url, Role.ADMIN, "admin-anna")
    second = make_token(settings.database_url, Role.ADMIN, "admin-ben")
    pending = ingest_files("fi_national", [_fi_csv(tmp_path)], settings, user="admin-anna")
    assert pending.outcome == "pending"
    with transaction(settings.database_url) as session:
        assert pending.version_id not in monitoring.unscreened_versions(session)  # not active: not screened

    listed = client.get("/v1/lists/versions", params={"status": "pending"}, headers=auth(second)).json()
    assert [(v["id"], v["created_by"]) for v in listed] == [(pending.version_id, "admin-anna")]
    url = f"/v1/lists/versions/{pending.version_id}/approve"
    assert client.post(url, headers=auth(make_token(settings.database_url, Role.ANALYST))).status_code == 403
    assert client.post(url, headers=auth(importer)).status_code == 403
    approved = client.post(url, headers=auth(second))
    assert approved.status_code == 200 and approved.json()["status"] == "active"
    assert approved.json()["approved_by"] == "admin-ben"
    assert client.post(url, headers=auth(second)).status_code == 409

    with transaction(settings.database_url) as session:
        assert monitoring.unscreened_versions(session) == [1, pending.version_id]  # the monitoring tick's view
        stats = monitoring.delta_screen(session, pending.version_id, high_priority_score=0.9)
        assert stats is not None and stats.new_hits == 1
    raised = [h for h in hits_by_party(settings, job_id)[UNRELATED[1].name].values() if h.source == "fi_national"]
    assert [(h.origin, h.status, h.version_id) for h in raised] == [("delta", "open", pending.version_id)]
    with transaction(settings.database_url) as session:
        actions = session.execute(
            select(AuditLog.action).where(AuditLog.object_id == str(pending.version_id))
        ).scalars()
        assert "list_version.approve" in list(actions)
    customer = customer_of(settings, job_id)
    assert customer.outcome == "review" and customer.next_rescreen_at is not None
    assert customer.next_rescreen_at - (customer.last_rescreened_at or customer.next_rescreen_at) <= timedelta(days=180)


def test_an_approver_gives_the_second_decision_with_the_contract_verdicts(
    case: tuple[TestClient, Settings, str],
) -> None:
    """DESIGN.md's three verdicts suffice: the proposal's own verdict approves it, another verdict rejects it."""
    client, settings, job_id = case
    analyst = make_token(settings.database_url, Role.ANALYST)
    approver = make_token(settings.database_url, Role.APPROVER)
    confirm_url = f"/v1/hits/{hit_on(settings, job_id, 'IQi.074').id}/decisions"
    assert client.post(confirm_url, json={"decision": "true_match", "reason": "same person"}, headers=auth(analyst))
    second = client.post(confirm_url, json={"decision": "true_match", "reason": "agreed"}, headers=auth(approver))
    assert second.status_code == 201, second.text
    assert (second.json()["status"], second.json()["customer_blocked"]) == ("confirmed", True)
    assert [d["decision"] for d in client.get(confirm_url, headers=auth(approver)).json()] == ["true_match", "approve"]

    dismiss_url = f"/v1/hits/{hit_on(settings, job_id, 'HTi.006').id}/decisions"
    assert client.post(dismiss_url, json={"decision": "false_positive", "reason": "namesake"}, headers=auth(analyst))
    disagree = client.post(
        dismiss_url, json={"decision": "true_match", "reason": "DOB matches"}, headers=auth(approver)
    )
    assert disagree.status_code == 201 and disagree.json()["status"] != "dismissed"
    assert [d["decision"] for d in client.get(dismiss_url, headers=auth(approver)).json()] == [
        "false_positive",
        "reject",
    ]


@pytest.mark.parametrize(
    "params",
    [
        {"older_than_hours": "1e12"},
        {"older_than_hours": "inf"},
        {"newer_than_hours": "nan"},
        {"newer_than_hours": "87601"},
        {"min_score": "nan"},
        {"max_score": "inf"},
        {"offset": str(10**19)},
    ],
)
def test_out_of_range_queue_filters_are_422_not_500(
    case: tuple[TestClient, Settings, str], params: dict[str, str]
) -> None:
    client, settings, _job_id = case
    response = client.get("/v1/hits", params=params, headers=auth(make_token(settings.database_url, Role.ANALYST)))
    assert response.status_code == 422, response.text


def test_the_largest_age_filter_still_answers(case: tuple[TestClient, Settings, str]) -> None:
    client, settings, _job_id = case
    analyst = auth(make_token(settings.database_url, Role.ANALYST))
    assert client.get("/v1/hits", params={"older_than_hours": 87600}, headers=analyst).json()["total"] == 0
    assert client.get("/v1/hits", params={"newer_than_hours": 87600}, headers=analyst).json()["total"] == 2


def test_a_blocked_customer_cannot_be_ended_nor_backdated_over_http(case: tuple[TestClient, Settings, str]) -> None:
    """H1 as the reviewer reproduced it: after a confirmed true_match, end dated 2000-01-01 was 200."""
    client, settings, job_id = case
    analyst, approver = (
        make_token(settings.database_url, Role.ANALYST),
        make_token(settings.database_url, Role.APPROVER),
    )
    url = f"/v1/hits/{hit_on(settings, job_id, 'IQi.074').id}/decisions"
    client.post(url, json={"decision": "true_match", "reason": "same person"}, headers=auth(analyst))
    assert client.post(url, json={"decision": "approve", "reason": "verified"}, headers=auth(approver)).json()[
        "customer_blocked"
    ]
    customer_id = customer_of(settings, job_id).id
    end = f"/v1/customers/{customer_id}/end-relationship"

    backdated = client.post(end, json={"ended_on": "2000-01-01"}, headers=auth(approver))
    assert backdated.status_code == 422 and "last activity" in backdated.json()["message"]
    refused = client.post(end, json={}, headers=auth(approver))
    assert refused.status_code == 409 and "blocked" in refused.json()["message"]
    customer = client.get(f"/v1/customers/{customer_id}", headers=auth(approver)).json()
    assert customer["relationship_ended_at"] is None and customer["next_rescreen_at"] is not None
    with transaction(settings.database_url) as session:
        audited = session.execute(
            select(AuditLog.details).where(
                AuditLog.action == "customer.end_relationship.refused", AuditLog.object_id == customer_id
            )
        ).scalars()
        assert ["blocked" in (details or {}).get("reason", "") for details in audited] == [True]


def test_a_customer_with_a_pending_proposal_is_refused_until_it_is_decided(
    case: tuple[TestClient, Settings, str],
) -> None:
    client, settings, job_id = case
    analyst, approver = (
        make_token(settings.database_url, Role.ANALYST),
        make_token(settings.database_url, Role.APPROVER),
    )
    customer_id = customer_of(settings, job_id).id
    end = f"/v1/customers/{customer_id}/end-relationship"
    for ref in ("IQi.074", "HTi.006"):
        url = f"/v1/hits/{hit_on(settings, job_id, ref).id}/decisions"
        client.post(url, json={"decision": "false_positive", "reason": "namesake"}, headers=auth(analyst))
    refused = client.post(end, json={}, headers=auth(approver))
    assert refused.status_code == 409 and "2 proposed" in refused.json()["message"]
    for ref in ("IQi.074", "HTi.006"):
        url = f"/v1/hits/{hit_on(settings, job_id, ref).id}/decisions"
        client.post(url, json={"decision": "approve", "reason": "agreed"}, headers=auth(approver))
    future = (utcnow() + timedelta(days=2)).date().isoformat()
    assert client.post(end, json={"ended_on": future}, headers=auth(approver)).status_code == 422
    ended = client.post(end, json={"ended_on": utcnow().date().isoformat()}, headers=auth(approver))
    assert ended.status_code == 200, ended.text
    assert ended.json()["relationship_ended_at"] >= customer_of(settings, job_id).created_at.isoformat()[:10]
    assert client.post(end, json={}, headers=auth(approver)).status_code == 409  # already ended


def test_hit_detail_masks_the_listed_entrys_identity_codes(case: tuple[TestClient, Settings, str]) -> None:
    """Analysts saw a listed person's full identity code in ``entry.identifiers``; it is masked like a party's."""
    client, settings, job_id = case
    hit = hit_on(settings, job_id, "IQi.074")
    with transaction(settings.database_url) as session:
        entry = session.scalars(
            select(ListEntry).where(ListEntry.version_id == hit.version_id, ListEntry.source_ref == "IQi.074")
        ).one()
        data = dict(entry.data)
        data["identifiers"] = [
            *data.get("identifiers", []),
            {"type": "fi_hetu", "number": "131052-308T", "country": "FI"},
            {"type": "national identification number", "number": "19660101-1234"},
        ]
        data["remarks"] = "hetu 131052-308T"
        session.execute(update(ListEntry).where(ListEntry.id == entry.id).values(data=data))
    detail = client.get(f"/v1/hits/{hit.id}", headers=auth(make_token(settings.database_url, Role.ANALYST)))
    assert detail.status_code == 200
    numbers = {i["type"]: i["number"] for i in detail.json()["entry"]["identifiers"]}
    assert numbers["fi_hetu"] == "131052-****" and numbers["national identification number"] == "19660101-****"
    assert detail.json()["entry"]["remarks"] == "hetu 131052-****" and "308T" not in detail.text
