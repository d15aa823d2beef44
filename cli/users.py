"""``kyc users …``: create users with a role, list them, issue, list and revoke bearer tokens.

The token is printed once, alone on stdout, so a script can capture it (``TOKEN=$(kyc users create …)``); it
cannot be shown again because only its hash is stored. This server-side CLI is the only place a token for somebody
else is issued: users an admin registers over HTTP have none until ``kyc users token NAME`` gives them their first,
so an admin never holds an officer's identity.
"""

from __future__ import annotations

import getpass
import json
import sys
from typing import Annotated

import typer

from cli.common import fail, settings
from kyc import access, logins, tokens
from kyc.access import Role
from kyc.storage.base import utcnow
from kyc.storage.db import transaction

app = typer.Typer(help="Users, roles and bearer tokens.", no_args_is_help=True)


def cli_actor() -> str:
    """Who acts from the command line: recorded in the audit log as ``cli:<os user>``."""
    try:
        return f"cli:{getpass.getuser()}"[:128]
    except (KeyError, OSError):
        return "cli:unknown"


@app.command("create")
def create_command(
    name: Annotated[str, typer.Argument(help="A unique user name (letters, digits, . _ @ -).")],
    role: Annotated[Role, typer.Option("--role", help="The user's single role.", case_sensitive=False)],
) -> None:
    """Create a user and print its bearer token (shown only this once)."""
    config = settings()
    try:
        with transaction(config.database_url) as session:
            _, token = access.create_user(session, name, role, actor=cli_actor())
    except (access.UserExists, ValueError) as exc:
        fail(str(exc))
    typer.echo(token)
    typer.echo(f"created user {name} with role {role.value}; store the token now, it is not shown again", err=True)


@app.command("token")
def token_command(name: Annotated[str, typer.Argument(help="An existing, enabled user.")]) -> None:
    """Issue a token for a user: the first one of a user registered over HTTP, or a further one (rotate: issue,
    switch the client, then revoke the old one). Hand it to that person only."""
    config = settings()
    try:
        with transaction(config.database_url) as session:
            token = access.issue_token(session, name, actor=cli_actor())
    except (access.UnknownUser, ValueError, tokens.TooManyTokens) as exc:
        fail(str(exc))
    typer.echo(token)


@app.command("tokens")
def tokens_command(
    name: Annotated[str, typer.Argument(help="The user whose tokens to list.")],
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """A user's tokens, newest first: id, last four characters, created, expires, revoked (never the token)."""
    config = settings()
    try:
        with transaction(config.database_url) as session:
            found = access.user_tokens(session, name, actor=cli_actor())
    except access.UnknownUser as exc:
        fail(str(exc))
    now = utcnow()
    if as_json:
        rows = [
            {
                "id": t.id,
                "hint": t.hint,
                "created_at": t.created_at.isoformat(),
                "expires_at": t.expires_at.isoformat(),
                "created_by": t.created_by,
                "revoked_at": t.revoked_at.isoformat() if t.revoked_at else None,
                "revoked_by": t.revoked_by,
                "active": t.active(now),
            }
            for t in found
        ]
        typer.echo(json.dumps(rows, indent=2))
        return
    for t in found:
        state = "active" if t.active(now) else ("revoked" if t.revoked_at else "expired")
        typer.echo(
            f"{t.id:>6}  …{t.hint or '????'}  {state:8} created {t.created_at:%Y-%m-%d} by {t.created_by or '-'}  "
            f"expires {t.expires_at:%Y-%m-%d}"
        )


@app.command("revoke-token")
def revoke_token_command(
    name: Annotated[str, typer.Argument(help="The token's user.")],
    token_id: Annotated[int, typer.Argument(help="The token id (kyc users tokens NAME).", min=1, max=2**31 - 1)],
) -> None:
    """Revoke one token of a user; the user and its other tokens stay as they are."""
    config = settings()
    try:
        with transaction(config.database_url) as session:
            info = access.revoke_user_token(session, name, token_id, actor=cli_actor())
    except (access.UnknownUser, tokens.TokenNotFound) as exc:
        fail(str(exc))
    typer.echo(f"token {info.id} of {name} is revoked")


@app.command("list")
def list_command(as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False) -> None:
    """Users with their role, state and number of active tokens (never the tokens themselves)."""
    config = settings()
    with transaction(config.database_url) as session:
        users = access.list_users(session, actor=cli_actor())
    if as_json:
        rows = [
            {
                "id": u.id,
                "name": u.name,
                "role": u.role.value,
                "created_at": u.created_at.isoformat(),
                "disabled_at": u.disabled_at.isoformat() if u.disabled_at else None,
                "active_tokens": u.active_tokens,
            }
            for u in users
        ]
        typer.echo(json.dumps(rows, indent=2))
        return
    if not users:
        typer.echo("no users yet; create one with: kyc users create NAME --role ROLE")
        return
    for u in users:
        state = f"disabled {u.disabled_at:%Y-%m-%d}" if u.disabled_at else "active"
        typer.echo(
            f"{u.name:24} {u.role.value:11} {state:20} tokens {u.active_tokens}  created {u.created_at:%Y-%m-%d}"
        )


@app.command("revoke")
def revoke_command(name: Annotated[str, typer.Argument(help="The user to disable.")]) -> None:
    """Revoke every token of a user and disable the user (kept for the audit trail, never deleted)."""
    config = settings()
    try:
        with transaction(config.database_url) as session:
            count = access.revoke_user(session, name, actor=cli_actor())
    except access.UnknownUser as exc:
        fail(str(exc))
    typer.echo(f"revoked {count} token(s) of {name}; the user is disabled")


@app.command("password")
def password_command(name: Annotated[str, typer.Argument(help="The person who logs in to the workbench.")]) -> None:
    """Set a person's workbench password: from stdin when piped, else a hidden prompt asked twice. Their open
    browser sessions end; failed logins and a lockout are cleared."""
    config = settings()
    if sys.stdin.isatty():
        password = getpass.getpass("new password: ")
        if getpass.getpass("again: ") != password:
            fail("the passwords differ")
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    try:
        with transaction(config.database_url) as session:
            logins.set_password(session, name, password, actor=cli_actor())
    except (access.UnknownUser, logins.WeakPassword) as exc:
        fail(str(exc))
    typer.echo(f"password of {name} is set", err=True)


@app.command("reset-totp")
def reset_totp_command(name: Annotated[str, typer.Argument(help="The person whose second factor is lost.")]) -> None:
    """Forget a person's TOTP second factor: their sessions end and the next login enrols a new one."""
    config = settings()
    try:
        with transaction(config.database_url) as session:
            logins.reset_second_factor(session, name, actor=cli_actor())
    except access.UnknownUser as exc:
        fail(str(exc))
    typer.echo(f"second factor of {name} is reset; it is enrolled again at the next login", err=True)


@app.command("unlock")
def unlock_command(name: Annotated[str, typer.Argument(help="The person locked out by failed logins.")]) -> None:
    """Clear a person's failed logins and lockout."""
    config = settings()
    try:
        with transaction(config.database_url) as session:
            logins.unlock(session, name, actor=cli_actor())
    except access.UnknownUser as exc:
        fail(str(exc))
    typer.echo(f"{name} is unlocked", err=True)
