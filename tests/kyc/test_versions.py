"""List versions end to end on SQLite and PostgreSQL: store, diff, reject bad files, conditional GET."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kyc.settings import Settings, get_settings
from kyc.storage.db import transaction
from kyc.versions import ListRejected, RawFile, active_version, changes, load_entries, raw_files, status, store_version
from lists.ingest import IngestFailed, ingest_files, ingest_url
from lists.un_sc import UnScAdapter
from tests.support.env import list_file
from tests.support.httpserver import serve_files

UN_2025 = "un_sc/2025-11-20_mkweli/un_consolidated.xml"
UN_2026 = "un_sc/2026-02-27_watchman/UN_consolidated.xml"


def test_un_update_reports_exactly_four_added_and_one_removed(settings: Settings) -> None:
    first = ingest_files("un_sc", [list_file(UN_2025)], settings)
    assert (first.outcome, first.entry_count, first.added) == ("stored", 1000, 1000)
    second = ingest_files("un_sc", [list_file(UN_2026)], settings)
    assert (second.outcome, second.entry_count, second.added, second.removed) == ("stored", 1003, 4, 1)
    with transaction(settings.database_url) as session:
        rows = changes(session, second.version_id)
        added = sorted(r.source_ref for r in rows if r.change == "added")
        removed = [r.source_ref for r in rows if r.change == "removed"]
        assert added == ["SDi.007", "SDi.008", "SDi.009", "SDi.010"]
        assert removed == ["IQi.074"]
        version = active_version(session, "un_sc")
        assert version is not None and version.id == second.version_id
        assert version.published_at is not None and version.published_at.date().isoformat() == "2026-02-27"
        assert version.sha256 == "66b392a4090868d2d39161e8d748efd39138377b0e6e60b7921aa67a4f99c8bf"
        # The raw bytes are kept so that any past screening can be reproduced byte for byte.
        assert raw_files(session, first.version_id)[0].data == list_file(UN_2025).read_bytes()
        assert len(load_entries(session, second.version_id)) == 1003


def test_identical_content_creates_nothing_new(settings: Settings) -> None:
    first = ingest_files("un_sc", [list_file(UN_2026)], settings)
    again = ingest_files("un_sc", [list_file(UN_2026)], settings)
    assert again.outcome == "unchanged"
    assert again.version_id == first.version_id
    with transaction(settings.database_url) as session:
        [row] = status(session)
        assert row.version_id == first.version_id and row.last_outcome == "unchanged"


def test_identical_bytes_under_a_new_parser_version_are_a_new_version(settings: Settings) -> None:
    first = ingest_files("un_sc", [list_file(UN_2026)], settings)
    path = list_file(UN_2026)
    files = [RawFile(path.name, path.read_bytes())]
    with transaction(settings.database_url) as session:
        again = store_version(
            session, source="un_sc", files=files, parsed=UnScAdapter().parse(files), parser_version="next", origin="t"
        )
    assert again.outcome == "stored" and again.version_id != first.version_id
    with transaction(settings.database_url) as session:
        version = active_version(session, "un_sc")
        assert version is not None and (version.id, version.parser_version) == (again.version_id, "next")


def _assert_still_active(settings: Settings, version_id: int) -> None:
    with transaction(settings.database_url) as session:
        version = active_version(session, "un_sc")
        assert version is not None and version.id == version_id
        [row] = status(session)
        assert row.last_outcome == "rejected" and row.stale
        assert row.last_error is not None and row.last_error.startswith("un_sc: rejected")


def test_truncated_xml_is_rejected_and_previous_version_stays(settings: Settings, tmp_path: Path) -> None:
    good = ingest_files("un_sc", [list_file(UN_2025)], settings)
    data = list_file(UN_2026).read_bytes()
    truncated = tmp_path / "consolidated.xml"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(ListRejected, match=r"un_sc: rejected: consolidated\.xml: malformed XML"):
        ingest_files("un_sc", [truncated], settings)
    _assert_still_active(settings, good.version_id)


def test_half_shrunk_list_is_rejected_unless_allowed(settings: Settings, tmp_path: Path) -> None:
    good = ingest_files("un_sc", [list_file(UN_2026)], settings)
    text = list_file(UN_2026).read_text(encoding="utf-8")
    head, rest = text.split("<INDIVIDUALS>", 1)
    individuals, tail = rest.split("</INDIVIDUALS>", 1)
    records = individuals.split("</INDIVIDUAL>")
    kept = "</INDIVIDUAL>".join(records[: len(records) // 2]) + "</INDIVIDUAL>"
    ents_head, ents_rest = tail.split("<ENTITIES>", 1)
    entities, ents_tail = ents_rest.split("</ENTITIES>", 1)
    ent_records = entities.split("</ENTITY>")
    ents_kept = "</ENTITY>".join(ent_records[: len(ent_records) // 2]) + "</ENTITY>"
    shrunk = tmp_path / "shrunk.xml"
    shrunk.write_text(
        f"{head}<INDIVIDUALS>{kept}</INDIVIDUALS>{ents_head}<ENTITIES>{ents_kept}</ENTITIES>{ents_tail}",
        encoding="utf-8",
    )
    with pytest.raises(ListRejected, match="suspicious shrink"):
        ingest_files("un_sc", [shrunk], settings)
    _assert_still_active(settings, good.version_id)
    forced = ingest_files("un_sc", [shrunk], settings, allow_shrink=True)
    assert forced.outcome == "stored" and forced.removed > 400


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "the file is empty"),
        (b"\xff\xfe\x00garbage", "malformed XML"),
        (b"<?xml version='1.0'?><OTHER_LIST/>", "expected <CONSOLIDATED_LIST>"),
        (b"<?xml version='1.0'?><CONSOLIDATED_LIST dateGenerated='2026-01-01T00:00:00Z'/>", "holds no entries"),
        (
            b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>'
            b"<CONSOLIDATED_LIST>&lol2;</CONSOLIDATED_LIST>",
            "DOCTYPE/ENTITY declarations are not allowed",
        ),
        (
            b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
            b"<CONSOLIDATED_LIST>&xxe;</CONSOLIDATED_LIST>",
            "DOCTYPE/ENTITY declarations are not allowed",
        ),
    ],
)
def test_bad_files_are_rejected_with_the_reason(
    settings: Settings, tmp_path: Path, content: bytes, reason: str
) -> None:
    path = tmp_path / "bad.xml"
    path.write_bytes(content)
    with pytest.raises(ListRejected, match=reason):
        ingest_files("un_sc", [path], settings)
    with transaction(settings.database_url) as session:
        assert active_version(session, "un_sc") is None


def test_http_fetch_then_not_modified(settings: Settings) -> None:
    with serve_files({"consolidated.xml": list_file(UN_2026)}) as server:
        result = ingest_url("un_sc", settings, server.url("consolidated.xml"))
        assert result is not None and result.outcome == "stored" and result.entry_count == 1003
        assert ingest_url("un_sc", settings, server.url("consolidated.xml")) is None
        assert server.statuses == [200, 304]
    with transaction(settings.database_url) as session:
        [row] = status(session, now=datetime(2026, 3, 1, tzinfo=UTC))  # two days after the file's publication
        assert row.last_outcome == "not_modified" and not row.stale


def test_transient_server_errors_are_retried(settings: Settings) -> None:
    with serve_files({"consolidated.xml": list_file(UN_2026)}) as server:
        server.fail_next = 1
        result = ingest_url("un_sc", settings, server.url("consolidated.xml"))
        assert result is not None and result.outcome == "stored"
        assert server.statuses == [503, 200]


def test_failed_download_keeps_old_version_and_shows_staleness(settings: Settings) -> None:
    good = ingest_files("un_sc", [list_file(UN_2025)], settings)
    with serve_files({}) as server, pytest.raises(IngestFailed, match=r"un_sc: download failed: .*HTTP 404"):
        ingest_url("un_sc", settings, server.url("consolidated.xml"))
    with transaction(settings.database_url) as session:
        version = active_version(session, "un_sc")
        assert version is not None and version.id == good.version_id
        [row] = status(session)
        assert row.stale and row.last_outcome == "failed"


def test_cli_ingest_status_and_diff(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from cli.main import app

    monkeypatch.setenv("KYC_DATABASE_URL", db_url)
    get_settings.cache_clear()
    runner = CliRunner()
    try:
        ok = runner.invoke(app, ["lists", "ingest", "un_sc", "--file", str(list_file(UN_2025))])
        assert ok.exit_code == 0, ok.output
        ok = runner.invoke(app, ["lists", "ingest", "un_sc", "--file", str(list_file(UN_2026))])
        assert ok.exit_code == 0 and "+4 added, -1 removed" in ok.stdout
        bad = runner.invoke(app, ["lists", "ingest", "un_sc", "--file", str(list_file("ca_sema/cannada.xml"))])
        assert bad.exit_code == 2
        assert "un_sc: rejected" in bad.stderr and "CONSOLIDATED_LIST" in bad.stderr
        unknown = runner.invoke(app, ["lists", "ingest", "no_such_list", "--file", "x"])
        assert unknown.exit_code == 2 and "unknown source" in unknown.stderr
        shown = runner.invoke(app, ["lists", "status", "--json"])
        assert shown.exit_code == 0
        [row] = json.loads(shown.stdout)
        assert row["source"] == "un_sc" and row["entry_count"] == 1003
        assert row["published_at"].startswith("2026-02-27") and row["last_outcome"] == "rejected"
        diff = runner.invoke(app, ["lists", "diff", "un_sc", "--json"])
        assert json.loads(diff.stdout)["removed"] == [{"source_ref": "IQi.074", "name": "MUNIR AL QUBAYSI"}]
    finally:
        get_settings.cache_clear()
