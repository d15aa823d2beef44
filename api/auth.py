"""Bearer-token authentication and permission checks for the routers.

``Depends(require(Permission.READ_HITS))`` yields the calling ``Principal``: 401 with ``WWW-Authenticate: Bearer``
when the token is missing, unknown, expired or revoked; 403 when the role lacks a permission. A refusal is written
to the audit log in its own transaction, because the request's own transaction is rolled back with the error.

``require_cached`` is the same check for the job-submission endpoint only, with a short in-process cache of
token -> principal (see :class:`TokenCache`): a revoked token or disabled user can still *submit* jobs to an API
process that authenticated it in the last ``TOKEN_CACHE_SECONDS`` (5 s), never longer. Every endpoint that reads
or changes case data, decisions, users or lists checks the database on every request.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, APIKeyQuery, HTTPAuthorizationCredentials, HTTPBearer

from api.blocking import run_blocking
from api.deps import SessionDep, SettingsDep
from api.errors import forbidden, unauthorized
from kyc import audit
from kyc.access import Permission, Principal, authenticate, hash_token
from kyc.settings import Settings
from kyc.storage.db import transaction

_bearer = HTTPBearer(auto_error=False, description="A token from `kyc users create NAME --role ROLE`.")
BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]

TOKEN_CACHE_SECONDS = 5.0
"""How long a submitting API process may trust a token it checked: the bound on honouring a revocation there."""


def require(*permissions: Permission) -> Callable[..., Principal]:
    """A dependency returning the authenticated principal holding every one of ``permissions``."""
    needed = frozenset(permissions)

    def dependency(request: Request, credentials: BearerDep, session: SessionDep, settings: SettingsDep) -> Principal:
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise unauthorized()
        principal = authenticate(session, credentials.credentials)
        if principal is None:
            raise unauthorized("the bearer token is unknown, expired or revoked", invalid=True)
        missing = sorted(p.value for p in needed if not principal.can(p))
        if missing:
            _record_refusal(settings, principal, *_endpoint(request), missing)
            raise forbidden(f"role {principal.role.value} lacks permission {', '.join(missing)}")
        return principal

    return dependency


class TokenCache:
    """token hash -> principal for ``ttl`` seconds (positive answers only; unknown tokens always ask the database).

    Keyed by the database URL too, as tests point one process at several databases. Bounded: when full, expired
    entries go first, then the oldest. Only touched from the event loop, so no lock.
    """

    def __init__(
        self, ttl: float = TOKEN_CACHE_SECONDS, max_entries: int = 1024, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self.clock = clock
        self._entries: dict[tuple[str, str], tuple[Principal, float]] = {}

    def get(self, database_url: str, digest: str) -> Principal | None:
        found = self._entries.get((database_url, digest))
        if found is None:
            return None
        principal, expires = found
        if self.clock() >= expires:
            self._entries.pop((database_url, digest), None)
            return None
        return principal

    def put(self, database_url: str, digest: str, principal: Principal) -> None:
        if len(self._entries) >= self.max_entries:
            now = self.clock()
            for key in [k for k, (_p, expires) in self._entries.items() if expires <= now]:
                del self._entries[key]
            while len(self._entries) >= self.max_entries:
                del self._entries[next(iter(self._entries))]
        self._entries[(database_url, digest)] = (principal, self.clock() + self.ttl)

    def clear(self) -> None:
        self._entries.clear()


def token_cache(request: Request) -> TokenCache:
    """The application's cache (one per app, so one per API process)."""
    cache: TokenCache | None = getattr(request.app.state, "token_cache", None)
    if cache is None:
        cache = request.app.state.token_cache = TokenCache()
    return cache


def require_cached(*permissions: Permission) -> Callable[..., Awaitable[Principal]]:
    """``require`` for the submission hot path: async, the database is asked at most every ``TOKEN_CACHE_SECONDS``
    per token and process, and only through the blocking pool (never on the event loop)."""
    needed = frozenset(permissions)

    async def dependency(request: Request, credentials: BearerDep, settings: SettingsDep) -> Principal:
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise unauthorized()
        token = credentials.credentials
        cache, digest = token_cache(request), hash_token(token)
        principal = cache.get(settings.database_url, digest)
        if principal is None:
            principal = await run_blocking(_authenticate, settings.database_url, token)
            if principal is None:
                raise unauthorized("the bearer token is unknown, expired or revoked", invalid=True)
            cache.put(settings.database_url, digest, principal)
        missing = sorted(p.value for p in needed if not principal.can(p))
        if missing:
            await run_blocking(_record_refusal, settings, principal, *_endpoint(request), missing)
            raise forbidden(f"role {principal.role.value} lacks permission {', '.join(missing)}")
        return principal

    return dependency


def _authenticate(database_url: str, token: str) -> Principal | None:
    with transaction(database_url) as session:
        return authenticate(session, token)


def _endpoint(request: Request) -> tuple[str, str]:
    route = request.scope.get("route")
    return request.method, getattr(route, "path", request.url.path)


def _record_refusal(settings: Settings, principal: Principal, method: str, path: str, missing: list[str]) -> None:
    with transaction(settings.database_url) as session:
        audit.record(
            session,
            actor=principal,
            action="access.denied",
            object_type="endpoint",
            object_id=f"{method} {path}",
            purpose="security",
            details={"missing": missing},
        )


_api_key_header = APIKeyHeader(
    name="Authorization",
    auto_error=False,
    description="`Bearer TOKEN` or `ApiKey TOKEN` (nomenklatura's YenteEnricher): a `screening_api` user's token.",
)
_api_key_query = APIKeyQuery(name="api_key", auto_error=False, description="The token, as hosted-API clients send it.")


def screening_api_token(authorization: str | None, api_key: str | None) -> str | None:
    """The token of a yente-protocol client: ``Authorization: Bearer …``, ``Authorization: ApiKey …`` or the
    ``api_key`` query parameter (in that order)."""
    scheme, _, value = (authorization or "").strip().partition(" ")
    if scheme.lower() in ("bearer", "apikey") and value.strip():
        return value.strip()
    if api_key and api_key.strip():
        return api_key.strip()
    return None


def require_screening_api(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    authorization: Annotated[str | None, Security(_api_key_header)] = None,
    api_key: Annotated[str | None, Security(_api_key_query)] = None,
) -> Principal:
    """The OpenSanctions-compatible API's check: any of the three ways of sending the token, and the
    ``use_screening_api`` permission (only the ``screening_api`` role holds it)."""
    token = screening_api_token(authorization, api_key)
    if token is None:
        raise unauthorized("an API key is required (Authorization: Bearer|ApiKey TOKEN, or api_key=TOKEN)")
    principal = authenticate(session, token)
    if principal is None:
        raise unauthorized("the API key is unknown, expired or revoked", invalid=True)
    if not principal.can(Permission.USE_SCREENING_API):
        _record_refusal(settings, principal, *_endpoint(request), [Permission.USE_SCREENING_API.value])
        raise forbidden(f"role {principal.role.value} lacks permission {Permission.USE_SCREENING_API.value}")
    return principal
