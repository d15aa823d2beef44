"""How the workbench knows who is in the browser, and what the browser is allowed to do with its pages.

* The session cookie (``kyc_session``) holds a random token; ``kyc.logins`` finds the session behind it, with its
  idle and absolute expiry. HttpOnly, SameSite=Strict, and Secure everywhere but on localhost
  (``KYC_UI_SECURE_COOKIES`` overrides).
* Every page names the permission it needs from ``kyc.access`` (``page(Permission.READ_HITS)``): the same policy
  as the JSON API, never a second copy. A refusal is audited in its own transaction and answered 403.
* Every form carries the session's CSRF token (``form_page``); the login form, before any session exists, a token
  that must match a cookie of its own (double submit). A missing or wrong token is audited and answered 403.
* Every workbench and documentation response gets a strict Content-Security-Policy (scripts and styles from this
  origin only, no inline script, ``frame-ancestors 'none'``) and is never cached.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.deps import SessionDep, SettingsDep
from kyc import audit, logins
from kyc.access import Permission
from kyc.logins import SessionInfo
from kyc.settings import Settings
from kyc.storage.db import transaction

SESSION_COOKIE = "kyc_session"
LOGIN_CSRF_COOKIE = "kyc_login_csrf"
LANGUAGE_COOKIE = "kyc_lang"
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; connect-src 'self'"
)
DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; worker-src 'self' blob:; font-src 'self' data:; frame-ancestors 'none'; base-uri 'none'"
)
"""Swagger UI and ReDoc set inline styles; their scripts are still this origin's only."""


class LoginRequired(Exception):
    def __init__(self, next_path: str = "/ui/cases") -> None:
        super().__init__(next_path)
        self.next_path = next_path


class EnrolmentRequired(Exception):
    pass


class PageRefused(Exception):
    def __init__(self, message: str, status: int = 403) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def secure_cookies(request: Request, settings: Settings) -> bool:
    if settings.ui_secure_cookies is not None:
        return settings.ui_secure_cookies
    return (request.url.hostname or "") not in LOCAL_HOSTS


def _record(settings: Settings, actor: object, action: str, object_id: str, details: dict[str, object]) -> None:
    with transaction(settings.database_url) as own:
        audit.record(
            own,
            actor=actor,  # type: ignore[arg-type]
            action=action,
            object_type="page",
            object_id=object_id,
            purpose="security",
            details=details,
        )


def _next_path(request: Request) -> str:
    path = request.url.path
    if request.method == "GET" and request.url.query:
        path += "?" + request.url.query
    return path


def current(request: Request, session: SessionDep, settings: SettingsDep) -> SessionInfo | None:
    """The live session of this browser, or None."""
    return logins.current_session(session, request.cookies.get(SESSION_COOKIE), settings=settings)


Current = Annotated[SessionInfo | None, Depends(current)]


def signed_in(request: Request, info: Current) -> SessionInfo:
    """A complete session (second factor given where required); else to the login or enrolment page."""
    if info is None:
        raise LoginRequired(_next_path(request))
    if not info.second_factor:
        raise EnrolmentRequired()
    return info


SignedIn = Annotated[SessionInfo, Depends(signed_in)]


def page(*permissions: Permission) -> Callable[..., SessionInfo]:
    """A page's guard: a complete session whose role holds every one of ``permissions`` (``kyc.access``)."""
    needed = frozenset(permissions)

    def dependency(request: Request, info: SignedIn, session: SessionDep, settings: SettingsDep) -> SessionInfo:
        missing = sorted(p.value for p in needed if not info.principal.can(p))
        if missing:
            session.rollback()  # the request's own transaction holds SQLite's write lock; the refusal has its own
            _record(
                settings, info.principal, "access.denied", f"{request.method} {request.url.path}", {"missing": missing}
            )
            raise PageRefused(f"role {info.principal.role.value} lacks permission {', '.join(missing)}")
        return info

    return dependency


def form_page(*permissions: Permission) -> Callable[..., Awaitable[SessionInfo]]:
    """``page`` for a form's POST: the form's ``csrf_token`` must be the session's."""
    guard = page(*permissions)

    async def dependency(
        request: Request,
        session: SessionDep,
        settings: SettingsDep,
        info: SessionInfo = Depends(guard),  # noqa: B008 - a local: a string annotation could not name it
    ) -> SessionInfo:
        form = await request.form()
        token = form.get("csrf_token")
        if not isinstance(token, str) or not secrets.compare_digest(token, info.csrf_token):
            session.rollback()
            _record(settings, info.principal, "csrf.refused", f"{request.method} {request.url.path}", {})
            raise PageRefused("the form's CSRF token is missing or wrong: reload the page and try again")
        return info

    return dependency


async def login_csrf(request: Request, settings: SettingsDep) -> None:
    """The login form's double-submit token: the form field must equal the login cookie."""
    form = await request.form()
    token = form.get("csrf_token")
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE)
    if not isinstance(token, str) or not cookie or not secrets.compare_digest(token, cookie):
        _record(settings, "anonymous", "csrf.refused", f"{request.method} {request.url.path}", {})
        raise PageRefused("the form's CSRF token is missing or wrong: reload the page and try again")


class SecurityHeaders:
    """Strict headers on every workbench and documentation response (ASGI: the JSON API is not touched)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "") if scope["type"] == "http" else ""
        ui = path == "/ui" or path.startswith("/ui/") or path == "/"
        docs = path.startswith("/docs") or path.startswith("/redoc")
        if not (ui or docs):
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["Content-Security-Policy"] = CSP if ui else DOCS_CSP
                headers["X-Frame-Options"] = "DENY"
                headers["X-Content-Type-Options"] = "nosniff"
                headers["Referrer-Policy"] = "no-referrer"
                headers["Cross-Origin-Opener-Policy"] = "same-origin"
                if not path.startswith("/ui/static/"):
                    headers["Cache-Control"] = "no-store"
            await send(message)

        await self.app(scope, receive, with_headers)
