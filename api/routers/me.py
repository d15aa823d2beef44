"""``/v1/me``: what any authenticated caller may do to its own identity — rotate its own bearer token.

This is the only way to obtain a token over HTTP, and it never names another user: an admin can no longer issue
itself a token of an analyst or approver. Tokens for other users, including a new user's first
one, are issued on the server with ``kyc users token NAME``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, status
from pydantic import BaseModel, Field

from api.auth import BearerDep, require
from api.deps import SessionDep
from api.errors import ApiError
from kyc import access
from kyc.access import Principal, Role

router = APIRouter(prefix="/v1/me", tags=["me"])
Caller = Annotated[Principal, Depends(require())]


class RotateIn(BaseModel):
    revoke_current: bool = Field(
        False,
        description="Revoke the token this request was made with, in the same transaction, so the new token is the "
        "only one left. Without it the old token stays valid until the server operator revokes it.",
    )


class OwnTokenOut(BaseModel):
    user_id: str
    name: str
    role: Role
    token: str = Field(description="The new bearer token; shown only in this response, store it now.")
    revoked_current: bool


@router.post("/tokens", response_model=OwnTokenOut, status_code=status.HTTP_201_CREATED)
def rotate_token(
    session: SessionDep, caller: Caller, credentials: BearerDep, body: RotateIn | None = None
) -> OwnTokenOut:
    """A new token for the caller itself (never for anyone else), optionally revoking the one used for this call."""
    revoke = (body or RotateIn()).revoke_current
    current = credentials.credentials if revoke and credentials is not None else None
    try:
        token = access.rotate_own_token(session, caller, revoke=current)
    except ValueError as exc:
        raise ApiError(409, "token_not_active", str(exc)) from exc
    return OwnTokenOut(user_id=caller.user_id, name=caller.name, role=caller.role, token=token, revoked_current=revoke)
