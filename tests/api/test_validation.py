"""The request boundary on SQLite and PostgreSQL: NUL, control and bidi characters in free text are a 422 naming the
field (PostgreSQL text cannot even hold NUL: it was a 500), so are control characters in a URL; ids beyond 64 bits
are a 422 (an ``OverflowError`` 500 before); and a 422 never echoes the rejected value or an unknown field's name.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.app import create_app
from kyc import access
from kyc.access import Role
from kyc.settings import Settings
from kyc.storage.db import transaction
from kyc.storage.hits import Hit
from kyc.storage.jobs import Party, ScreeningJob

pytestmark = pytest.mark.usefixtures("encryption_key")

HETU = "170580-123L"
HUGE = 2**64
NUL, RLO = "\x00", "\u202e"


def _screening(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "client_reference": "CRM-1042",
        "customer": {"name": "Esimerkki Oy", "business_id": "1572860-0", "country": "FI"},
        "persons": [{"role": "representative", "name": "Matti Meikäläinen", "personal_id": HETU}],
    }
    body.update(changes)
    return body


@pytest.fixture
def world(db_url: str) -> dict[str, Any]:
    client = TestClient(create_app(Settings(database_url=db_url)))
    with transaction(db_url) as session:
        tokens = {role: access.create_user(session, f"v-{role.value}", role)[1] for role in Role}
    submitted = client.post(
        "/v1/screenings", json=_screening(), headers={**_auth(tokens[Role.ONBOARDING]), "Idempotency-Key": "v-1"}
    )
    assert submitted.status_code == 202, submitted.text
    with transaction(db_url) as session:
        party = session.scalars(select(Party).where(Party.role == "representative")).one()
        job = session.get(ScreeningJob, party.job_id)
        assert job is not None
        hit = Hit(
            job_id=job.id,
            party_id=party.id,
            position=0,
            source="un_sc",
            source_ref="QDi.999",
            version_id=None,
            schema="Person",
            score=0.85,
            matched_name="Matti Meikalainen",
            query_name=party.name,
            explanation={"name": 0.85},
            kind="pep",
            status="open",
            engine_version="test",
            config_hash="0" * 64,
        )
        session.add(hit)
        session.flush()
        ids = {"customer": job.customer_id, "party": party.id, "hit": hit.id}
    return {"client": client, "tokens": tokens, **ids}


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _refused(response: Any, field: str) -> None:
    assert response.status_code == 422, response.text
    body = response.json()
    assert field in [e["field"] for e in body["errors"]], body
    assert "control or invisible format characters" in body["message"] or "control characters" in body["message"]


@pytest.mark.parametrize("bad", [NUL, RLO, "\x1b[31m", "\u2028"])
def test_screening_free_text_refuses_control_and_bidi_characters(world: dict[str, Any], bad: str) -> None:
    client, onboarding = world["client"], _auth(world["tokens"][Role.ONBOARDING])
    reference = client.post(
        "/v1/screenings",
        json=_screening(client_reference=f"CRM{bad}1043"),
        headers={**onboarding, "Idempotency-Key": f"ref-{ord(bad[0])}"},
    )
    _refused(reference, "client_reference")
    foreign = {"name": "Beispiel GmbH", "registration": f"HRB{bad}12345", "country": "DE"}
    registration = client.post(
        "/v1/screenings", json=_screening(customer=foreign), headers={**onboarding, "Idempotency-Key": "reg"}
    )
    _refused(registration, "customer.registration")


def test_names_lose_invisible_characters_and_a_name_without_a_letter_is_refused(
    db_url: str, world: dict[str, Any]
) -> None:
    client, onboarding = world["client"], _auth(world["tokens"][Role.ONBOARDING])
    analyst = _auth(world["tokens"][Role.ANALYST])
    correction = client.patch(
        f"/v1/customers/{world['customer']}/parties/{world['party']}",
        json={"name": "\u200b\u200b\u200b", "reason": "passport"},
        headers=analyst,
    )
    assert correction.status_code == 422, correction.text  # an officer's correction too
    hidden = {"role": "responsible_person", "name": f"{RLO}ilA naarmE\u202c"}
    joined = {"role": "beneficial_owner", "name": "Em\u200braan\u2066 Ali\u2069\ufeff", "ownership": 0.2}
    accepted = client.post(
        "/v1/screenings",
        json=_screening(persons=[hidden, joined], customer={**_screening()["customer"], "name": "Esi\u200dmerkki Oy"}),
        headers={**onboarding, "Idempotency-Key": "invisible"},
    )
    assert accepted.status_code == 202, accepted.text
    with transaction(db_url) as session:
        job = session.get(ScreeningJob, accepted.json()["id"])
        assert job is not None
        names = sorted(p.name for p in job.parties)
    assert names == ["Emraan Ali", "Esimerkki Oy", "ilA naarmE"]  # stored and screened as they read
    for number, name in enumerate(["\u200b\u200b\u200b", "\u202e\u202c", "12345", "- . -"]):
        person = client.post(
            "/v1/screenings",
            json=_screening(persons=[{"role": "representative", "name": name}]),
            headers={**onboarding, "Idempotency-Key": f"no-letter-{number}"},
        )
        assert person.status_code == 422, person.text
        assert "persons.0.name" in [e["field"] for e in person.json()["errors"]]
    customer = client.post(
        "/v1/screenings",
        json=_screening(customer={**_screening()["customer"], "name": "\u200b\u200c"}),
        headers={**onboarding, "Idempotency-Key": "no-letter-customer"},
    )
    assert customer.status_code == 422 and "customer.name" in [e["field"] for e in customer.json()["errors"]]


def test_decision_reason_refuses_nul_but_keeps_line_breaks(world: dict[str, Any]) -> None:
    client, analyst = world["client"], _auth(world["tokens"][Role.ANALYST])
    url = f"/v1/hits/{world['hit']}/decisions"
    for bad in (NUL, RLO):
        _refused(client.post(url, json={"decision": "escalate", "reason": f"see{bad} file"}, headers=analyst), "reason")
    ok = client.post(url, json={"decision": "escalate", "reason": "line one\nline two\tindented"}, headers=analyst)
    assert ok.status_code == 201, ok.text


def test_correction_reasons_and_values_refuse_nul(world: dict[str, Any]) -> None:
    client = world["client"]
    patch = client.patch(
        f"/v1/customers/{world['customer']}/parties/{world['party']}",
        json={"birth_date": "1980-05-17", "reason": f"passport{NUL}"},
        headers=_auth(world["tokens"][Role.ANALYST]),
    )
    _refused(patch, "reason")
    dpo = _auth(world["tokens"][Role.DPO])
    url = f"/v1/subjects/parties/{world['party']}/corrections"
    _refused(client.post(url, json={"field": "name", "value": "M", "reason": f"x{NUL}yz"}, headers=dpo), "reason")
    bad_value = {"field": "name", "value": f"M{NUL}", "reason": "certificate"}
    _refused(client.post(url, json=bad_value, headers=dpo), "value")
    export = client.post("/v1/subjects/export", json={"party_id": world["party"], "reference": f"D{NUL}"}, headers=dpo)
    _refused(export, "reference")
    for field in ("party_id", "personal_id"):  # a lookup key with NUL never reaches PostgreSQL (it was a 503)
        for path in ("/v1/subjects/export", "/v1/subjects/erasure"):
            _refused(client.post(path, json={field: f"{NUL}V", "reference": "D-1"}, headers=dpo), field)


def test_notification_reference_and_block_lift_texts_refuse_nul(world: dict[str, Any]) -> None:
    client, analyst = world["client"], _auth(world["tokens"][Role.ANALYST])
    _refused(client.post("/v1/notifications/1/sent", json={"reference": f"KRP{NUL}1"}, headers=analyst), "reference")
    lifts = f"/v1/customers/{world['customer']}/block-lifts"
    body = {"ground": "delisted", "reason": f"delisted{NUL}", "reference": "UN SC/1"}
    _refused(client.post(lifts, json=body, headers=analyst), "reason")
    _refused(client.post(lifts, json={**body, "reason": "ok", "reference": f"UN{RLO}1"}, headers=analyst), "reference")
    approver = _auth(world["tokens"][Role.APPROVER])
    decision = client.post(f"{lifts}/1/decision", json={"decision": "reject", "reason": f"no{NUL}"}, headers=approver)
    _refused(decision, "reason")


def test_control_characters_in_the_url_are_refused_before_any_router(world: dict[str, Any]) -> None:
    client, analyst = world["client"], _auth(world["tokens"][Role.ANALYST])
    _refused(client.get("/v1/customers/x%00y", headers=analyst), "path")
    _refused(client.get("/v1/hits", params={"source": f"un{NUL}"}, headers=analyst), "query")
    _refused(client.get("/v1/hits?customer_id=a%00b", headers=analyst), "query")
    assert client.get("/v1/hits", params={"source": "un_sc"}, headers=analyst).status_code == 200


def test_ids_beyond_64_bits_are_422_and_unknown_ids_in_range_404(world: dict[str, Any]) -> None:
    """``/v1/lists/versions/{id}/approve``, ``/v1/notifications/{id}/sent`` and block-lift decisions gave 500."""
    client, tokens = world["client"], world["tokens"]
    lifts = f"/v1/customers/{world['customer']}/block-lifts"
    calls = [
        ("/v1/lists/versions/{}/approve", None, tokens[Role.ADMIN]),
        ("/v1/notifications/{}/sent", {"reference": "KRP-1"}, tokens[Role.ANALYST]),
        (lifts + "/{}/decision", {"decision": "reject", "reason": "x"}, tokens[Role.APPROVER]),
        ("/v1/me/tokens/{}", "DELETE", tokens[Role.ANALYST]),
    ]
    for template, body, token in calls:
        for value, expected in ((HUGE, 422), (2**63, 422), (2**31, 422), (0, 422), (-1, 422), (2**31 - 1, 404)):
            url = template.format(value)
            if body == "DELETE":
                response = client.delete(url, headers=_auth(token))
            else:
                response = client.post(url, json=body, headers=_auth(token))
            assert response.status_code == expected, (url, response.status_code, response.text)


def test_a_422_never_echoes_the_value_or_an_unknown_fields_name(world: dict[str, Any]) -> None:
    client = world["client"]
    onboarding = {**_auth(world["tokens"][Role.ONBOARDING]), "Idempotency-Key": "echo"}
    unknown = client.post("/v1/screenings", json={**_screening(), HETU: "x"}, headers=onboarding)
    assert unknown.status_code == 422 and HETU not in unknown.text and "170580" not in unknown.text
    assert "(unknown field)" in unknown.text
    misspelt = client.post("/v1/screenings", json={**_screening(), "declared_peps": True}, headers=onboarding)
    assert misspelt.status_code == 422 and "declared_peps" in misspelt.text  # a field name is still named
    analyst = _auth(world["tokens"][Role.ANALYST])
    bad_date = client.patch(
        f"/v1/customers/{world['customer']}/parties/{world['party']}",
        json={"birth_date": "1980-13-17", "reason": "passport"},
        headers=analyst,
    )
    assert bad_date.status_code == 422 and "1980-13-17" not in bad_date.text, bad_date.text
    dpo = _auth(world["tokens"][Role.DPO])
    country = client.post(
        f"/v1/subjects/parties/{world['party']}/corrections",
        json={"field": "nationality", "value": "Matti Meikäläinen", "reason": "form"},
        headers=dpo,
    )
    assert country.status_code == 422 and "Matti" not in country.text, country.text


def test_query_parameters_reach_the_audit_log_masked(db_url: str, world: dict[str, Any]) -> None:
    """``GET /v1/hits?customer_id=170580-123L`` stored the code in the audit entry's details."""
    from kyc import audit

    client, analyst = world["client"], _auth(world["tokens"][Role.ANALYST])
    for given in ("170580-123L", "170580-123l"):
        assert client.get("/v1/hits", params={"customer_id": given}, headers=analyst).status_code == 200
    with transaction(db_url) as session:
        reads = audit.entries(session, action="hits.queue.read")
    assert [r.details["customer_id"] for r in reads] == ["170580-****", "170580-****"]
