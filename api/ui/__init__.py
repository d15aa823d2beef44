"""The officers' workbench under ``/ui/`` (server-rendered pages, vendored static files, no CDN) and the API
documentation pages with their assets served locally, so both work offline.

``install`` adds both to the app: the security headers, the static files, the page routers in ``api/ui/routes`` and
the error pages (the JSON API keeps its JSON errors).
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import quote

import fastapi_offline
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

import api.ui.routes
from api import errors
from api.ui.security import EnrolmentRequired, LoginRequired, PageRefused, SecurityHeaders
from api.ui.templating import render
from kyc.errors import Invalid, KycError
from kyc.settings import Settings
from kyc.settings import get_settings as default_settings

STATIC = Path(__file__).parent / "static"
DOCS_STATIC = Path(fastapi_offline.__file__).parent / "static"

_SWAGGER = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title} – API</title>
<link rel="stylesheet" href="/docs/static/swagger-ui.css"><link rel="icon" href="/docs/static/favicon.png"></head>
<body><div id="swagger-ui"></div>
<script src="/docs/static/swagger-ui-bundle.js"></script><script src="/ui/static/swagger-init.js"></script>
</body></html>"""
_REDOC = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title} – API</title>
<link rel="icon" href="/docs/static/favicon.png"></head>
<body><redoc spec-url="/openapi.json"></redoc><script src="/docs/static/redoc.standalone.js"></script></body></html>"""


def _is_ui(request: Request) -> bool:
    return request.url.path == "/ui" or request.url.path.startswith("/ui/")


def _settings(request: Request) -> Settings:
    found: Settings | None = getattr(request.app.state, "settings", None)
    return found if found is not None else default_settings()


def _error_page(request: Request, status: int, message: str) -> Response:
    return render(request, "error.html", _settings(request), None, status=status, status_code=status, message=message)


async def _login_required(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LoginRequired)
    return RedirectResponse(f"/ui/login?next={quote(exc.next_path, safe='/')}", status_code=303)


async def _enrolment_required(_request: Request, _exc: Exception) -> Response:
    return RedirectResponse("/ui/enrol", status_code=303)


async def _refused(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PageRefused)
    return _error_page(request, exc.status, exc.message)


async def _domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, KycError)
    if not _is_ui(request):
        return await errors.handle_domain_error(request, exc)
    message = exc.message if not isinstance(exc, Invalid) or not exc.field else f"{exc.field}: {exc.message}"
    return _error_page(request, errors.status_of(exc), message)


Handler = Callable[[Request, Exception], Awaitable[Response]]


def _validation(json_handler: Handler) -> Handler:
    async def handler(request: Request, exc: Exception) -> Response:
        if not _is_ui(request):
            return await json_handler(request, exc)
        assert isinstance(exc, RequestValidationError)
        fields = sorted({".".join(str(p) for p in e.get("loc", ())[1:]) for e in exc.errors()})
        return _error_page(request, 422, "check the fields: " + ", ".join(fields))

    return handler


def _docs(app: FastAPI) -> None:
    title = app.title
    app.mount("/docs/static", StaticFiles(directory=DOCS_STATIC), name="docs-static")

    @app.get("/docs", include_in_schema=False)
    def swagger() -> HTMLResponse:
        return HTMLResponse(_SWAGGER.format(title=title))

    @app.get("/docs/oauth2-redirect", include_in_schema=False)
    def oauth2_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        return HTMLResponse(_REDOC.format(title=title))


async def _root() -> RedirectResponse:
    """``/`` is where a person types the address: the workbench (systems use ``/v1``)."""
    return RedirectResponse("/ui/", status_code=303)


def install(app: FastAPI, *, docs: bool, json_validation_handler: Handler) -> None:
    app.add_middleware(SecurityHeaders)
    app.add_api_route("/", _root, methods=["GET"], include_in_schema=False)
    app.mount("/ui/static", StaticFiles(directory=STATIC), name="ui-static")
    if docs:
        _docs(app)
    for info in sorted(pkgutil.iter_modules(api.ui.routes.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"api.ui.routes.{info.name}")
        router = getattr(module, "router", None)
        if router is not None:
            app.include_router(router)
    app.add_exception_handler(LoginRequired, _login_required)
    app.add_exception_handler(EnrolmentRequired, _enrolment_required)
    app.add_exception_handler(PageRefused, _refused)
    app.add_exception_handler(KycError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation(json_validation_handler))
