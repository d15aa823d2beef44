"""API errors rendered as ``{"status", "code", "message"}``, and the one place domain errors get a status.

Under the OpenSanctions-compatible API's base path errors are rendered as yente renders them, ``{"detail": …}``,
and an invalid query is a 400 there (yente's status), not a 422.

Routers let ``kyc.errors`` propagate: :func:`handle_domain_error` maps the family (not found 404, conflict 409,
refused 403, invalid 422 with the field path, unavailable 503 with ``Retry-After``). ``ApiError`` is for what only
the HTTP layer knows (authentication, request shape). Every error has the same shape and a stable,
machine-readable ``code`` next to the human message.
"""

from __future__ import annotations

from collections.abc import Mapping

import structlog
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException

from kyc import errors as domain
from kyc.storage.db import is_outage, is_retryable_conflict

log = structlog.get_logger(__name__)

OUTAGE_RETRY_AFTER = 5
"""Seconds a client is told to wait when the database is away: restarts and fail-overs take seconds."""


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})

    def body(self) -> dict[str, object]:
        return {"status": self.status, "code": self.code, "message": self.message}


def unauthorized(message: str = "a valid bearer token is required", *, invalid: bool = False) -> ApiError:
    challenge = 'Bearer error="invalid_token"' if invalid else "Bearer"
    return ApiError(401, "unauthorized", message, {"WWW-Authenticate": challenge})


def forbidden(message: str) -> ApiError:
    return ApiError(403, "forbidden", message)


def not_found(what: str) -> ApiError:
    return ApiError(404, "not_found", f"{what} not found")


def is_compatible_api(request: Request) -> bool:
    """Whether the request is for the yente-protocol API (its base path is kept on the app by ``create_app``)."""
    prefix: str | None = getattr(request.app.state, "opensanctions_path", None)
    path = request.url.path
    return prefix is not None and (path == prefix or path.startswith(prefix + "/"))


async def handle_api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    if is_compatible_api(request):
        return JSONResponse({"detail": exc.message}, status_code=exc.status, headers=exc.headers)
    return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)


STATUS: dict[type[domain.KycError], int] = {
    domain.NotFound: 404,
    domain.Conflict: 409,
    domain.Refused: 403,
    domain.Invalid: 422,
    domain.Unavailable: 503,
}


def status_of(exc: domain.KycError) -> int:
    for kind, status in STATUS.items():
        if isinstance(exc, kind):
            return status
    return 500


def from_domain(exc: domain.KycError) -> ApiError:
    """The HTTP form of a domain error (also used by routers that must audit a refusal before answering)."""
    status = status_of(exc)
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, domain.Unavailable) else None
    return ApiError(status, exc.code, exc.message, headers)


async def handle_domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, domain.KycError)
    error = from_domain(exc)
    if is_compatible_api(request):
        status = 400 if isinstance(exc, domain.Invalid) else error.status
        return JSONResponse({"detail": exc.message}, status_code=status, headers=error.headers)
    body = error.body()
    if isinstance(exc, domain.Invalid) and exc.field:
        body["errors"] = [{"field": exc.field, "loc": exc.field.split("."), "reason": exc.message}]
    return JSONResponse(body, status_code=error.status, headers=error.headers)


async def handle_database_error(request: Request, exc: Exception) -> JSONResponse:
    """A database outage is 503 with ``Retry-After`` (the client retries, with the same Idempotency-Key for a
    submission); any other database error is a plain 500 in the usual shape. Only the error's class is logged:
    its message and parameters may carry personal data. Answered here rather than by the server-error fallback,
    which would also drop the client's keep-alive connection."""
    if is_outage(exc) or is_retryable_conflict(exc):  # a deadlock still lost after its retries: try again
        log.warning("api.database_unavailable", path=request.url.path, error=type(exc).__name__)
        body = {"status": 503, "code": "unavailable", "message": "the database is unavailable; retry shortly"}
        return JSONResponse(body, status_code=503, headers={"Retry-After": str(OUTAGE_RETRY_AFTER)})
    log.error("api.database_error", path=request.url.path, error=type(exc).__name__)
    body = {"status": 500, "code": "internal_error", "message": "internal error"}
    return JSONResponse(body, status_code=500)


_HTTP_CODES = {400: "bad_request", 404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}


async def handle_http_exception(_request: Request, exc: Exception) -> JSONResponse:
    """The framework's own refusals (a body that is not JSON, an unknown path or method) in the one error shape."""
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "error")
    message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
    body = {"status": exc.status_code, "code": code, "message": message}
    return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)


def install(app: FastAPI) -> None:
    """Register the handlers on an app (``api/app.py`` calls this once)."""
    app.add_exception_handler(ApiError, handle_api_error)
    app.add_exception_handler(domain.KycError, handle_domain_error)
    app.add_exception_handler(SQLAlchemyError, handle_database_error)
    app.add_exception_handler(StarletteHTTPException, handle_http_exception)
