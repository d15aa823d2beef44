"""Users for admins: create (no password and no token: those come from the server, so an admin never holds an
officer's identity), disable, reset the second factor, unlock. Every change is audited by ``kyc``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from api.deps import SessionDep, SettingsDep
from api.ui.security import form_page, page
from api.ui.templating import render
from kyc import access, logins
from kyc.access import Permission, Role
from kyc.errors import Invalid
from kyc.logins import SessionInfo

router = APIRouter(prefix="/ui/users", include_in_schema=False)
Admin = Annotated[SessionInfo, Depends(page(Permission.MANAGE_USERS))]
AdminForm = Annotated[SessionInfo, Depends(form_page(Permission.MANAGE_USERS))]
Name = Annotated[str, Form(max_length=128)]


@router.get("")
def users_page(request: Request, session: SessionDep, settings: SettingsDep, info: Admin) -> Response:
    users = access.list_users(session, actor=info.principal)
    states = logins.login_states(session)
    return render(
        request,
        "users.html",
        settings,
        info,
        users=users,
        states=states,
        roles=[r.value for r in Role],
        totp_roles=settings.ui_totp_roles,
        message=request.query_params.get("done"),
    )


def _done(what: str) -> RedirectResponse:
    return RedirectResponse(f"/ui/users?done={what}", status_code=303)


@router.post("")
def create(
    session: SessionDep, info: AdminForm, name: Name = "", role: Annotated[str, Form(max_length=32)] = ""
) -> Response:
    if role not in {r.value for r in Role}:
        raise Invalid("choose a role", field="role")
    try:
        access.register_user(session, name.strip(), role, actor=info.principal)
    except ValueError as exc:
        raise Invalid(str(exc), field="name") from exc
    return _done("created")


@router.post("/{name}/disable")
def disable(name: str, session: SessionDep, info: AdminForm) -> Response:
    user_id = access.revoke_user(session, name[:128], actor=info.principal)
    del user_id
    return _done("disabled")


@router.post("/{name}/reset-totp")
def reset_totp(name: str, session: SessionDep, info: AdminForm) -> Response:
    logins.reset_second_factor(session, name[:128], actor=info.principal)
    return _done("totp_reset")


@router.post("/{name}/unlock")
def unlock(name: str, session: SessionDep, info: AdminForm) -> Response:
    logins.unlock(session, name[:128], actor=info.principal)
    return _done("unlocked")
