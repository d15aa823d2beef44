"""The ``kyc`` entry point: help answers without importing the database layer, the broker, the API or the engine."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import typer
from typer.testing import CliRunner

from cli.main import LAZY_COMMANDS, app, load_command
from tests.support.env import REPO

HEAVY = ("alembic", "sqlalchemy", "celery", "fastapi", "uvicorn", "numpy", "rigour")

_PROBE = """
import json, sys
sys.argv = ["kyc", *json.loads(sys.argv[1])]
from cli.main import app
try:
    app()
except SystemExit:
    pass
print(json.dumps(sorted({m.split(".")[0] for m in sys.modules} & set(HEAVY))), file=sys.stderr)
"""


def _imported(args: list[str]) -> list[str]:
    probe = _PROBE.replace("HEAVY", json.dumps(list(HEAVY)))
    done = subprocess.run(  # a fresh interpreter: this test process has imported everything already
        [sys.executable, "-c", probe, json.dumps(args)], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert "Usage: kyc" in done.stdout, done.stderr
    imported: list[str] = json.loads(done.stderr.strip().splitlines()[-1])
    return imported


@pytest.mark.parametrize("args", [["--help"], ["db", "--help"], []])
def test_help_imports_no_heavy_module(args: list[str]) -> None:
    assert _imported(args) == []


def test_a_command_still_imports_what_it_needs() -> None:
    """The probe can fail: asking for a command's own help loads that command's module."""
    assert "sqlalchemy" in _imported(["lists", "--help"])


def test_the_listing_shows_each_commands_own_help() -> None:
    for name, (_module, _attribute, listed) in LAZY_COMMANDS.items():
        command = load_command(name)
        own = (command.help or "").strip().split("\n\n")[0].replace("\n", " ")
        assert own == listed, name


def test_every_command_is_listed_and_runs() -> None:
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    for name in [*LAZY_COMMANDS, "db"]:
        assert name in result.output
    result = CliRunner().invoke(app, ["screen", "--help"])
    assert result.exit_code == 0 and "--birth-date" in result.output
    result = CliRunner().invoke(app, ["nosuchcommand"])
    assert result.exit_code != 0
    assert isinstance(load_command("lists"), typer.core.TyperGroup)
