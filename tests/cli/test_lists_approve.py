"""``kyc lists approve --user NAME`` (four eyes from the console): the name must be a real user allowed to approve.

Runs the real command against a real fi_national import (UN persons transcribed into the national template) on
SQLite and PostgreSQL: an unknown name, a disabled user, a role without ``manage_lists`` and the importer are all
refused with exit 2 and the version stays pending; an active admin approves, and the audit row names that user.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from cli.main import app
from kyc.access import Role, create_user, revoke_user
from kyc.settings import Settings, get_settings
from kyc.storage.access import AuditLog
from kyc.storage.db import transaction
from kyc.storage.lists import ListVersion
from lists.ingest import ingest_files
from tests.support.fi_national import write


@pytest.fixture
def cli_db(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("KYC_DATABASE_URL", db_url)
    get_settings.cache_clear()
    yield db_url
    get_settings.cache_clear()


def test_approve_needs_an_existing_active_user_allowed_to_approve(
    cli_db: str, tmp_path: Path, good_rows: list[dict[str, str]]
) -> None:
    with transaction(cli_db) as session:
        importer, importer_token = create_user(session, "importer", Role.ADMIN)
        approver, approver_token = create_user(session, "second-admin", Role.ADMIN)
        create_user(session, "an-analyst", Role.ANALYST)
        create_user(session, "gone-admin", Role.ADMIN)
        revoke_user(session, "gone-admin")
    result = ingest_files("fi_national", [write(tmp_path, good_rows)], Settings(database_url=cli_db), user="importer")
    assert result is not None and result.outcome == "pending"
    runner = CliRunner()

    for name, message in (
        ("nobody", "no such user"),
        ("gone-admin", "disabled"),
        ("an-analyst", "may not approve"),
        ("importer", "cannot also approve"),
    ):
        refused = runner.invoke(
            app, ["lists", "approve", str(result.version_id), "--user", name], env={"KYC_TOKEN": importer_token}
        )
        assert refused.exit_code == 2, (name, refused.output)
        assert message in refused.output, (name, refused.output)
    with transaction(cli_db) as session:
        version = session.get(ListVersion, result.version_id)
        assert version is not None and (version.status, version.approved_by) == ("pending", None)

    approve = ["lists", "approve", str(result.version_id), "--user", "second-admin"]
    # The name alone proves nothing: without the user's own token, or with another admin's, nothing happens.
    for env, message in (({"KYC_TOKEN": ""}, "give that user's bearer token"), ({"KYC_TOKEN": importer_token},
                         "not a valid token of this user")):  # fmt: skip
        refused = runner.invoke(app, approve, env=env)
        assert refused.exit_code == 2 and message in refused.output, refused.output
    with transaction(cli_db) as session:
        version = session.get(ListVersion, result.version_id)
        assert version is not None and version.status == "pending"
    approved = runner.invoke(app, approve, env={"KYC_TOKEN": approver_token})
    assert approved.exit_code == 0, approved.output
    assert "approved by second-admin" in approved.output
    with transaction(cli_db) as session:
        version = session.get(ListVersion, result.version_id)
        assert version is not None and (version.status, version.approved_by) == ("active", "second-admin")
        row = session.execute(select(AuditLog).where(AuditLog.action == "list_version.approve")).scalar_one()
        assert (row.actor, row.actor_name, row.role) == (approver.user_id, "second-admin", "admin")
        assert row.details["channel"] == "cli" and row.details["os_account"]
    assert importer.user_id != approver.user_id


def test_ingest_importer_must_be_a_real_user_allowed_to_manage_lists(
    cli_db: str, tmp_path: Path, good_rows: list[dict[str, str]]
) -> None:
    """The approver is compared with the importer, so an invented importer name would let one admin import under
    it and approve as themself: the importer is verified like the approver, and nothing is stored when refused."""
    with transaction(cli_db) as session:
        _importer, token = create_user(session, "importer", Role.ADMIN)
        create_user(session, "an-analyst", Role.ANALYST)
    path = write(tmp_path, good_rows)
    runner = CliRunner()
    for name, message in (("nobody", "no such user"), ("an-analyst", "may not import"), (" ", "1-128 characters")):
        refused = runner.invoke(app, ["lists", "ingest", "fi_national", "--file", str(path), "--user", name])
        assert refused.exit_code == 2, (name, refused.output)
        assert message in refused.output, (name, refused.output)
    with transaction(cli_db) as session:
        assert session.execute(select(ListVersion)).first() is None

    ingest = ["lists", "ingest", "fi_national", "--file", str(path), "--user", " importer "]
    refused = runner.invoke(app, ingest, env={"KYC_TOKEN": ""})
    assert refused.exit_code == 2 and "bearer token" in refused.output, refused.output
    stored = runner.invoke(app, ingest, env={"KYC_TOKEN": token})
    assert stored.exit_code == 0, stored.output
    with transaction(cli_db) as session:
        version = session.execute(select(ListVersion)).scalar_one()
        assert (version.status, version.created_by) == ("pending", "importer")
