"""Entry point of the ``kyc`` command (``.venv/bin/kyc``).

Each command's module is imported only when that command runs: the database layer, Alembic, Celery, FastAPI and
the matching engine take seconds to import together, and ``kyc --help`` or ``kyc lists --help`` need none of
them. The command list shows the one-line help given here; a test checks it against each command's own.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

import typer
from typer.core import TyperGroup

LAZY_COMMANDS: dict[str, tuple[str, str, str]] = {
    "screen": ("cli.screen", "screen_command", "Screen one name against every active list version: hits, best first."),
    "match": (
        "cli.screen",
        "match_command",
        "Batch-screen a JSON-lines file: one result line per valid input line, hits at or above the threshold.",
    ),
    "serve": (
        "cli.serve",
        "serve_command",
        "Serve the API (OpenAPI at /docs); embedded worker and scheduler when no broker is configured.",
    ),
    "lists": ("cli.lists", "app", "Official sanctions, asset-freeze and PEP lists."),
    "users": ("cli.users", "app", "Users, roles and bearer tokens."),
    "audit": ("cli.audit", "app", "The tamper-evident audit trail."),
    "keys": ("cli.keys", "app", "Encryption, blind-index and audit keys."),
    "webhooks": ("cli.webhooks", "app", "Per-client webhook signing secrets."),
}
"""Command name -> (module, attribute: a Typer app or a command function, the one-line help the listing shows)."""


def load_command(name: str) -> Any:
    """The real click command behind a lazy name (imports its module)."""
    module_name, attribute, _help = LAZY_COMMANDS[name]
    target = getattr(importlib.import_module(module_name), attribute)
    if isinstance(target, typer.Typer):
        return typer.main.get_command(target)
    single = typer.Typer()
    single.command(name)(target)
    return typer.main.get_command(single)


class _Listed(typer.core.TyperCommand):
    """Stands in for a command in the listing; never run (``resolve_command`` swaps in the real one)."""


class LazyGroup(TyperGroup):
    def list_commands(self, ctx: Any) -> list[str]:
        return [*LAZY_COMMANDS, *super().list_commands(ctx)]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name in LAZY_COMMANDS:
            return _Listed(name=cmd_name, help=LAZY_COMMANDS[cmd_name][2])
        return super().get_command(ctx, cmd_name)

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        if args and args[0] in LAZY_COMMANDS:
            name = args[0]
            command = self.commands.get(name)
            if command is None:
                command = self.commands[name] = load_command(name)
            return name, command, args[1:]
        return super().resolve_command(ctx, args)


app = typer.Typer(
    cls=LazyGroup,
    help="KYC/AML screening: lists, matching, screening service.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply all migrations to KYC_DATABASE_URL."""
    from cli.common import settings

    config = settings()
    typer.echo(f"schema up to date at {config.database_url.split('@')[-1]}")


@app.callback()
def main(verbose: bool = typer.Option(False, "--verbose", "-v", help="Debug logging.")) -> None:
    from kyc.logs import configure

    configure(logging.DEBUG if verbose else logging.INFO)


if __name__ == "__main__":
    app()
