"""The manual Finnish import, on rows built from real listed persons (no real fi_national file exists)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from cli.main import app
from kyc.access import Role, create_user
from kyc.entry import Entry, NameKind, Schema
from kyc.errors import Refused
from kyc.settings import Settings, get_settings
from kyc.storage.db import transaction
from kyc.storage.lists import ListVersion
from kyc.versions import ListRejected, RawFile, active_version, approve_version, load_entries
from lists.base import ParseError
from lists.fi_national import FiNationalAdapter
from lists.ingest import ingest_files
from lists.registry import get_adapter
from tests.support.env import list_file
from tests.support.fi_national import HETU, TEMPLATE, csv_bytes, parse, write


def test_adapter_is_manual_and_needs_approval() -> None:
    adapter = get_adapter("fi_national")
    assert isinstance(adapter, FiNationalAdapter)
    assert adapter.requires_approval is True and adapter.default_url is None


def test_rows_are_parsed(un_persons: list[Entry], good_rows: list[dict[str, str]]) -> None:
    parsed = FiNationalAdapter().parse([RawFile("fi.csv", csv_bytes(good_rows))])
    entries = {e.source_ref: e for e in parsed.entries}
    assert list(entries) == ["KRP/1/2025", "KRP/2/2025", "KRP/3/2025", "KRP/9/2025"]
    first, un = entries["KRP/1/2025"], un_persons[0]
    assert first.schema_ == Schema.PERSON
    assert first.primary_name == un.primary_name
    assert {n.value for n in first.names if n.kind == NameKind.STRONG_ALIAS} == {
        n.value for n in un.names if n.kind == NameKind.STRONG_ALIAS
    }
    assert first.birth_dates == (un.birth_dates[0],)
    assert first.nationalities == un.nationalities
    assert first.identifiers[0].type == "passport"
    assert first.listed_on == "2025-01-11"
    assert first.programs == ("FI Act 325/2013 national freezing decision",)
    assert first.remarks is not None and "Virallinen lehti: VL 2025/1" in first.remarks
    org = entries["KRP/9/2025"]
    assert org.schema_ == Schema.ORGANIZATION
    assert org.countries == ("FI",) and org.nationalities == ()  # "Suomi": registration, not nationality
    assert (org.identifiers[0].type, org.identifiers[0].number, org.identifiers[0].country) == (
        "fi_ytunnus",
        "2077474-0",
        "FI",
    )
    assert org.listed_on == "2025-02-03"  # Finnish d.m.yyyy, as Excel saves it
    assert parsed.published_at is not None and parsed.published_at.date().isoformat() == "2025-02-03"


@pytest.mark.parametrize(("delimiter", "bom", "crlf"), [(",", False, False), (";", True, True), (";", False, False)])
def test_both_delimiters_bom_and_crlf(good_rows: list[dict[str, str]], delimiter: str, bom: bool, crlf: bool) -> None:
    entries = parse(csv_bytes(good_rows, delimiter, bom, crlf))
    assert len(entries) == 4
    # Aliases hold ';' even in a ';' file: the csv quoting keeps them in one cell.
    assert len([n for n in entries[0].names if n.kind == NameKind.STRONG_ALIAS]) == len(
        good_rows[0]["aliases"].split(";")
    )


def test_original_script_alias_and_blank_lines(good_rows: list[dict[str, str]]) -> None:
    good_rows[0]["aliases"] = "Тест Примеров"
    data = csv_bytes(good_rows, ";") + b";;;;;;;;;;\n\n"
    entry = parse(data)[0]
    assert [(n.value, n.kind) for n in entry.names[1:]] == [("Тест Примеров", NameKind.ORIGINAL_SCRIPT)]


def test_template_header_is_accepted_and_its_example_row_refused() -> None:
    with pytest.raises(ParseError) as raised:
        parse(TEMPLATE.read_bytes(), "fi_national_template.csv")
    message = str(raised.value)
    assert message.startswith("fi_national_template.csv: 1 problem(s), nothing imported: ")
    assert "line 2, column 'decision_number': this is the template's fictional example row" in message


@pytest.mark.parametrize(
    ("column", "value", "reason"),
    [
        ("schema", "Vessel", "must be Person or Organization"),
        ("name", "", "required"),
        ("name", "Abu Bakr;Abubakar", "put further names in the aliases column"),
        ("aliases", "Abu;1234", "'1234' has no letters"),
        ("birth_date", "1980-13-01", "is not YYYY, YYYY-MM, YYYY-MM-DD or d.m.yyyy"),
        ("birth_date", "31.2.1980", "is not YYYY, YYYY-MM, YYYY-MM-DD or d.m.yyyy"),
        ("birth_date", "2999-01-01", "is in the future"),
        ("nationality", "Atlantis", "unknown country 'Atlantis'"),
        ("identifiers", "passport", "is not type:number or type:number:country"),
        ("identifiers", "passport:X1:Atlantis", "unknown issuing country 'Atlantis'"),
        ("identifiers", "Passport No:X1", "must be lower-case letters"),
        ("identifiers", "imo:9319467", "invalid IMO number"),
        ("decision_number", "", "required"),
        ("decision_number", "KRP 1", "no spaces"),
        ("decision_number", "example-1", "fictional example row"),
        ("decision_date", "", "required"),
        ("decision_date", "2025", "is not a date"),
        ("decision_date", "2999-01-01", "is in the future"),
        ("notes", '=HYPERLINK("http://x")', "as a formula; paste values only"),
        ("notes", "+cmd|' /C calc'!A0", "starts with '+', so a spreadsheet may run it as a formula"),
        ("notes", "-2+3+cmd|' /C calc'!A0", "starts with '-', so a spreadsheet may run it as a formula"),
        ("aliases", "@SUM(1+1)*cmd|' /C calc'!A0", "starts with '@', so a spreadsheet may run it as a formula"),
        ("name", " =1+1", "starts with '=', so a spreadsheet may run it as a formula"),
        ("notes", "x" * 501, "longer than 500 characters"),
    ],
)
def test_every_bad_cell_names_line_and_column(
    good_rows: list[dict[str, str]], column: str, value: str, reason: str
) -> None:
    good_rows[1][column] = value  # the second data row is on line 3
    with pytest.raises(ParseError) as raised:
        parse(csv_bytes(good_rows))
    message = str(raised.value)
    assert message.startswith("fi.csv: 1 problem(s), nothing imported: ")
    assert f"line 3, column '{column}': " in message
    assert reason in message


def test_person_only_columns_on_an_organization(good_rows: list[dict[str, str]]) -> None:
    good_rows[3]["birth_date"] = "1990"
    good_rows[3]["birth_place"] = "Helsinki"
    with pytest.raises(ParseError) as raised:
        parse(csv_bytes(good_rows))
    message = str(raised.value)
    assert "line 5, column 'birth_date': only for schema Person" in message
    assert "line 5, column 'birth_place': only for schema Person" in message


def test_duplicate_decision_number_names_both_lines(good_rows: list[dict[str, str]]) -> None:
    good_rows[2]["decision_number"] = good_rows[0]["decision_number"]
    with pytest.raises(ParseError, match=r"line 4, column 'decision_number': 'KRP/1/2025' is already used on line 2"):
        parse(csv_bytes(good_rows))


def test_invalid_personal_identity_code_is_masked(good_rows: list[dict[str, str]]) -> None:
    good_rows[0]["identifiers"] = "fi_hetu:" + HETU[:-1] + "X"
    with pytest.raises(ParseError) as raised:
        parse(csv_bytes(good_rows))
    message = str(raised.value)
    assert "line 2, column 'identifiers': invalid Finnish personal identity code '13*********'" in message
    assert HETU[:-1] not in message
    good_rows[0]["identifiers"] = f"fi_hetu:{HETU}"
    identifier = parse(csv_bytes(good_rows))[0].identifiers[0]
    assert (identifier.type, identifier.number, identifier.country) == ("fi_hetu", HETU, "FI")


def test_all_problems_are_reported_at_once(good_rows: list[dict[str, str]]) -> None:
    good_rows[0]["schema"] = "Persoon"
    good_rows[2]["decision_date"] = "yesterday"
    with pytest.raises(ParseError) as raised:
        parse(csv_bytes(good_rows))
    message = str(raised.value)
    assert "2 problem(s)" in message
    assert "line 2, column 'schema'" in message and "line 4, column 'decision_date'" in message


def test_multi_line_quoted_cell_keeps_line_numbers(good_rows: list[dict[str, str]]) -> None:
    good_rows[0]["notes"] = "first line\nsecond line"
    good_rows[1]["schema"] = "x"
    with pytest.raises(ParseError, match=r"line 4, column 'schema'"):
        parse(csv_bytes(good_rows))


def test_wrong_field_count(good_rows: list[dict[str, str]]) -> None:
    data = csv_bytes(good_rows) + b"Person,Extra Person\n"
    with pytest.raises(ParseError, match=r"line 6: expected 11 fields, found 2"):
        parse(data)


@pytest.mark.parametrize(
    "header",
    [
        b"name,schema,aliases,birth_date,birth_place,nationality,identifiers,decision_number,decision_date,"
        b"virallinen_lehti,notes",
        b"schema,name,aliases,birth_date,birth_place,nationality,identifiers,decision_number,decision_date,notes",
        b"schema\tname\taliases\tbirth_date\tbirth_place\tnationality\tidentifiers\tdecision_number\tdecision_date\t"
        b"virallinen_lehti\tnotes",
    ],
)
def test_a_file_that_is_not_the_template_is_rejected(good_rows: list[dict[str, str]], header: bytes) -> None:
    body = csv_bytes(good_rows).split(b"\n", 1)[1]
    with pytest.raises(ParseError, match=r"fi\.csv: line 1: not the fi_national template"):
        parse(header + b"\n" + body)


def test_other_lists_are_not_the_template() -> None:
    with pytest.raises(ParseError, match="not the fi_national template"):
        parse(list_file("ca_sema/cannada.xml").read_bytes(), "cannada.xml")


def test_non_utf8_is_rejected_with_its_line(good_rows: list[dict[str, str]]) -> None:
    good_rows[1]["birth_place"] = "Jyväskylä"
    data = csv_bytes(good_rows).decode("utf-8").encode("cp1252")
    with pytest.raises(
        ParseError, match=r"fi\.csv: line 3: not UTF-8 text \(byte 0x[0-9a-f]{2}\); save as 'CSV UTF-8'"
    ):
        parse(data)


def test_header_only_is_rejected() -> None:
    with pytest.raises(ParseError, match="holds no decisions"):
        parse(csv_bytes([]))


def version_count(settings: Settings) -> int:
    with transaction(settings.database_url) as session:
        return int(session.execute(select(func.count()).select_from(ListVersion)).scalar_one())


def test_import_is_pending_until_another_user_approves(
    settings: Settings, tmp_path: Path, good_rows: list[dict[str, str]]
) -> None:
    path = write(tmp_path, good_rows)
    result = ingest_files("fi_national", [path], settings, user="alice")
    assert (result.outcome, result.entry_count) == ("pending", 4)
    with transaction(settings.database_url) as session:
        assert active_version(session, "fi_national") is None
        pending = session.get(ListVersion, result.version_id)
        assert pending is not None and (pending.status, pending.created_by) == ("pending", "alice")
    # The same bytes again: the same pending version, not a second one.
    assert ingest_files("fi_national", [path], settings, user="alice").version_id == result.version_id
    with transaction(settings.database_url) as session, pytest.raises(Refused):
        approve_version(session, result.version_id, "alice")
    with transaction(settings.database_url) as session:
        assert active_version(session, "fi_national") is None
        approve_version(session, result.version_id, "bob")
    with transaction(settings.database_url) as session:
        active = active_version(session, "fi_national")
        assert active is not None and active.id == result.version_id and active.approved_by == "bob"
        entries = {e.source_ref for e in load_entries(session, active.id)}
    assert entries == {"KRP/1/2025", "KRP/2/2025", "KRP/3/2025", "KRP/9/2025"}

    # A later import stays pending; the approved one keeps serving until the new one is approved.
    second = ingest_files("fi_national", [write(tmp_path, good_rows[:3], "uusi.csv")], settings, user="carol")
    assert second.outcome == "pending"
    with transaction(settings.database_url) as session:
        active = active_version(session, "fi_national")
        assert active is not None and active.id == result.version_id
        approved = approve_version(session, second.version_id, "alice")
        assert approved.removed_count == 1


def test_bad_file_imports_nothing(settings: Settings, tmp_path: Path, good_rows: list[dict[str, str]]) -> None:
    good_rows[2]["nationality"] = "Atlantis"
    with pytest.raises(ListRejected, match=r"fi_national: rejected: lista\.csv: .*line 4, column 'nationality'"):
        ingest_files("fi_national", [write(tmp_path, good_rows)], settings, user="alice")
    assert version_count(settings) == 0


def test_cli_four_eyes_flow(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, good_rows: list[dict[str, str]]
) -> None:
    monkeypatch.setenv("KYC_DATABASE_URL", db_url)
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        with transaction(db_url) as session:  # the approver must be a real user allowed to approve (admin)
            tokens = {name: create_user(session, name, Role.ADMIN)[1] for name in ("alice", "bob")}
        path = write(tmp_path, good_rows)
        alice, bob = {"KYC_TOKEN": tokens["alice"]}, {"KYC_TOKEN": tokens["bob"]}
        ingested = runner.invoke(
            app, ["lists", "ingest", "fi_national", "--file", str(path), "--user", "alice"], env=alice
        )
        assert ingested.exit_code == 0, ingested.output
        assert "awaiting approval" in ingested.output
        with transaction(db_url) as session:
            version_id = session.execute(select(ListVersion.id).where(ListVersion.source == "fi_national")).scalar_one()
        same_user = runner.invoke(app, ["lists", "approve", str(version_id), "--user", "alice"], env=alice)
        assert same_user.exit_code == 2
        other_user = runner.invoke(app, ["lists", "approve", str(version_id), "--user", "bob"], env=bob)
        assert other_user.exit_code == 0, other_user.output
        assert f"version {version_id} approved by bob and active" in other_user.output
        good_rows[0]["birth_date"] = "1980-13-01"
        bad = write(tmp_path, good_rows, "bad.csv")
        ingest_bad = ["lists", "ingest", "fi_national", "--file", str(bad), "--user", "alice"]
        rejected = runner.invoke(app, ingest_bad, env=alice)
        assert rejected.exit_code == 2
        assert "birth_date" in rejected.output, rejected.output
    finally:
        get_settings.cache_clear()
