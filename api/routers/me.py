"""``/v1/me``: what any authenticated caller may do to its own identity — replace, list and revoke its own tokens.

Replacing the calling token is the only way to obtain a token over HTTP, and it never names another user or adds a
token: the token the request was made with is revoked in the same transaction (``revoke_current`` must be true), so
a stolen token cannot mint spares that outlive the victim's rotation. Tokens for other users, further tokens and a
new user's first one are issued on the server with ``kyc users token NAME`` (``kyc.tokens``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, status
from pydantic import BaseModel, ConfigDict, Field

from api.auth import BearerDep, require
from api.deps import SessionDep
from api.params import DbId
from kyc import tokens
from kyc.access import Principal, Role
from kyc.storage.base import utcnow

router = APIRouter(prefix="/v1/me", tags=["me"])
Caller = Annotated[Principal, Depends(require())]


class RotateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    revoke_current: Literal[True] = Field(
        description="Must be true: the token this request is made with is revoked in the same transaction, so the "
        "new token replaces it. Over HTTP a token is never added to the ones a user holds."
    )


class OwnTokenOut(BaseModel):
    user_id: str
    name: str
    role: Role
    token: str = Field(description="The new bearer token; shown only in this response, store it now.")
    token_id: int
    expires_at: datetime
    revoked_current: bool


class TokenOut(BaseModel):
    """A token as listed: never the token itself."""

    id: int
    hint: str | None = Field(description="The token's last four characters, to tell tokens apart.")
    created_at: datetime
    expires_at: datetime
    created_by: str | None
    revoked_at: datetime | None
    revoked_by: str | None
    active: bool
    current: bool = Field(False, description="The token this request was made with.")

    @classmethod
    def of(cls, info: tokens.TokenInfo, now: datetime, current_id: int | None = None) -> TokenOut:
        return cls(
            id=info.id,
            hint=info.hint,
            created_at=info.created_at,
            expires_at=info.expires_at,
            created_by=info.created_by,
            revoked_at=info.revoked_at,
            revoked_by=info.revoked_by,
            active=info.active(now),
            current=info.id == current_id,
        )


class TokensOut(BaseModel):
    tokens: list[TokenOut]


@router.post("/tokens", response_model=OwnTokenOut, status_code=status.HTTP_201_CREATED)
def rotate_token(session: SessionDep, caller: Caller, credentials: BearerDep, body: RotateIn) -> OwnTokenOut:
    """Replace the calling token by a new one (for the caller itself, never for anyone else); audited."""
    assert credentials is not None  # require() has authenticated it
    minted = tokens.rotate(session, caller, credentials.credentials)
    return OwnTokenOut(
        user_id=caller.user_id,
        name=caller.name,
        role=caller.role,
        token=minted.token,
        token_id=minted.info.id,
        expires_at=minted.info.expires_at,
        revoked_current=body.revoke_current,
    )


@router.get("/tokens", response_model=TokensOut)
def list_tokens(session: SessionDep, caller: Caller, credentials: BearerDep) -> TokensOut:
    """The caller's tokens, newest first, revoked and expired ones included; the listing is audited."""
    found = tokens.list_tokens(session, caller.user_id)
    tokens.audit_listing(session, caller.user_id, caller, found)
    current = tokens.find_active(session, credentials.credentials) if credentials is not None else None
    now = utcnow()
    return TokensOut(tokens=[TokenOut.of(info, now, current.id if current else None) for info in found])


@router.delete("/tokens/{token_id}", response_model=TokenOut)
def revoke_token(token_id: DbId, session: SessionDep, caller: Caller) -> TokenOut:
    """Revoke one of the caller's own tokens (the calling one too); another user's token is a 404."""
    info = tokens.revoke(session, caller.user_id, token_id, actor=caller, reason="by_owner")
    return TokenOut.of(info, utcnow())
