"""Rendering workbench pages: one Jinja2 environment (autoescaped), the caller's language, and the navigation
each role sees — derived from the same permissions that guard the pages (``NAVIGATION``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from api.ui import i18n
from api.ui.security import LANGUAGE_COOKIE
from kyc.access import Permission
from kyc.crypto import mask_personal_id
from kyc.logins import SessionInfo
from kyc.settings import Settings

TEMPLATES = Path(__file__).parent / "templates"


@dataclass(frozen=True)
class NavItem:
    path: str
    label: str
    permission: Permission | None


NAVIGATION = (
    NavItem("/ui/cases", "Cases", Permission.READ_HITS),
    NavItem("/ui/pep-approvals", "PEP approvals", Permission.READ_PEP_APPROVALS),
    NavItem("/ui/search", "Search", Permission.SEARCH),
    NavItem("/ui/lists", "Lists", Permission.READ_LISTS),
    NavItem("/ui/overview", "Overview", Permission.READ_HITS),
    NavItem("/ui/audit", "Audit", Permission.READ_AUDIT),
    NavItem("/ui/users", "Users", Permission.MANAGE_USERS),
    NavItem("/ui/account", "Account", None),
)
"""The pages in menu order with the permission each needs (the routers use the same permission)."""


def landing(info: SessionInfo) -> str:
    """The first page of the menu the person may see."""
    for item in NAVIGATION:
        if item.permission is None or info.principal.can(item.permission):
            return item.path
    return "/ui/account"


def _masked(value: object) -> str:
    return mask_personal_id(str(value)) if value else ""


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.0f} %"


environment = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
environment.filters["masked"] = _masked
environment.filters["percent"] = _percent


def language_of(request: Request, info: SessionInfo | None, settings: Settings) -> str:
    chosen = info.language if info is not None and info.language else request.cookies.get(LANGUAGE_COOKIE)
    return i18n.choose(chosen, settings.ui_default_language)


def render(
    request: Request,
    template: str,
    settings: Settings,
    info: SessionInfo | None,
    *,
    status: int = 200,
    csrf_token: str | None = None,
    **context: Any,
) -> HTMLResponse:
    language = language_of(request, info, settings)
    translate = i18n.gettext(language)
    nav = []
    if info is not None and info.second_factor:
        nav = [i for i in NAVIGATION if i.permission is None or info.principal.can(i.permission)]

    def when(moment: datetime | None) -> str:
        return i18n.when(moment, language)

    body = environment.get_template(template).render(
        _=translate,
        lang=language,
        languages=i18n.LANGUAGES,
        user=info.principal if info is not None else None,
        csrf_token=csrf_token or (info.csrf_token if info is not None else ""),
        nav=nav,
        path=request.url.path,
        when=when,
        **context,
    )
    return HTMLResponse(body, status_code=status)
