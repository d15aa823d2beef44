"""Entry point of the ``kyc`` command (``.venv/bin/kyc``)."""

from __future__ import annotations

import logging

import typer

from cli import audit, keys, lists, screen, serve, users, webhooks
from cli.common import settings
from kyc.logs import configure

app = typer.Typer(
    help="KYC/AML screening: lists, matching, screening service.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
app.add_typer(lists.app, name="lists")
app.add_typer(users.app, name="users")
app.add_typer(audit.app, name="audit")
app.add_typer(keys.app, name="keys")
app.add_typer(webhooks.app, name="webhooks")
app.command("screen")(screen.screen_command)
app.command("match")(screen.match_command)
app.command("serve")(serve.serve_command)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply all migrations to KYC_DATABASE_URL."""
    config = settings()
    typer.echo(f"schema up to date at {config.database_url.split('@')[-1]}")


@app.callback()
def main(verbose: bool = typer.Option(False, "--verbose", "-v", help="Debug logging.")) -> None:
    configure(logging.DEBUG if verbose else logging.INFO)


if __name__ == "__main__":
    app()
