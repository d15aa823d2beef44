"""``kyc webhooks …``: each onboarding client's callback-signing secret, shown and rotated on the server only.

A client's secret is derived from ``KYC_WEBHOOK_SECRET`` (HKDF, see ``kyc.webhooks``), so it can be shown again
whenever the client needs it; like a token it is printed alone on stdout for a script to capture, and it is handed
to that client only. Both commands are audited (who, which client, which generation — never the secret).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import typer
from sqlalchemy import select
from sqlalchemy.orm import Session

from cli.common import fail, settings
from cli.users import cli_actor
from kyc import webhooks
from kyc.access import Permission, Role, can
from kyc.storage.access import User
from kyc.storage.db import transaction

app = typer.Typer(help="Per-client webhook signing secrets.", no_args_is_help=True)


def _client_id(session: Session, name: str) -> str:
    user = session.execute(select(User).where(User.name == name)).scalar_one_or_none()
    if user is None:
        fail(f"no user named {name!r}")
    if user.disabled_at is not None:
        fail(f"user {name!r} is disabled: it receives no callbacks, and its secret is not shown")
    if not can(Role(user.role), Permission.SUBMIT_SCREENING):
        fail(f"user {name!r} (role {user.role}) submits no screenings, so it receives no callbacks")
    return user.id


def _master() -> str:
    config = settings()
    if config.webhook_secret is None:
        fail("KYC_WEBHOOK_SECRET is not set: callbacks are neither signed nor sent")
    return config.webhook_secret.get_secret_value()


@app.command("secret")
def secret_command(name: Annotated[str, typer.Argument(help="The onboarding client (user name).")]) -> None:
    """Print the client's current signing secret, to configure its receiver."""
    master = _master()
    with transaction(settings().database_url) as session:
        generation, secret = webhooks.current_secret(session, master, _client_id(session, name), actor=cli_actor())
    typer.echo(secret)
    typer.echo(f"webhook secret of {name}, generation {generation}", err=True)


@app.command("rotate")
def rotate_command(
    name: Annotated[str, typer.Argument(help="The onboarding client (user name).")],
    grace_hours: Annotated[
        float, typer.Option(min=0, max=720, help="How long the old secret keeps signing too (0 after a leak).")
    ] = 24.0,
) -> None:
    """Give the client a new signing secret; callbacks carry both signatures during the grace period."""
    master = _master()
    with transaction(settings().database_url) as session:
        generation, secret = webhooks.rotate_secret(
            session, master, _client_id(session, name), actor=cli_actor(), grace=timedelta(hours=grace_hours)
        )
    typer.echo(secret)
    typer.echo(
        f"webhook secret of {name} rotated to generation {generation}; old one signs for {grace_hours} h", err=True
    )
