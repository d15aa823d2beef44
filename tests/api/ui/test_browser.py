"""The officers' workbench end to end, in Debian's Chromium driven by Playwright, on PostgreSQL with real UN-listed
persons screened by the worker's own code: logins (password only, second factor, enrolment, lockout, expiry), CSRF
refusal, the case queue (filters, claiming, bulk dismissal with four eyes per case), a four-eyes decision by two
people in two browsers that closes a case as a true match and changes the customer's outcome, comments, a decision by
keyboard alone, a senior manager approving a PEP relationship, search, list approval with four eyes, pages refused per
role. Screenshots of the main pages are saved on the way (``tests/support/browser.py``)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest
from sqlalchemy import select, update

from kyc.access import Role
from kyc.settings import Settings
from kyc.storage.access import AuditLog
from kyc.storage.base import utcnow
from kyc.storage.cases import Case
from kyc.storage.db import transaction
from kyc.storage.hits import Hit
from kyc.storage.lists import ListVersion
from kyc.storage.logins import WebSession
from kyc.submission import PersonSpec
from lists.ingest import ingest_files
from tests.support import service as service_support
from tests.support.browser import LiveServer, login, person, screenshot
from tests.support.env import list_file
from tests.support.fi_national import write
from tests.support.review import ADDED, UN_2026, UNRELATED, customer_of
from tests.support.service import make_token, wait_for
from workers.enqueue import publish_screening

pytestmark = [
    pytest.mark.slow,
    pytest.mark.xdist_group("browser"),
    pytest.mark.usefixtures("encryption_key"),
    pytest.mark.parametrize("db_url", ["postgresql"], indirect=True),
]


celery_worker = service_support.celery_worker
service = service_support.service


def _submit(base: str, token: str, name: str, business_id: str, persons: tuple[PersonSpec, ...]) -> str:
    body = {
        "client_reference": business_id,
        "customer": {"name": name, "business_id": business_id, "country": "FI"},
        "persons": [{k: v for k, v in asdict(p).items() if v is not None} for p in persons],
    }
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": business_id}
    answer = httpx.post(f"{base}/v1/screenings", json=body, headers=headers, timeout=30)
    assert answer.status_code == 202, answer.text
    return str(answer.json()["id"])


@pytest.fixture
def world(service: Settings) -> Iterator[dict[str, Any]]:
    """Two customers with UN-listed beneficial owners, submitted by the onboarding system over HTTP and screened by
    the real Celery worker (sanctions hits); officers of every kind; the app served on a local port."""
    settings = service.model_copy(update={"ui_backoff_seconds": 0.0})
    ingest_files("un_sc", [list_file(UN_2026)], settings)
    onboarding = make_token(settings.database_url, Role.ONBOARDING, "crm")
    with LiveServer(settings, enqueue=publish_screening) as server:
        first = _submit(
            server.url,
            onboarding,
            "Khartoum Trading Oy",
            "2077474-0",
            (ADDED["SDi.007"], ADDED["SDi.008"], UNRELATED[1]),
        )
        second = _submit(server.url, onboarding, "Omdurman Oy", "0112038-9", (ADDED["SDi.009"], ADDED["SDi.010"]))
        for job in (first, second):
            assert wait_for(settings.database_url, job) == "completed"
        yield from _people(settings, server, (first, second))


def _people(settings: Settings, server: LiveServer, jobs: tuple[str, str]) -> Iterator[dict[str, Any]]:
    secrets = {
        "ann": person(settings, "ann", Role.ANALYST),
        "aino": person(settings, "aino", Role.ANALYST),
        "bob": person(settings, "bob", Role.APPROVER, totp=True),
        "aud": person(settings, "aud", Role.AUDITOR),
        "adam": person(settings, "adam", Role.ADMIN, totp=True),
        "alma": person(settings, "alma", Role.ADMIN, totp=True),
        "sam": person(settings, "sam", Role.SENIOR_MANAGER, totp=True),
    }
    yield {"settings": settings, "base": server.url, "jobs": jobs, "secrets": secrets}


def _page(chromium: Any) -> Any:
    context = chromium.new_context(viewport={"width": 1400, "height": 900}, locale="en-GB")
    return context.new_page()


def _case_id(settings: Settings, job_id: str, source_ref: str) -> str:
    """The case holding the hit on this listing."""
    with transaction(settings.database_url) as session:
        found = session.scalars(select(Hit.case_id).where(Hit.job_id == job_id, Hit.source_ref == source_ref)).one()
    assert found
    return found


def _case_status(settings: Settings, case_id: str) -> tuple[str, str | None]:
    with transaction(settings.database_url) as session:
        case = session.get(Case, case_id)
        assert case is not None
        return case.status, case.verdict


def _actions(settings: Settings) -> list[str]:
    with transaction(settings.database_url) as session:
        return list(session.scalars(select(AuditLog.action)))


def test_logins_with_and_without_second_factor_enrolment_and_logout(world: dict[str, Any], chromium: Any) -> None:
    base, settings = world["base"], world["settings"]
    page = _page(chromium)
    page.goto(f"{base}/ui/cases")
    assert "/ui/login" in page.url
    screenshot(page, "login")
    login(page, base, "ann")
    assert page.url.endswith("/ui/cases?tab=open") or page.url.endswith("/ui/cases")
    assert page.locator("h1").inner_text() == "Cases"
    page.click("text=Log out")
    assert "/ui/login" in page.url
    page.goto(f"{base}/ui/cases")
    assert "/ui/login" in page.url

    approver = _page(chromium)
    login(approver, base, "bob")  # no code
    assert approver.locator("#login-error").is_visible()
    login(approver, base, "bob", world["secrets"]["bob"])
    assert approver.locator("h1").inner_text() == "Cases"

    person(settings, "new-approver", Role.APPROVER)  # no second factor yet: enrolment first
    newcomer = _page(chromium)
    login(newcomer, base, "new-approver")
    assert newcomer.url.endswith("/ui/enrol")
    assert newcomer.locator("figure.qr svg").count() == 1
    screenshot(newcomer, "enrol")
    newcomer.goto(f"{base}/ui/cases")  # nothing else until enrolled
    assert newcomer.url.endswith("/ui/enrol")
    secret = newcomer.locator("#totp-secret").inner_text()
    newcomer.fill("#totp", pyotp.TOTP(secret).now())
    newcomer.click("text=Confirm")
    assert newcomer.locator("h1").inner_text() == "Cases"
    actions = _actions(settings)
    assert {"login", "login.failed", "logout", "user.totp.enrolled"} <= set(actions)


def test_lockout_after_repeated_failures(world: dict[str, Any], chromium: Any) -> None:
    base, settings = world["base"], world["settings"]
    page = _page(chromium)
    for _ in range(settings.ui_lockout_after):
        login(page, base, "aino", password="not the password")
        assert "Wrong user name" in page.locator("#login-error").inner_text()
    login(page, base, "aino")  # the right password, too late
    assert "locked" in page.locator("#login-error").inner_text()
    assert "/ui/login" in page.url


def test_session_expires_after_idle_time(world: dict[str, Any], chromium: Any) -> None:
    base, settings = world["base"], world["settings"]
    page = _page(chromium)
    login(page, base, "ann")
    assert page.locator("h1").inner_text() == "Cases"
    with transaction(settings.database_url) as session:
        session.execute(
            update(WebSession).values(last_seen_at=utcnow() - timedelta(minutes=settings.ui_idle_minutes + 1))
        )
    page.goto(f"{base}/ui/cases")
    assert "/ui/login" in page.url
    assert "session.expired" in _actions(settings)


def test_a_form_with_a_wrong_csrf_token_is_refused(world: dict[str, Any], chromium: Any) -> None:
    base, settings = world["base"], world["settings"]
    case = _case_id(settings, world["jobs"][0], "SDi.007")
    page = _page(chromium)
    login(page, base, "ann")
    page.goto(f"{base}/ui/cases/{case}")
    page.evaluate("document.querySelectorAll('input[name=csrf_token]').forEach(i => i.value = 'forged')")
    page.click("#claim")
    assert page.locator("h1").inner_text() == "Not allowed"
    assert "CSRF" in page.locator(".error").inner_text()
    assert "csrf.refused" in _actions(settings)
    assert _case_status(settings, case) == ("open", None)


def test_queue_filters_claiming_and_bulk_dismissal(world: dict[str, Any], chromium: Any) -> None:
    base, settings = world["base"], world["settings"]
    page = _page(chromium)
    login(page, base, "ann")
    total = int(page.locator("#count").inner_text().split()[0])
    assert total >= 4
    screenshot(page, "cases")
    customer = customer_of(settings, world["jobs"][1]).id
    page.fill("#f-customer", customer)
    page.click("text=Apply")
    assert int(page.locator("#count").inner_text().split()[0]) == 2
    page.fill("#f-customer", "")
    page.select_option("#f-status", "closed")  # none closed yet
    page.click("text=Apply")
    assert int(page.locator("#count").inner_text().split()[0]) == 0
    page.goto(f"{base}/ui/cases?tab=overdue")
    assert int(page.locator("#count").inner_text().split()[0]) == 0  # within KYC_CASE_SLA_HOURS

    first = _case_id(settings, world["jobs"][0], "SDi.007")
    page.goto(f"{base}/ui/cases/{first}")
    page.click("#claim")
    assert page.locator("#case-assignee").inner_text() == "ann"
    assert _case_status(settings, first) == ("in_review", None)
    page.goto(f"{base}/ui/cases?tab=mine")
    assert page.locator("tbody tr[data-case]").count() == 1
    page.goto(f"{base}/ui/cases?tab=unassigned")
    assert page.locator(f"tr[data-case='{first}']").count() == 0

    page.goto(f"{base}/ui/cases?tab=open&customer_id={customer}")
    page.check("#select-all")
    page.select_option("#bulk-action", "false_positive")
    page.fill("#bulk-reason", "different people: birth dates and nationality differ")
    page.click("text=Apply to selected")
    assert "Done" in page.locator(".notice").inner_text()
    assert page.locator("#refused").count() == 0
    second = [_case_id(settings, world["jobs"][1], ref) for ref in ("SDi.009", "SDi.010")]
    assert {_case_status(settings, c) for c in second} == {("proposed", None)}  # sanctions: four eyes per case
    page.goto(f"{base}/ui/cases?tab=awaiting")
    assert page.locator("tbody tr[data-case]").count() == 0  # her own proposals are not hers to approve

    approver = _page(chromium)
    login(approver, base, "bob", world["secrets"]["bob"])
    approver.goto(f"{base}/ui/cases?tab=awaiting")
    assert approver.locator("tbody tr[data-case]").count() == 2
    approver.check("#select-all")
    approver.select_option("#bulk-action", "approve")
    approver.fill("#bulk-reason", "agreed: not the listed persons")
    approver.click("text=Apply to selected")
    with transaction(settings.database_url) as session:
        statuses = session.scalars(select(Hit.status).where(Hit.job_id == world["jobs"][1])).all()
    assert set(statuses) == {"dismissed"}
    assert {_case_status(settings, c) for c in second} == {("closed", "false_positive")}
    approver.goto(f"{base}/ui/customers/{customer}")
    assert approver.locator("#customer-outcome").inner_text() == "clear"


def test_four_eyes_decision_in_two_browsers_confirms_the_match(world: dict[str, Any], chromium: Any) -> None:
    base, settings = world["base"], world["settings"]
    case = _case_id(settings, world["jobs"][0], "SDi.007")
    analyst = _page(chromium)
    login(analyst, base, "ann")
    analyst.goto(f"{base}/ui/cases/{case}")
    assert analyst.locator("#compare thead th").count() >= 3  # the party beside every listing of the subject
    assert "SDi.007" in analyst.locator("#compare").inner_text()
    assert analyst.locator("article.hit table.parts tbody tr").count() >= 1  # each hit's explanation
    analyst.fill("#comment-text", "asked the customer for a passport copy")
    analyst.click("#add-comment")
    assert "passport copy" in analyst.locator("ul.comments").inner_text()
    screenshot(analyst, "case")
    analyst.check("input[value=true_match]")
    analyst.click("#decide")  # no reason: the browser refuses to send the form
    assert analyst.locator("#case-status").inner_text() == "open"
    analyst.fill("#reason", "same person: name, nationality and birth year agree")
    analyst.click("#decide")
    assert analyst.locator("#case-status").inner_text() == "proposed"
    assert "You proposed this" in analyst.locator("#four-eyes-state").inner_text()
    assert analyst.locator("#decision-form").count() == 0  # nothing to approve on one's own proposal

    approver = _page(chromium)  # another browser context: another person
    login(approver, base, "bob", world["secrets"]["bob"])
    approver.goto(f"{base}/ui/cases/{case}")
    assert "Proposed by ann" in approver.locator("#four-eyes-state").inner_text()
    assert approver.locator("input[name=decision]").evaluate_all("els => els.map(e => e.value)") == [
        "approve",
        "reject",
    ]
    approver.check("input[value=approve]")
    approver.fill("#reason", "confirmed against the UN listing")
    approver.click("#decide")
    assert approver.locator("#case-status").inner_text() == "closed"
    assert approver.locator("#case-verdict").inner_text() == "True match"
    assert _case_status(settings, case) == ("closed", "true_match")
    approver.click("text=Customer")
    assert approver.locator("#customer-outcome").inner_text() == "match"
    screenshot(approver, "customer")
    customer = customer_of(settings, world["jobs"][0])
    assert customer.outcome == "match" and customer.blocked_at is not None

    # the day goes on in the browser: the freeze is reported, then found to be an error and lifted with four eyes
    approver.fill("input[name=reference]", "ULO-2026-0042")
    approver.click("text=Record as sent")
    assert approver.locator("[id^=notification-]").first.inner_text() == "sent"
    analyst.goto(f"{base}/ui/customers/{customer.id}")
    analyst.select_option("#lift-ground", "confirmed_in_error")
    analyst.fill("#lift-reason", "the authority's answer: a namesake, different birth date")
    analyst.click("text=Ask for the block to be lifted")
    assert analyst.locator("[id^=lift-]").first.inner_text() == "requested"
    approver.goto(f"{base}/ui/customers/{customer.id}")
    approver.fill("[id^=lift-reason-]", "agreed, the authority confirms")
    approver.click("li >> text=Record decision")
    assert approver.locator("[id^=lift-]").first.inner_text() == "approved"
    assert customer_of(settings, world["jobs"][0]).blocked_at is None


def test_decision_by_keyboard_alone(world: dict[str, Any], chromium: Any) -> None:
    base, settings = world["base"], world["settings"]
    case = _case_id(settings, world["jobs"][0], "SDi.008")
    page = _page(chromium)
    login(page, base, "ann")
    page.goto(f"{base}/ui/cases/{case}")

    def tab_to(element_id: str) -> None:
        for _ in range(200):
            page.keyboard.press("Tab")
            if page.evaluate("document.activeElement && document.activeElement.id") == element_id:
                return
        raise AssertionError(f"#{element_id} is not reachable with Tab")

    tab_to("decision-first")  # the first verdict: false_positive
    page.keyboard.press("ArrowRight")  # radio group: the next verdict, true_match
    page.keyboard.press("ArrowRight")  # escalate
    tab_to("reason")
    page.keyboard.type("needs the head of compliance: possible relative")
    tab_to("decide")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/ui/cases/{case}?done=*")
    assert page.locator("#case-status").inner_text() == "escalated"


def test_senior_manager_approves_a_pep_relationship(world: dict[str, Any], chromium: Any) -> None:
    base, settings = world["base"], world["settings"]
    onboarding = make_token(settings.database_url, Role.ONBOARDING, "crm-pep")
    minister = PersonSpec(role="representative", name="Liisa Ministeri", birth_date="1961-02-03", declared_pep=True)
    job = _submit(base, onboarding, "Valtio Oy", "0737546-2", (minister,))
    assert wait_for(settings.database_url, job) == "completed"
    customer = customer_of(settings, job)
    assert customer.outcome == "review" and customer.edd_required

    analyst = _page(chromium)
    login(analyst, base, "ann")
    analyst.goto(f"{base}/ui/pep-approvals")
    assert "Liisa Ministeri" in analyst.locator("#pep-approvals").inner_text()
    assert analyst.locator("form.pep-decision").count() == 0  # analysts see, senior management decides
    analyst.goto(f"{base}/ui/customers/{customer.id}")
    assert "EDD" in analyst.locator("#customer-edd").inner_text()
    minister_row = analyst.locator("tr", has_text="Liisa Ministeri").locator("td.pep").inner_text()
    assert "pep" in minister_row.lower() and "declaration" in minister_row and "EDD" in minister_row

    senior = _page(chromium)
    login(senior, base, "sam", world["secrets"]["sam"])
    assert senior.url.endswith("/ui/pep-approvals")  # the page a senior manager lands on
    row = senior.locator("#pep-approvals tbody tr", has_text="Liisa Ministeri")
    screenshot(senior, "pep-approvals")
    row.locator("input[value=approve]").check()
    row.locator("button[type=submit]").click()  # no reason: the browser refuses to send the form
    assert "requested" in senior.locator("#pep-approvals").inner_text()
    row.locator("textarea").fill("source of wealth documented, EDD plan agreed")
    row.locator("button[type=submit]").click()
    senior.goto(f"{base}/ui/pep-approvals?status=approved")
    assert "source of wealth documented" in senior.locator("#pep-approvals").inner_text()
    after = customer_of(settings, job)
    assert after.outcome == "clear" and after.edd_required
    assert "pep_approval.decision" in _actions(settings)


def test_search_with_a_purpose_is_audited(world: dict[str, Any], chromium: Any) -> None:
    base, settings = world["base"], world["settings"]
    page = _page(chromium)
    login(page, base, "ann")
    page.click("nav >> text=Search")
    page.fill("#s-name", ADDED["SDi.007"].name)
    page.select_option("#s-purpose", "investigation")
    page.click("main button[type=submit]")
    assert "SDi.007" in page.locator("table.results").inner_text()
    screenshot(page, "search")
    with transaction(settings.database_url) as session:
        row = session.scalars(select(AuditLog).where(AuditLog.action == "search.adhoc")).one()
    assert row.purpose == "investigation" and ADDED["SDi.007"].name not in str(row.details)


def test_list_approval_by_another_admin(
    world: dict[str, Any], chromium: Any, tmp_path: Path, good_rows: list[dict[str, str]]
) -> None:
    base, settings = world["base"], world["settings"]
    result = ingest_files("fi_national", [write(tmp_path, good_rows)], settings, user="adam")
    assert result.outcome == "pending"
    importer = _page(chromium)
    login(importer, base, "adam", world["secrets"]["adam"])
    importer.goto(f"{base}/ui/lists")
    assert "another admin approves it" in importer.locator("table.pending").inner_text()
    assert importer.locator(f"#approve-{result.version_id}").count() == 0

    second = _page(chromium)
    login(second, base, "alma", world["secrets"]["alma"])
    second.goto(f"{base}/ui/lists")
    screenshot(second, "lists")
    second.click(f"#approve-{result.version_id}")
    assert "Nothing waits for approval" in second.locator("table.pending").inner_text()
    with transaction(settings.database_url) as session:
        version = session.get(ListVersion, result.version_id)
        assert version is not None and version.status == "active" and version.approved_by == "alma"


def test_pages_refused_per_role(world: dict[str, Any], chromium: Any) -> None:
    base = world["base"]
    refused = {
        ("aud", None): ["/ui/users", "/ui/search"],
        ("ann", None): ["/ui/audit", "/ui/users"],
        ("adam", "adam"): ["/ui/cases", "/ui/audit", "/ui/overview", "/ui/search", "/ui/pep-approvals"],
        ("sam", "sam"): ["/ui/cases", "/ui/overview", "/ui/search"],
    }
    for (name, secret_of), paths in refused.items():
        page = _page(chromium)
        login(page, base, name, world["secrets"][secret_of] if secret_of else None)
        nav = page.locator("header nav").inner_text()
        for path in paths:
            response = page.goto(f"{base}{path}")
            assert response is not None and response.status == 403, (name, path)
            assert page.locator("h1").inner_text() == "Not allowed"
        assert "Users" not in nav or name == "adam"
    auditor = _page(chromium)
    login(auditor, base, "aud")
    auditor.goto(f"{base}/ui/audit")
    screenshot(auditor, "audit")
    auditor.click("#verify")
    assert "intact" in auditor.locator("#verdict").inner_text()
    auditor.goto(f"{base}/ui/overview")
    screenshot(auditor, "overview")
    assert auditor.locator("h1").inner_text() == "Overview"


def test_finnish_is_remembered(world: dict[str, Any], chromium: Any) -> None:
    base = world["base"]
    page = _page(chromium)
    login(page, base, "ann")
    with page.expect_navigation():
        page.select_option("#language", "fi")  # the menu submits itself (app.js)
    assert page.locator("h1").inner_text() == "Tapaukset"
    page.click("text=Kirjaudu ulos")
    other = _page(chromium)  # a new browser: the choice is the person's, not the cookie's
    login(other, base, "ann")
    assert other.locator("h1").inner_text() == "Tapaukset"
