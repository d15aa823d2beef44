"""Lists never go back in time, stale sources say so, and ``kyc lists diff`` names what changed — with the real
older and newer official files, on SQLite and PostgreSQL, as a new user would type the commands."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import structlog
from typer.testing import CliRunner

from cli.main import app
from kyc.settings import get_settings
from kyc.storage.db import transaction
from kyc.versions import active_version
from tests.support.env import list_file

UN_OLD = "un_sc/2025-11-20_mkweli/un_consolidated.xml"
UN_NEW = "un_sc/2026-02-27_watchman/UN_consolidated.xml"
EU_2016 = "eu_fsf/legacy_1_0_sample_2016-02-11/data.xml"
EU_2018 = "eu_fsf/excerpt_2018-12-21_DarkSide666.xml"
EU_2024 = "eu_fsf/excerpt_2024-12-11_TureBentzin.xml"


@pytest.fixture(autouse=True)
def _cli(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    structlog.reset_defaults()
    monkeypatch.setenv("KYC_DATABASE_URL", db_url)
    get_settings.cache_clear()
    yield
    structlog.reset_defaults()
    get_settings.cache_clear()


def _kyc(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def _ingest(source: str, path: str, *flags: str) -> tuple[int, str, str]:
    return _kyc("lists", "ingest", source, "--file", str(list_file(path)), *flags)


def _status(source: str) -> dict[str, object]:
    code, out, _err = _kyc("lists", "status", "--json")
    assert code == 0
    rows: list[dict[str, object]] = json.loads(out)
    return next(row for row in rows if row["source"] == source)


def test_reviewer_reproduction_an_older_un_file_is_rejected_naming_both_dates(db_url: str) -> None:
    """The UN file of 2025-11-20 ingested after the one of 2026-02-27 became active and "removed" four
    designations; now it is rejected (exit 2) and the newer version stays active."""
    assert _ingest("un_sc", UN_NEW)[0] == 0
    code, _out, err = _ingest("un_sc", UN_OLD)
    assert code == 2
    assert "published 2025-11-20" in err and "published 2026-02-27" in err and "--allow-older" in err
    with transaction(db_url) as session:
        version = active_version(session, "un_sc")
        assert version is not None and version.published_at is not None
        assert version.published_at.date().isoformat() == "2026-02-27"
    row = _status("un_sc")
    assert row["last_outcome"] == "rejected" and row["stale"] is True and "2025-11-20" in str(row["stale_reason"])
    code, out, _err = _ingest("un_sc", UN_OLD, "--allow-older")  # checked by hand: accepted on purpose
    assert code == 0 and "stored version" in out
    assert "+1 added" in out and "-4 removed" in out


def test_an_eu_file_of_2016_is_not_accepted_over_one_of_2024_and_status_says_stale(db_url: str) -> None:
    assert _ingest("eu_fsf", EU_2024)[0] == 0
    for older in (EU_2018, EU_2016):
        code, _out, err = _ingest("eu_fsf", older)
        assert code == 2 and "before the active version" in err and "2024-12-11" in err, err
    row = _status("eu_fsf")
    assert str(row["published_at"]).startswith("2024-12-11")
    assert row["stale"] is True and row["max_age_days"] == 30 and float(str(row["age_days"])) > 30
    assert "days ago, more than the 30-day limit" in str(row["stale_reason"])
    _code, out, _err = _kyc("lists", "status")
    line = next(line for line in out.splitlines() if line.startswith("eu_fsf"))
    assert "STALE: published" in line and "/30 d" in line


def test_per_source_age_limits_come_from_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KYC_LIST_MAX_AGE_DAYS", "100000")
    monkeypatch.setenv("KYC_LIST_MAX_AGE_DAYS_BY_SOURCE", '{"un_sc": 7}')
    get_settings.cache_clear()
    assert _ingest("un_sc", UN_NEW)[0] == 0
    assert _ingest("eu_fsf", EU_2024)[0] == 0
    un, eu = _status("un_sc"), _status("eu_fsf")
    assert un["max_age_days"] == 7 and un["stale"] is True
    assert eu["max_age_days"] == 100000 and eu["stale"] is False and eu["stale_reason"] is None


def test_diff_prints_names_with_ids_and_refuses_unknown_or_foreign_versions(db_url: str) -> None:
    assert _ingest("un_sc", UN_OLD)[0] == 0
    assert _ingest("un_sc", UN_NEW)[0] == 0
    assert _ingest("eu_fsf", EU_2024)[0] == 0
    code, out, _err = _kyc("lists", "diff", "un_sc")
    assert code == 0 and out.startswith("un_sc version 2 (active): +4 -1")
    assert any(line.split()[:2] == ["-", "IQi.074"] and "MUNIR AL QUBAYSI" in line for line in out.splitlines())
    added = [line for line in out.splitlines() if line.startswith("  + ")]
    assert len(added) == 4 and all(len(line.split()) >= 3 for line in added)  # every id with its name
    listed = json.loads(_kyc("lists", "diff", "un_sc", "--json")[1])
    assert all(item["name"] for change in ("added", "removed") for item in listed[change])
    foreign = _kyc("lists", "diff", "un_sc", "--version", "3")
    assert foreign[0] == 2 and "version 3 is a version of eu_fsf, not of un_sc" in foreign[2]
    missing = _kyc("lists", "diff", "un_sc", "--version", "99")
    assert missing[0] == 2 and "no version 99" in missing[2]
    assert _kyc("lists", "diff", "un_sc", "--version", str(2**40))[0] == 2
    assert _kyc("lists", "diff", "no_such_list")[0] == 2
    old = _kyc("lists", "diff", "un_sc", "--version", "1")
    assert old[0] == 0 and old[1].startswith("un_sc version 1 (superseded): +1000 -0 ~0")


def test_relink_recomputes_subjects_and_is_idempotent() -> None:
    assert _ingest("un_sc", UN_NEW)[0] == 0
    assert _ingest("uk_ofsi", "uk/ofsi_2025-04-14/ConList.xlsx")[0] == 0
    code, out, _err = _kyc("lists", "relink")
    assert code == 0 and out.endswith("; 0 entries moved\n")
    subjects = int(out.split()[0])
    assert subjects > 500
