"""Every role (and no token) against every endpoint of the real app: least privilege, enforced end to end.

The endpoints are discovered from ``app.routes``: an endpoint added without a row here fails the test, and so does
a row whose endpoint disappeared. Allowed means "not 401/403" (the call may still be 2xx, 404, 409 or 422 on its
own merits); denied means exactly 403; no token means exactly 401. Open endpoints answer everyone.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.app import create_app
from kyc import access
from kyc import cases as kyc_cases
from kyc.access import Role
from kyc.settings import Settings
from kyc.storage.access import ApiToken
from kyc.storage.db import transaction
from kyc.storage.hits import Hit
from kyc.storage.jobs import Party, ScreeningJob
from tests.support.routes import endpoints

pytestmark = pytest.mark.usefixtures("encryption_key")

OPEN = "open"
ALL = frozenset(Role)
ONB, ANA, APP, AUD, DPO, ADM, SCR, SEN = (
    Role.ONBOARDING,
    Role.ANALYST,
    Role.APPROVER,
    Role.AUDITOR,
    Role.DPO,
    Role.ADMIN,
    Role.SCREENING_API,
    Role.SENIOR_MANAGER,
)
COMPLIANCE = frozenset({ANA, APP, AUD})

# (method, path) -> roles allowed, or OPEN. Written out per endpoint on purpose: this is the policy under test.
MATRIX: dict[tuple[str, str], frozenset[Role] | str] = {
    ("GET", "/healthz"): OPEN,
    ("GET", "/readyz"): OPEN,
    ("GET", "/metrics"): frozenset(),  # the scraper's own KYC_METRICS_TOKEN, never a user's token
    ("GET", "/"): OPEN,  # a redirect to the workbench
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
    ("POST", "/v1/admin/users/{name}/revoke"): frozenset({ADM}),
    ("POST", "/v1/me/tokens"): ALL,  # the caller's own token only (H2)
    ("GET", "/v1/me/tokens"): ALL,
    ("DELETE", "/v1/me/tokens/{token_id}"): ALL,  # own tokens only: another's is a 404
    ("GET", "/v1/admin/users/{name}/tokens"): frozenset({ADM}),
    ("POST", "/v1/admin/users/{name}/tokens/{token_id}/revoke"): frozenset({ADM}),
    ("POST", "/v1/subjects/export"): frozenset({DPO}),
    ("GET", "/v1/subjects/parties/{party_id}/corrections"): frozenset({DPO}),
    ("POST", "/v1/subjects/parties/{party_id}/corrections"): frozenset({DPO}),
    ("POST", "/v1/subjects/erasure"): frozenset({DPO}),
    ("GET", "/v1/hits"): COMPLIANCE,
    ("GET", "/v1/hits/{hit_id}"): COMPLIANCE,
    ("GET", "/v1/hits/{hit_id}/decisions"): COMPLIANCE,
    ("POST", "/v1/hits/{hit_id}/decisions"): frozenset({ANA}),  # a proposal; approvals: see VARIANTS
    ("GET", "/v1/customers/{customer_id}"): COMPLIANCE,
    ("PATCH", "/v1/customers/{customer_id}/parties/{party_id}"): frozenset({ANA, APP}),
    ("PUT", "/v1/customers/{customer_id}/risk"): frozenset({ANA, APP}),
    ("POST", "/v1/customers/{customer_id}/end-relationship"): frozenset({APP}),
    ("GET", "/v1/notifications"): COMPLIANCE,
    ("POST", "/v1/notifications/{notification_id}/sent"): frozenset({ANA, APP}),
    ("GET", "/v1/customers/{customer_id}/block-lifts"): COMPLIANCE,
    ("POST", "/v1/customers/{customer_id}/block-lifts"): frozenset({ANA, APP}),  # asking: the first of four eyes
    ("POST", "/v1/customers/{customer_id}/block-lifts/{lift_id}/decision"): frozenset({APP}),
    ("GET", "/v1/lists/versions"): frozenset({ANA, APP, AUD, ADM}),
    ("GET", "/v1/lists/versions/{version_id}/entries/{source_ref}"): frozenset({ANA, APP, AUD, ADM}),
    ("GET", "/v1/cases"): COMPLIANCE,
    ("GET", "/v1/cases/{case_id}"): COMPLIANCE,
    ("POST", "/v1/cases/{case_id}/assign"): frozenset({ANA, APP}),
    ("POST", "/v1/cases/{case_id}/comments"): frozenset({ANA, APP}),
    ("POST", "/v1/cases/{case_id}/decisions"): frozenset({ANA}),  # a proposal; approvals: see VARIANTS
    ("POST", "/v1/cases/decisions"): frozenset({ANA, APP}),  # four eyes per case, refusals reported per case
    ("GET", "/v1/pep-approvals"): frozenset({ANA, APP, AUD, SEN}),
    ("POST", "/v1/pep-approvals/{approval_id}/decision"): frozenset({SEN}),
    ("POST", "/v1/lists/versions/{version_id}/approve"): frozenset({ADM}),
    # The OpenSanctions-compatible API: the screening_api role only, and that role nothing else (but its own tokens)
    ("POST", "/opensanctions/match/{dataset}"): frozenset({SCR}),
    ("GET", "/opensanctions/search/{dataset}"): frozenset({SCR}),
    ("GET", "/opensanctions/entities/{entity_id}"): frozenset({SCR}),
    ("GET", "/opensanctions/catalog"): frozenset({SCR}),
    ("GET", "/opensanctions/algorithms"): frozenset({SCR}),
    ("GET", "/opensanctions/-/version"): frozenset({SCR}),
    ("GET", "/opensanctions/healthz"): OPEN,
    ("GET", "/opensanctions/readyz"): OPEN,
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
    ("POST", "/v1/hits/{hit_id}/decisions"): {"decision": "escalate", "reason": "matrix test"},
    ("POST", "/v1/cases/{case_id}/assign"): {},
    ("POST", "/v1/cases/{case_id}/comments"): {"text": "matrix test"},
    ("POST", "/v1/cases/{case_id}/decisions"): {"decision": "escalate", "reason": "matrix test"},
    ("POST", "/v1/cases/decisions"): {"case_ids": ["matrix"], "decision": "escalate", "reason": "matrix test"},
    ("POST", "/v1/pep-approvals/{approval_id}/decision"): {"decision": "approve", "reason": "matrix test"},
    ("PATCH", "/v1/customers/{customer_id}/parties/{party_id}"): {"birth_date": "1980-05-17"},
    ("PUT", "/v1/customers/{customer_id}/risk"): {"risk": "medium"},
    ("POST", "/v1/customers/{customer_id}/end-relationship"): {},
    ("POST", "/v1/notifications/{notification_id}/sent"): {"reference": "matrix test"},
    ("POST", "/v1/customers/{customer_id}/block-lifts"): {"ground": "delisted", "reason": "matrix test"},
    ("POST", "/v1/customers/{customer_id}/block-lifts/{lift_id}/decision"): {"decision": "reject", "reason": "x"},
    ("POST", "/opensanctions/match/{dataset}"): {
        "queries": {"q1": {"schema": "Person", "properties": {"name": ["Matti Meikäläinen"]}}}
    },
}
# Endpoints whose allowed roles depend on the body: each further (body, roles) is checked as well.
VARIANTS: dict[tuple[str, str], list[tuple[Any, frozenset[Role]]]] = {
    ("POST", "/v1/cases/{case_id}/decisions"): [
        ({"decision": "approve", "reason": "matrix test"}, frozenset({APP})),
        ({"decision": "reject", "reason": "matrix test"}, frozenset({APP})),
        ({"decision": "true_match", "reason": "matrix test"}, frozenset({ANA, APP})),
    ],
    ("POST", "/v1/hits/{hit_id}/decisions"): [
        ({"decision": "approve", "reason": "matrix test"}, frozenset({APP})),
        ({"decision": "reject", "reason": "matrix test"}, frozenset({APP})),
        # The analyst's true_match proposes; the approver, asked next, answers that proposal with the same verdict,
        # which is the second decision (kyc.review.four_eyes.as_second_decision). Other roles stay refused.
        ({"decision": "true_match", "reason": "matrix test"}, frozenset({ANA, APP})),
    ],
}


def _is_page(endpoint: tuple[str, str]) -> bool:
    return endpoint[1] == "/ui" or endpoint[1].startswith("/ui/")


def _api_endpoints(app: Any) -> set[tuple[str, str]]:
    return {e for e in endpoints(app) if not _is_page(e)}


def test_every_endpoint_has_a_matrix_row() -> None:
    found = _api_endpoints(create_app(Settings()))
    assert found - set(MATRIX) == set(), "endpoints without an access-matrix row"
    assert set(MATRIX) - found == set(), "matrix rows for endpoints that no longer exist"
    pages = {e for e in endpoints(create_app(Settings())) if _is_page(e)}
    assert pages - set(PAGES) == set(), "workbench pages without a page-matrix row"
    assert set(PAGES) - pages == set(), "page-matrix rows for pages that no longer exist"


def test_every_role_against_every_endpoint(db_url: str) -> None:
    client = TestClient(create_app(Settings(database_url=db_url)))
    with transaction(db_url) as session:
        tokens = {role: access.create_user(session, f"matrix-{role.value}", role)[1] for role in Role}
        target, _ = access.create_user(session, "matrix-target", Role.ANALYST)
        target_token_id = session.scalars(select(ApiToken.id).where(ApiToken.user_id == target.user_id)).one()
    submitted = client.post(
        "/v1/screenings",
        json=SCREENING,
        headers={"Authorization": f"Bearer {tokens[ONB]}", "Idempotency-Key": "matrix-1"},
    )
    assert submitted.status_code == 202, submitted.text
    ids = {
        "job_id": submitted.json()["id"],
        "name": "matrix-target",
        "version_id": "1",
        "notification_id": "1",
        "lift_id": "1",
        "dataset": "default",
        "entity_id": "un-sc-QDi.999",
        "approval_id": "1",
        "source_ref": "QDi.430",
        "token_id": str(target_token_id),  # nobody's own token: revoking it over /v1/me is a 404 for every role
        **_add_hit(db_url),
    }

    failures: list[str] = []
    for method, template in sorted(_api_endpoints(client.app)):
        url = template.format(**ids)
        cases = [(BODIES.get((method, template)), MATRIX[(method, template)]), *VARIANTS.get((method, template), [])]
        for body, expected in cases:
            for label, role in [("no token", None), *((r.value, r) for r in Role)]:
                headers = {"Idempotency-Key": "matrix-1"}
                if role is not None:
                    headers["Authorization"] = f"Bearer {tokens[role]}"
                status = client.request(method, url, json=body, headers=headers).status_code
                if not _as_expected(status, expected, role):
                    failures.append(f"{method} {template} {body or ''} as {label}: got {status}")
    assert not failures, "\n".join(failures)


def _as_expected(status: int, expected: frozenset[Role] | str, role: Role | None) -> bool:
    if expected == OPEN:
        return status not in (401, 403)
    if role is None:
        return status == 401
    if role in expected:
        return status not in (401, 403)
    return status == 403


def _add_hit(db_url: str) -> dict[str, str]:
    """A sanctions hit on the submitted person (without running the matcher), so review endpoints have a target."""
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
            score=0.97,
            matched_name="Matti Meikalainen",
            query_name=party.name,
            explanation={"name": 0.97},
            kind="sanction",
            status="open",
            engine_version="matrix",
            config_hash="0" * 64,
        )
        session.add(hit)
        # The case endpoints decide a hit of their own (on another entry), so both series start from an open hit.
        other = Hit(**{c.key: getattr(hit, c.key) for c in Hit.__table__.columns if c.key not in ("id", "position")})
        other.position, other.source_ref = 1, "QDi.998"
        session.add(other)
        session.flush()
        kyc_cases.sync_jobs(session, [job.id])
        return {"party_id": party.id, "customer_id": job.customer_id, "hit_id": hit.id, "case_id": other.case_id or ""}


# --- the workbench: every page x every role, logged in through the login form ---------------------------------

SIGNED_IN = "signed in"
"""Any complete session, whatever the role."""
ANON = "anonymous"
"""Before login: the login form, the language and the enrolment pages (which need a password-only session)."""
READERS = COMPLIANCE
PAGES: dict[tuple[str, str], frozenset[Role] | str] = {
    ("GET", "/ui"): ANON,  # a redirect to /ui/
    ("GET", "/ui/"): SIGNED_IN,  # a redirect to the person's first page
    ("GET", "/ui/login"): ANON,
    ("POST", "/ui/login"): ANON,
    ("POST", "/ui/language"): ANON,
    ("GET", "/ui/enrol"): ANON,
    ("POST", "/ui/enrol"): ANON,
    ("GET", "/ui/account"): SIGNED_IN,
    ("POST", "/ui/logout"): SIGNED_IN,
    ("GET", "/ui/cases"): READERS,
    ("GET", "/ui/cases/{case_id}"): READERS,
    ("POST", "/ui/cases/bulk"): frozenset({ANA, APP}),  # claiming; which verdicts: the review core's rule
    ("POST", "/ui/cases/{case_id}/decision"): frozenset({ANA}),  # an escalation; approvals: the e2e tests
    ("POST", "/ui/cases/{case_id}/claim"): frozenset({ANA, APP}),
    ("POST", "/ui/cases/{case_id}/assign"): frozenset({ANA, APP}),
    ("POST", "/ui/cases/{case_id}/comments"): frozenset({ANA, APP}),
    ("GET", "/ui/pep-approvals"): frozenset({ANA, APP, AUD, SEN}),
    ("POST", "/ui/pep-approvals/{approval_id}/decision"): frozenset({SEN}),
    ("GET", "/ui/customers/{customer_id}"): READERS,
    ("POST", "/ui/customers/{customer_id}/notifications/{notification_id}/sent"): frozenset({ANA, APP}),
    ("POST", "/ui/customers/{customer_id}/block-lifts"): frozenset({ANA, APP}),
    ("POST", "/ui/customers/{customer_id}/block-lifts/{lift_id}/decision"): frozenset({APP}),
    ("GET", "/ui/search"): frozenset({ANA, APP}),
    ("POST", "/ui/search"): frozenset({ANA, APP}),
    ("GET", "/ui/lists"): frozenset({ANA, APP, AUD, ADM}),
    ("POST", "/ui/lists/versions/{version_id}/approve"): frozenset({ADM}),
    ("GET", "/ui/overview"): READERS,
    ("GET", "/ui/audit"): frozenset({AUD}),
    ("GET", "/ui/audit/verify"): frozenset({AUD}),
    ("GET", "/ui/users"): frozenset({ADM}),
    ("POST", "/ui/users"): frozenset({ADM}),
    ("POST", "/ui/users/{name}/disable"): frozenset({ADM}),
    ("POST", "/ui/users/{name}/reset-totp"): frozenset({ADM}),
    ("POST", "/ui/users/{name}/unlock"): frozenset({ADM}),
}
PAGE_FORMS: dict[tuple[str, str], dict[str, str]] = {
    ("POST", "/ui/cases/bulk"): {"action": "claim", "case_id": "{case_id}"},
    ("POST", "/ui/cases/{case_id}/comments"): {"text": "matrix test"},
    ("POST", "/ui/pep-approvals/{approval_id}/decision"): {"decision": "approve", "reason": "matrix test"},
    ("POST", "/ui/cases/{case_id}/decision"): {"decision": "escalate", "reason": "matrix test"},
    ("POST", "/ui/search"): {"name": "Matti Meikäläinen", "schema": "Person", "purpose": "quality_control"},
    ("POST", "/ui/users"): {"name": "matrix-page-new", "role": "analyst"},
    ("POST", "/ui/customers/{customer_id}/notifications/{notification_id}/sent"): {"reference": "matrix"},
    ("POST", "/ui/customers/{customer_id}/block-lifts"): {"ground": "delisted", "reason": "matrix"},
    ("POST", "/ui/customers/{customer_id}/block-lifts/{lift_id}/decision"): {"decision": "reject", "reason": "x"},
}
PASSWORD = "matrix password 1"


def _csrf(html: str) -> str:
    import re

    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, html[:500]
    return found.group(1)


def _logged_in(app: Any, name: str) -> TestClient:
    client = TestClient(app, base_url="http://localhost", follow_redirects=False)  # not Secure: plain http locally
    token = _csrf(client.get("/ui/login").text)
    answer = client.post("/ui/login", data={"username": name, "password": PASSWORD, "csrf_token": token})
    assert answer.status_code == 303, answer.text[:500]
    return client


def test_every_role_against_every_page(db_url: str) -> None:
    from kyc import logins

    settings = Settings(database_url=db_url, ui_totp_roles=[])  # the second factor is tested on its own
    app = create_app(settings)
    with transaction(db_url) as session:
        for role in Role:
            access.create_user(session, f"page-{role.value}", role)
            logins.set_password(session, f"page-{role.value}", PASSWORD, actor="test")
        access.create_user(session, "matrix-target", Role.ANALYST)
        onboarding, _ = access.create_user(session, "page-submitter", Role.ONBOARDING)
    with transaction(db_url) as session:
        from kyc.submission import CustomerSpec, JobSpec, PersonSpec, create_job

        create_job(
            session,
            JobSpec(
                customer=CustomerSpec(name="Esimerkki Oy", country="FI", business_id="1234567-1"),
                persons=(PersonSpec(role="representative", name="Matti Meikäläinen", personal_id=PERSONAL_ID),),
            ),
            submitted_by=onboarding.user_id,
            idempotency_key="page-1",
            retention_years=5,
        )
    ids = {"name": "matrix-target", "version_id": "1", "notification_id": "1", "lift_id": "1", "approval_id": "1"}
    ids.update(_add_hit(db_url))
    clients = {role: _logged_in(app, f"page-{role.value}") for role in Role}
    anonymous = TestClient(app, base_url="http://localhost", follow_redirects=False)
    failures: list[str] = []
    for (method, template), expected in sorted(PAGES.items()):
        if template == "/ui/logout":
            continue  # below, last
        url = template.format(**ids)
        form = {k: v.format(**ids) for k, v in PAGE_FORMS.get((method, template), {}).items()}
        visitors: list[tuple[str, Role | None]] = [("anonymous", None), *((r.value, r) for r in Role)]
        for label, visitor in visitors:
            client = anonymous if visitor is None else clients[visitor]
            if method == "GET":
                status = client.get(url).status_code
            else:
                page = client.get("/ui/account" if visitor is not None else "/ui/login").text
                status = client.post(url, data={**form, "csrf_token": _csrf(page)}).status_code
            if not _page_as_expected(status, expected, visitor, method, template):
                failures.append(f"{method} {template} as {label}: got {status}")
    for signed_in, client in clients.items():
        page = client.get("/ui/account")
        status = client.post("/ui/logout", data={"csrf_token": _csrf(page.text)}).status_code
        if status != 303 or client.get("/ui/account").status_code != 303:
            failures.append(f"POST /ui/logout as {signed_in.value}: got {status}")
    assert not failures, "\n".join(failures)


def _page_as_expected(status: int, expected: frozenset[Role] | str, role: Role | None, method: str, path: str) -> bool:
    if expected == ANON:  # open to everyone: whatever the answer on its merits, never an error of ours
        return status < 500
    if role is None:  # every other page sends an anonymous browser to the login form
        return status == 303
    if expected == SIGNED_IN or role in expected:  # type: ignore[operator]
        return status not in (401, 403)
    return status == 403
