"""The FastAPI application (OpenAPI at ``/docs``).

``create_app`` takes the function that hands a job id to the workers, because ``api`` may import only ``kyc``:
``kyc serve`` (the CLI, which may import everything) wires in the Celery task. Without one, accepted jobs simply
wait for the sweeper — slower, never lost.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import unquote_plus

import structlog
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import text
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import api.routers
from api import errors, ui
from api.deps import SettingsDep
from api.metrics import MetricsExporter
from api.readiness import Broker, IndexWarmup
from api.schemas import ErrorOut, Health
from kyc.crypto import redact
from kyc.settings import Settings
from kyc.settings import get_settings as default_settings
from kyc.storage.db import get_engine
from kyc.text import control_characters

log = structlog.get_logger(__name__)


_FIELD_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,39}$")
UNKNOWN_FIELD = "(unknown field)"


def _loc(loc: tuple[Any, ...] | list[Any], kind: str) -> list[Any]:
    """The error's location, with the name of an unknown field kept only when it looks like a field name: a client
    that sends ``{"170580-123L": ...}`` must not find the code echoed (and logged) in the answer."""
    parts = list(loc)
    if kind == "extra_forbidden" and parts and not (isinstance(parts[-1], str) and _FIELD_NAME.match(parts[-1])):
        parts[-1] = UNKNOWN_FIELD
    return parts


def _field(loc: tuple[Any, ...] | list[Any]) -> str:
    """``("body", "persons", 0, "personal_id")`` -> ``persons.0.personal_id`` (the path a client can act on)."""
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "header", "query", "path"):
        parts = parts[1:] or parts
    return ".".join(parts)


def _reason(err: Mapping[str, Any]) -> str:
    """pydantic's message without the rejected value, which some validators quote (``month out of range in
    1980-13-01``): error bodies end up in clients' logs."""
    message = str(err.get("msg", ""))
    value = err.get("input")
    if isinstance(value, str) and len(value.strip()) >= 2 and value in message:
        message = message.replace(value, "the given value")
    return redact(message)


async def validation_error(_request: Request, exc: Exception) -> JSONResponse:
    """422 with every field path and reason — and never the rejected value, which may be a personal id."""
    assert isinstance(exc, RequestValidationError)
    if errors.is_compatible_api(_request):
        # yente's (FastAPI's) shape, without the rejected input, which may be a name or a personal id
        detail = [
            {"loc": _loc(e.get("loc", ()), str(e.get("type", ""))), "msg": _reason(e), "type": e.get("type")}
            for e in exc.errors()
        ]
        return JSONResponse({"detail": detail}, status_code=422)
    details = []
    for err in exc.errors():
        loc = _loc(err.get("loc", ()), str(err.get("type", "")))
        details.append({"field": _field(loc), "loc": loc, "reason": _reason(err)})
    message = "; ".join(f"{d['field']}: {d['reason']}" for d in details)
    return JSONResponse(
        {"status": 422, "code": "validation_error", "message": message, "errors": details}, status_code=422
    )


class RequestGuard:
    """Cheap refusals before any body is read or parsed (ASGI middleware, so it sees the raw stream).

    ``/v1/*`` without an ``Authorization: Bearer`` header gets 401 at once: an anonymous client cannot make the
    service read, buffer or parse anything (the token itself is still checked by ``api.auth``). A body longer than
    ``max_bytes`` gets 413, whether it announces its length or streams chunks without one; the body is read here
    up to that limit and handed on to the application unchanged.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        path: str = scope.get("path", "")
        if (path == "/v1" or path.startswith("/v1/")) and not _has_bearer(headers.get("authorization")):
            error = errors.unauthorized()
            await JSONResponse(error.body(), status_code=401, headers=error.headers)(scope, receive, send)
            return
        hostile = _control_characters_in_url(scope)
        if hostile is not None:
            await JSONResponse(hostile, status_code=422)(scope, receive, send)
            return
        length = headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
            await self._too_large(scope, receive, send)
            return
        messages = await self._read_body(receive)
        if messages is None:
            await self._too_large(scope, receive, send)
            return
        await self.app(scope, _replay(messages, receive), send)

    async def _read_body(self, receive: Receive) -> list[Message] | None:
        """The request's body messages, or None once they exceed the limit (nothing more is read then)."""
        messages: list[Message] = []
        total = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                return messages
            total += len(message.get("body", b""))
            if total > self.max_bytes:
                return None
            if not message.get("more_body", False):
                return messages

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = {"status": 413, "code": "payload_too_large", "message": f"request body over {self.max_bytes} bytes"}
        await JSONResponse(body, status_code=413, headers={"Connection": "close"})(scope, receive, send)


def _control_characters_in_url(scope: Scope) -> dict[str, object] | None:
    """A path or query string holding control characters (``%00``: PostgreSQL text cannot even hold NUL) is
    refused before any router turns it into a database parameter."""
    query = unquote_plus(bytes(scope.get("query_string", b"")).decode("latin-1"))
    for part, value in (("path", str(scope.get("path", ""))), ("query", query)):
        found = control_characters(value)
        if found:
            reason = f"contains control characters ({', '.join(found[:5])})"
            return {
                "status": 422,
                "code": "validation_error",
                "message": f"{part}: {reason}",
                "errors": [{"field": part, "loc": [part], "reason": reason}],
            }
    return None


def _has_bearer(authorization: str | None) -> bool:
    scheme, _, token = (authorization or "").strip().partition(" ")
    return scheme.lower() == "bearer" and bool(token.strip())


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replay() -> Message:
        return pending.pop(0) if pending else await receive()

    return replay


def _error(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {"model": ErrorOut, "description": description}
    if headers:
        response["headers"] = headers
    return response


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _error("Malformed request (not JSON, wrong content type)."),
    401: _error("No valid bearer token.", {"WWW-Authenticate": {"schema": {"type": "string"}}}),
    403: _error("The token's role may not do this."),
    404: _error("No such record, or none the caller may see."),
    409: _error("The record's current state does not allow this (decided, ended, replaced meanwhile): re-read it."),
    413: _error("Request body too large."),
    422: _error("Invalid request: the field path and the reason."),
    503: _error(
        "A dependency (the database, no active list) is unavailable: retry after the given seconds.",
        {"Retry-After": {"description": "Seconds to wait before retrying.", "schema": {"type": "integer"}}},
    ),
}
"""What every authenticated route may answer besides its own success (OpenAPI documents them, so clients and
schema checkers know them). A route's own ``responses`` (409, a 200 for a replay) come on top."""


def _include_routers(app: FastAPI, settings: Settings) -> None:
    """Every module in ``api/routers`` with a ``router`` (others add theirs without editing this file); a module
    naming a ``PREFIX_SETTING`` is mounted under that setting's path."""
    for info in sorted(pkgutil.iter_modules(api.routers.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"api.routers.{info.name}")
        router = getattr(module, "router", None)
        if router is not None:
            setting = getattr(module, "PREFIX_SETTING", None)
            if setting:  # a protocol of its own (the OpenSanctions-compatible API), with its own error shape
                app.include_router(router, prefix=str(getattr(settings, setting)))
            else:
                app.include_router(router, responses=ERROR_RESPONSES)


def _docs_enabled(settings: Settings) -> bool:
    """The OpenAPI schema and its pages are served outside production, or when a deployment opts in.

    They hold no case data, but DESIGN.md allows only ``/healthz`` without a token, so production keeps them off
    unless ``KYC_API_DOCS=true``.
    """
    if settings.api_docs is not None:
        return settings.api_docs
    return settings.env != "production"


def create_app(
    settings: Settings | None = None,
    enqueue: Callable[[str], None] | None = None,
    *,
    broker: Broker | None = None,
) -> FastAPI:
    current = settings or default_settings()
    docs = _docs_enabled(current)
    app = FastAPI(
        title="KYC/AML screening",
        version="0.1.0",
        description=(
            "Sanctions, asset-freeze and PEP screening of business customers and their people: the service's own "
            f"API under `/v1`, and an OpenSanctions-compatible API (yente 5.x protocol) under "
            f"`{current.opensanctions_path}` for Marble, nomenklatura's YenteEnricher and other yente clients."
        ),
        openapi_tags=[
            {
                "name": "OpenSanctions-compatible (yente 5.x)",
                "description": (
                    "yente's /match, /search, /entities, /catalog and /algorithms, answered by this service's "
                    "engine: a client switches by setting its host to this service's URL plus "
                    f"`{current.opensanctions_path}`. Token of a `screening_api` user as `Authorization: Bearer`, "
                    "`Authorization: ApiKey` or `api_key=`. Scores are calibrated so that 0.70 is this service's "
                    'own threshold; errors are `{"detail": ...}`.'
                ),
            }
        ],
        docs_url=None,  # served by api.ui with local assets (offline), when enabled
        redoc_url=None,
        openapi_url="/openapi.json" if docs else None,
    )
    app.state.enqueue = enqueue
    app.state.broker = broker  # asked by /readyz and /metrics; None: the embedded broker
    app.state.index_warmup = IndexWarmup()
    app.state.metrics = MetricsExporter(broker)
    app.state.settings = settings  # None: the environment's settings, read per request (see api.deps)
    app.add_middleware(RequestGuard, max_bytes=current.max_request_bytes)
    errors.install(app)
    app.add_exception_handler(RequestValidationError, validation_error)

    @app.get("/healthz", response_model=Health, tags=["health"], responses={503: {"model": Health}})
    def healthz(current: SettingsDep, response: Response) -> Health:
        """Open: liveness plus a database round trip (for the load balancer and compose healthchecks)."""
        try:
            with get_engine(current.database_url).connect() as connection:
                connection.execute(text("SELECT 1"))
        except Exception as exc:
            log.warning("healthz.database", error=type(exc).__name__)
            response.status_code = 503
            return Health(status="degraded", database="unreachable")
        return Health(status="ok", database="ok")

    app.state.opensanctions_path = current.opensanctions_path
    _include_routers(app, current)
    ui.install(app, docs=docs, json_validation_handler=validation_error)
    return app
