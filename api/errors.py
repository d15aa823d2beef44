"""API errors that carry their HTTP status, rendered as ``{"status", "code", "message"}`` (like yente).

Routers raise ``ApiError`` instead of building responses, so every error has the same shape and a stable,
machine-readable ``code`` next to the human message.
"""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse


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


async def handle_api_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)


def install(app: FastAPI) -> None:
    """Register the handler on an app (``api/app.py`` calls this once)."""
    app.add_exception_handler(ApiError, handle_api_error)
