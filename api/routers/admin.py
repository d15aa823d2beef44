"""``/v1/admin``: users, for the admin role only (which sees no case data).

An admin registers, lists and revokes users, lists a user's tokens and revokes them one by one, but never
receives a token for anyone: with
another user's token an admin could act as an analyst and an approver at once and defeat four eyes. A user
registered here has no token; the server operator issues its first one with ``kyc users token NAME`` and hands it
to the person out of band. Everyone replaces their own token with ``POST /v1/me/tokens`` (``api.routers.me``).
Every call is audited with the admin as actor, the listing too.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, status
from pydantic import BaseModel, Field

from api.auth import require
from api.deps import SessionDep
from api.errors import ApiError
from api.params import DbId
from api.routers.me import TokenOut, TokensOut
from kyc import access
from kyc.access import Permission, Principal, Role, UserInfo
from kyc.storage.base import utcnow

router = APIRouter(prefix="/v1/admin", tags=["admin"])
Admin = Annotated[Principal, Depends(require(Permission.MANAGE_USERS))]


class UserCreate(BaseModel):
    name: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9._@-]*$")
    role: Role


class UserOut(BaseModel):
    id: str
    name: str
    role: Role
    created_at: datetime
    disabled_at: datetime | None
    active_tokens: int

    @classmethod
    def of(cls, user: UserInfo) -> UserOut:
        return cls(
            id=user.id,
            name=user.name,
            role=user.role,
            created_at=user.created_at,
            disabled_at=user.disabled_at,
            active_tokens=user.active_tokens,
        )


class UsersOut(BaseModel):
    users: list[UserOut]


class RevokedOut(BaseModel):
    name: str
    revoked_tokens: int
    disabled: bool


@router.get("/users", response_model=UsersOut)
def list_users(session: SessionDep, admin: Admin) -> UsersOut:
    """Every user with role, state and count of active tokens (never a token); the listing is audited."""
    return UsersOut(users=[UserOut.of(u) for u in access.list_users(session, actor=admin)])


@router.post("/users", response_model=UserOut, status_code=status.HTTP_201_CREATED)
def create_user(body: UserCreate, session: SessionDep, admin: Admin) -> UserOut:
    """Register a user with one role and NO token: its first token comes from ``kyc users token NAME`` on the server.

    Returning a token here would let the admin act as the new analyst or approver itself.
    """
    user = access.register_user(session, body.name, body.role, actor=admin)
    return UserOut.of(user)


@router.post("/users/{name}/revoke", response_model=RevokedOut)
def revoke_user(name: str, session: SessionDep, admin: Admin) -> RevokedOut:
    """Revoke all tokens of a user and disable it; an admin cannot lock itself out this way."""
    if name == admin.name:
        raise ApiError(409, "self_revocation", "an admin cannot revoke itself; ask another admin")
    count = access.revoke_user(session, name, actor=admin)
    return RevokedOut(name=name, revoked_tokens=count, disabled=True)


@router.get("/users/{name}/tokens", response_model=TokensOut)
def user_tokens(name: str, session: SessionDep, admin: Admin) -> TokensOut:
    """A user's tokens (id, last four characters, dates, who minted and revoked them; never a token); audited."""
    found = access.user_tokens(session, name, actor=admin)
    now = utcnow()
    return TokensOut(tokens=[TokenOut.of(info, now) for info in found])


@router.post("/users/{name}/tokens/{token_id}/revoke", response_model=TokenOut)
def revoke_user_token(name: str, token_id: DbId, session: SessionDep, admin: Admin) -> TokenOut:
    """Revoke one token of a user (a lost laptop, a leaked CI secret) without disabling the user; audited."""
    info = access.revoke_user_token(session, name, token_id, actor=admin)
    return TokenOut.of(info, utcnow())
