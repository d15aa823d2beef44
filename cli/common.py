"""Helpers shared by the CLI commands."""

from __future__ import annotations

import sys
from typing import NoReturn

import typer

from kyc.settings import Settings, get_settings
from kyc.storage.db import migrate


def settings() -> Settings:
    """Settings with the schema brought up to date: a fresh machine needs no separate migration step."""
    current = get_settings()
    migrate(current.database_url)
    return current


def fail(message: str, code: int = 2) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def is_terminal() -> bool:
    return sys.stderr.isatty()
