"""``/v1/admin``: users and bearer tokens, for the admin role only (which sees no case data).

A new token is returned once in the response body and never again; every change is audited with the admin as actor.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, status
from pydantic import BaseModel, Field

from api.auth import require
from api.deps import SessionDep
from api.errors import ApiError, not_found
from kyc import access
from kyc.access import Permission, Principal, Role, UserInfo

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


class TokenOut(BaseModel):
    user_id: str
    name: str
    role: Role
    token: str = Field(description="The bearer token; shown only in this response, store it now.")


class RevokedOut(BaseModel):
    name: str
    revoked_tokens: int
    disabled: bool


@router.get("/users", response_model=UsersOut)
def list_users(session: SessionDep, _admin: Admin) -> UsersOut:
    """Every user with role, state and count of active tokens (never a token)."""
    return UsersOut(users=[UserOut.of(u) for u in access.list_users(session)])


@router.post("/users", response_model=TokenOut, status_code=status.HTTP_201_CREATED)
def create_user(body: UserCreate, session: SessionDep, admin: Admin) -> TokenOut:
    """Create a user with one role and return its first bearer token."""
    try:
        principal, token = access.create_user(session, body.name, body.role, actor=admin)
    except access.UserExists as exc:
        raise ApiError(409, "user_exists", str(exc)) from exc
    return TokenOut(user_id=principal.user_id, name=principal.name, role=principal.role, token=token)


@router.post("/users/{name}/tokens", response_model=TokenOut, status_code=status.HTTP_201_CREATED)
def issue_token(name: str, session: SessionDep, admin: Admin) -> TokenOut:
    """An additional token (rotation: issue, switch the client, revoke the old one)."""
    try:
        token = access.issue_token(session, name, actor=admin)
    except access.UnknownUser as exc:
        raise not_found(f"user {name!r}") from exc
    except ValueError as exc:
        raise ApiError(409, "user_disabled", str(exc)) from exc
    user = next(u for u in access.list_users(session) if u.name == name)
    return TokenOut(user_id=user.id, name=user.name, role=user.role, token=token)


@router.post("/users/{name}/revoke", response_model=RevokedOut)
def revoke_user(name: str, session: SessionDep, admin: Admin) -> RevokedOut:
    """Revoke all tokens of a user and disable it; an admin cannot lock itself out this way."""
    if name == admin.name:
        raise ApiError(409, "self_revocation", "an admin cannot revoke itself; ask another admin")
    try:
        count = access.revoke_user(session, name, actor=admin)
    except access.UnknownUser as exc:
        raise not_found(f"user {name!r}") from exc
    return RevokedOut(name=name, revoked_tokens=count, disabled=True)
