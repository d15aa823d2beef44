"""The workbench without a browser: security headers and cookies, no inline script anywhere, CSRF on the login
form, no open redirect, the API documentation served offline, and a complete Finnish catalogue."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.app import create_app
from api.ui import i18n
from kyc import logins
from kyc.access import Role, create_user
from kyc.settings import Settings
from kyc.storage.access import AuditLog
from kyc.storage.db import transaction
from tests.support.env import load_script

pytestmark = pytest.mark.usefixtures("encryption_key")
UI = Path(__file__).resolve().parents[3] / "api" / "ui"
PASSWORD = "correct horse battery"


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found
    return found.group(1)


def _app(db_url: str, **settings: object) -> TestClient:
    app = create_app(Settings(database_url=db_url, **settings))  # type: ignore[arg-type]
    return TestClient(app, base_url="http://localhost", follow_redirects=False)


def test_pages_have_a_strict_policy_and_session_cookies_are_guarded(sqlite_url: str) -> None:
    with transaction(sqlite_url) as session:
        create_user(session, "ann", Role.ANALYST)
        logins.set_password(session, "ann", PASSWORD, actor="test")
    client = _app(sqlite_url)
    page = client.get("/ui/login")
    policy = page.headers["content-security-policy"]
    assert "script-src 'self';" in policy and "frame-ancestors 'none'" in policy and "unsafe" not in policy
    assert page.headers["x-frame-options"] == "DENY" and page.headers["cache-control"] == "no-store"
    answer = client.post(
        "/ui/login",
        data={"username": "ann", "password": PASSWORD, "csrf_token": _csrf(page.text), "next": "//evil.example/"},
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/ui/"  # never another site
    cookie = next(c for c in answer.headers.get_list("set-cookie") if c.startswith("kyc_session="))
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Secure" not in cookie  # plain http on localhost
    remote = TestClient(create_app(Settings(database_url=sqlite_url)), base_url="https://kyc.example")
    page = remote.get("/ui/login")
    answer = remote.post(
        "/ui/login",
        data={"username": "ann", "password": PASSWORD, "csrf_token": _csrf(page.text)},
        follow_redirects=False,
    )
    cookie = next(c for c in answer.headers.get_list("set-cookie") if c.startswith("kyc_session="))
    assert "Secure" in cookie
    assert "content-security-policy" not in client.get("/healthz").headers  # the JSON API is left alone


def test_no_inline_script_or_style_in_any_template() -> None:
    for path in sorted((UI / "templates").glob("*.html")):
        text = path.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)", text), path.name
        assert not re.search(r"\son[a-z]+=", text), path.name
        assert " style=" not in text and "<style" not in text, path.name
        assert "javascript:" not in text, path.name


def test_login_form_without_its_csrf_token_is_refused_and_audited(sqlite_url: str) -> None:
    with transaction(sqlite_url) as session:
        create_user(session, "ann", Role.ANALYST)
        logins.set_password(session, "ann", PASSWORD, actor="test")
    client = _app(sqlite_url)
    client.get("/ui/login")
    refused = client.post("/ui/login", data={"username": "ann", "password": PASSWORD, "csrf_token": "forged"})
    assert refused.status_code == 403
    other = _app(sqlite_url)  # a token of another browser's login form
    stolen = _csrf(other.get("/ui/login").text)
    assert (
        client.post("/ui/login", data={"username": "ann", "password": PASSWORD, "csrf_token": stolen}).status_code
        == 403
    )
    with transaction(sqlite_url) as session:
        actions = list(session.scalars(select(AuditLog.action)))
    assert actions.count("csrf.refused") == 2 and "login" not in actions


def test_api_docs_are_served_offline(sqlite_url: str) -> None:
    client = _app(sqlite_url)
    for page in ("/docs", "/redoc"):
        html = client.get(page).text
        sources = re.findall(r'(?:src|href)="([^"]+)"', html)
        assert sources and all(s.startswith("/") and not s.startswith("//") for s in sources), sources
        for source in sources:
            assert client.get(source).status_code == 200, source
        assert "<script>" not in html
    assert "SwaggerUIBundle" in client.get("/docs/static/swagger-ui-bundle.js").text[:200_000]


def test_every_text_has_a_finnish_translation(sqlite_url: str) -> None:
    catalogue = load_script("catalogue")
    finnish = i18n.catalogue("fi")
    missing = sorted(catalogue.msgids() - set(finnish))
    assert missing == [], "untranslated: run scripts/catalogue.py and translate api/ui/locale/fi/.../messages.po"
    for key in ("tab_mine", "false_positive", "approve", "sort_priority"):
        assert key in i18n.catalogue("en"), key  # keys get their English text too
    client = _app(sqlite_url)
    client.cookies.set("kyc_lang", "fi")
    assert "Kirjaudu" in client.get("/ui/login").text
