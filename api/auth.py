"""Bearer-token authentication and permission checks for the routers.

``Depends(require(Permission.READ_HITS))`` yields the calling ``Principal``: 401 with ``WWW-Authenticate: Bearer``
when the token is missing, unknown or revoked; 403 when the role lacks a permission. A refusal is written to the
audit log in its own transaction, because the request's own transaction is rolled back with the error.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.deps import SessionDep, SettingsDep
from api.errors import forbidden, unauthorized
from kyc import audit
from kyc.access import Permission, Principal, authenticate
from kyc.settings import Settings
from kyc.storage.db import transaction

_bearer = HTTPBearer(auto_error=False, description="A token from `kyc users create NAME --role ROLE`.")
BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def require(*permissions: Permission) -> Callable[..., Principal]:
    """A dependency returning the authenticated principal holding every one of ``permissions``."""
    needed = frozenset(permissions)

    def dependency(request: Request, credentials: BearerDep, session: SessionDep, settings: SettingsDep) -> Principal:
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise unauthorized()
        principal = authenticate(session, credentials.credentials)
        if principal is None:
            raise unauthorized("the bearer token is unknown or revoked", invalid=True)
        missing = sorted(p.value for p in needed if not principal.can(p))
        if missing:
            _record_refusal(settings, principal, request, missing)
            raise forbidden(f"role {principal.role.value} lacks permission {', '.join(missing)}")
        return principal

    return dependency


def _record_refusal(settings: Settings, principal: Principal, request: Request, missing: list[str]) -> None:
    route = request.scope.get("route")
    path = getattr(route, "path", request.url.path)
    with transaction(settings.database_url) as session:
        audit.record(
            session,
            actor=principal,
            action="access.denied",
            object_type="endpoint",
            object_id=f"{request.method} {path}",
            purpose="security",
            details={"missing": missing},
        )
