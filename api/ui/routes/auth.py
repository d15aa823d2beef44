"""Logging in and out, enrolling the second factor, the language and the account page."""

from __future__ import annotations

import secrets
from typing import Annotated

import segno
from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from markupsafe import Markup

from api.deps import SessionDep, SettingsDep
from api.ui import i18n
from api.ui.security import (
    LANGUAGE_COOKIE,
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    Current,
    LoginRequired,
    PageRefused,
    form_page,
    login_csrf,
    page,
    secure_cookies,
)
from api.ui.templating import landing, render
from kyc import logins
from kyc.logins import SessionInfo

router = APIRouter(prefix="/ui", include_in_schema=False)
Text = Annotated[str, Form(max_length=512)]
Any_ = Annotated[SessionInfo, Depends(page())]
AnyForm = Annotated[SessionInfo, Depends(form_page())]


def _safe_next(value: str | None) -> str | None:
    """Only a path of the workbench itself: never another site (an open redirect)."""
    if value and value.startswith("/ui/") and not value.startswith("//") and "\\" not in value:
        return value
    return None


def _redirect(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


@router.get("", include_in_schema=False)
def ui_root() -> Response:
    return _redirect("/ui/")


@router.get("/login")
def login_form(request: Request, settings: SettingsDep, info: Current, next: str | None = None) -> Response:
    if info is not None and info.second_factor:
        return _redirect(_safe_next(next) or landing(info))
    return _login_page(request, settings, next=_safe_next(next))


def _login_page(
    request: Request, settings: SettingsDep, *, next: str | None = None, error: str | None = None, status: int = 200
) -> Response:
    token = request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(32)
    response = render(
        request, "login.html", settings, None, status=status, csrf_token=token, next=next or "", error=error
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=secure_cookies(request, settings),
        path="/ui",
    )
    return response


@router.post("/login", dependencies=[Depends(login_csrf)])
def login(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    username: Annotated[str, Form(max_length=128)] = "",
    password: Annotated[str, Form(max_length=logins.MAX_PASSWORD)] = "",
    totp: Annotated[str, Form(max_length=16)] = "",
    next: Annotated[str, Form(max_length=512)] = "",
) -> Response:
    client = request.client.host if request.client else None
    outcome = logins.login(session, username.strip(), password, totp or None, settings=settings, client=client)
    if not outcome.ok:
        translate = i18n.gettext(request.cookies.get(LANGUAGE_COOKIE) or settings.ui_default_language)
        if outcome.failure is logins.Failure.LOCKED:
            error = translate(
                "Too many failed logins: the account is locked for {minutes} minutes.",
                minutes=max(int(outcome.wait_seconds // 60) + 1, 1),
            )
        elif outcome.failure is logins.Failure.BACKOFF:
            error = translate(
                "Too many failed logins: wait {seconds} seconds before trying again.",
                seconds=int(outcome.wait_seconds) + 1,
            )
        else:
            error = translate("Wrong user name, password or authentication code.")
        return _login_page(request, settings, next=_safe_next(next), error=error, status=401)
    assert outcome.token is not None
    target = "/ui/enrol" if outcome.enrolment_due else (_safe_next(next) or "/ui/")
    response = _redirect(target)
    response.set_cookie(
        SESSION_COOKIE,
        outcome.token,
        httponly=True,
        samesite="strict",
        secure=secure_cookies(request, settings),
        path="/",
        max_age=int(settings.ui_absolute_hours * 3600),
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/ui")
    return response


@router.get("/", include_in_schema=False)
def home(info: Any_) -> Response:
    return _redirect(landing(info))


@router.post("/logout")
def logout(request: Request, session: SessionDep, info: AnyForm) -> Response:
    logins.logout(session, info)
    response = _redirect("/ui/login")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def _enrolling(request: Request, info: SessionInfo | None) -> SessionInfo:
    if info is None:
        raise LoginRequired("/ui/enrol")
    return info


@router.get("/enrol")
def enrol_form(request: Request, session: SessionDep, settings: SettingsDep, info: Current) -> Response:
    current = _enrolling(request, info)
    if current.second_factor:
        return _redirect(landing(current))
    return _enrol_page(request, session, settings, current)


def _enrol_page(
    request: Request, session: SessionDep, settings: SettingsDep, info: SessionInfo, error: str | None = None
) -> Response:
    secret = logins.pending_secret(session, info)
    if secret is None:
        uri = logins.begin_enrolment(session, info)
        secret = logins.pending_secret(session, info)
    else:
        import pyotp

        uri = pyotp.TOTP(secret).provisioning_uri(name=info.principal.name, issuer_name=logins.ISSUER)
    qr = Markup(segno.make(uri, error="m").svg_inline(scale=5, title="TOTP"))  # noqa: S704 - segno's own SVG
    return render(
        request, "enrol.html", settings, info, status=401 if error else 200, qr=qr, secret=secret, error=error
    )


@router.post("/enrol")
async def enrol(request: Request, session: SessionDep, settings: SettingsDep, info: Current) -> Response:
    current = _enrolling(request, info)
    form = await request.form()
    token, code = form.get("csrf_token"), form.get("totp")
    if not isinstance(token, str) or not secrets.compare_digest(token, current.csrf_token):
        raise PageRefused("the form's CSRF token is missing or wrong: reload the page and try again")
    if current.second_factor:
        return _redirect(landing(current))
    if isinstance(code, str) and logins.confirm_enrolment(session, current, code[:16]):
        return _redirect("/ui/")
    translate = i18n.gettext(current.language or settings.ui_default_language)
    return _enrol_page(request, session, settings, current, translate("That code is not right: try the next one."))


@router.post("/language")
async def language(request: Request, session: SessionDep, settings: SettingsDep, info: Current) -> Response:
    form = await request.form()
    chosen, token, back = form.get("language"), form.get("csrf_token"), form.get("next")
    expected = info.csrf_token if info is not None else request.cookies.get(LOGIN_CSRF_COOKIE)
    if not isinstance(token, str) or not expected or not secrets.compare_digest(token, expected):
        raise PageRefused("the form's CSRF token is missing or wrong: reload the page and try again")
    language = i18n.choose(chosen if isinstance(chosen, str) else None, settings.ui_default_language)
    if info is not None:
        logins.set_language(session, info.principal.user_id, language)
    response = _redirect(_safe_next(back if isinstance(back, str) else None) or "/ui/login")
    response.set_cookie(
        LANGUAGE_COOKIE,
        language,
        httponly=True,
        samesite="strict",
        secure=secure_cookies(request, settings),
        path="/",
        max_age=365 * 24 * 3600,
    )
    return response


@router.get("/account")
def account(request: Request, settings: SettingsDep, info: Any_) -> Response:
    return render(request, "account.html", settings, info, expires_at=info.expires_at)
