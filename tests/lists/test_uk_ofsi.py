from __future__ import annotations

import re

import pytest

from kyc.entry import DatePrecision, Entry, NameKind, Schema
from kyc.settings import Settings
from kyc.storage.db import transaction
from kyc.versions import ListRejected, ParsedList, RawFile, active_version, load_entries
from lists.base import ParseError
from lists.ingest import IngestFailed, ingest_files, ingest_url
from lists.uk_common import uk_countries
from lists.uk_ofsi import UkOfsiAdapter, _cell, _openpyxl_rows, _xlsx_rows
from lists.un_sc import UnScAdapter
from tests.support.env import list_file
from tests.support.httpserver import serve_files

XLSX = "uk/ofsi_2025-04-14/ConList.xlsx"
CSV_2016 = "uk/ofsi_conlist_csv_sample_2016-02-12/data.csv"
UN_2026 = "un_sc/2026-02-27_watchman/UN_consolidated.xml"
DFAT = "au_dfat/regulation8_consolidated.xlsx"


def parse_bytes(data: bytes, name: str = "ConList.xlsx") -> ParsedList:
    return UkOfsiAdapter().parse([RawFile(name, data)])


def parse(relative: str) -> ParsedList:
    path = list_file(relative)
    return parse_bytes(path.read_bytes(), path.name)


@pytest.fixture(scope="module")
def xlsx() -> ParsedList:
    return parse(XLSX)


@pytest.fixture(scope="module")
def xlsx_entries(xlsx: ParsedList) -> dict[str, Entry]:
    return {e.source_ref: e for e in xlsx.entries}


@pytest.fixture(scope="module")
def csv_entries() -> dict[str, Entry]:
    return {e.source_ref: e for e in parse(CSV_2016).entries}


def test_xlsx_counts_match_sources_md(xlsx: ParsedList) -> None:
    # SOURCES.md: 18798 name rows -> 4688 Group IDs; "Last Updated 14/04/2025".
    assert len(xlsx.entries) == 4688
    assert xlsx.file_format == "ofsi_conlist_xlsx"
    assert xlsx.published_at is not None and xlsx.published_at.date().isoformat() == "2025-04-14"
    schemas = {schema: sum(e.schema_ == schema for e in xlsx.entries) for schema in Schema}
    assert schemas[Schema.PERSON] == 3663
    assert schemas[Schema.ORGANIZATION] == 1010
    assert schemas[Schema.VESSEL] == 15
    assert xlsx.warnings == []


def test_un_refs_are_the_862_of_sources_md_plus_four_typed_variants(xlsx: ParsedList) -> None:
    refs = {e.un_ref for e in xlsx.entries if e.un_ref}
    # Exactly as written after "(UN Ref):" in the file: SOURCES.md's 862 distinct values.
    verbatim = {e.un_ref for e in xlsx.entries if e.un_ref and f"(UN Ref):{e.un_ref}" in (e.remarks or "")}
    assert len(verbatim) == 862
    # Four more are typed "QDE.131" / "CDi. 038" in the file and are normalised to the UN spelling.
    assert refs - verbatim == {"QDe.131", "QDe.145", "CDi.037", "CDi.038"}
    assert all(re.fullmatch(r"[A-Z]{2}[ie]\.\d{3}", ref) for ref in refs)
    assert sum(1 for e in xlsx.entries if e.un_ref) == 866  # one Group ID per UN ref

    un = {e.source_ref for e in UnScAdapter().parse([RawFile("un.xml", list_file(UN_2026).read_bytes())]).entries}
    assert len(verbatim & un) == 857
    assert verbatim - un == {"IQi.074", "QDi.095", "QDi.317", "QDi.328", "QDi.336"}
    assert len(refs & un) == 861


def test_person_with_unknown_day_and_month_of_birth(xlsx_entries: dict[str, Entry]) -> None:
    kony = xlsx_entries["13378"]  # "(UK Sanctions List Ref):CAF0011. (UN Ref):CFi.010.", DOB 00/00/1994 ...
    assert kony.schema_ == Schema.PERSON
    assert kony.primary_name == "ALI KONY"
    assert kony.un_ref == "CFi.010"
    assert [d.date for d in kony.birth_dates] == ["1994", "1993", "1995", "1992"]
    assert all(d.precision == DatePrecision.YEAR for d in kony.birth_dates)
    weak = {n.value for n in kony.names if n.kind == NameKind.WEAK_ALIAS}
    assert {"CAESAR", "ONE-P"} <= weak  # "Low quality" aliases
    assert "Ali Mohammed LALOBO" in {n.value for n in kony.names if n.kind == NameKind.STRONG_ALIAS}
    assert kony.programs == ("Central African Republic",)
    assert kony.listed_on == "2016-09-01"
    assert any(i.type == "uk_sanctions_list_ref" and i.number == "CAF0011" for i in kony.identifiers)


def test_person_with_full_date_original_script_and_gender(xlsx_entries: dict[str, Entry]) -> None:
    zadachin = xlsx_entries["15890"]
    assert zadachin.primary_name == "Andrey Andreevich ZADACHIN"
    assert [d.date for d in zadachin.birth_dates] == ["1990-08-22"]
    assert zadachin.nationalities == ("RU",)
    assert [n.value for n in zadachin.names if n.kind == NameKind.ORIGINAL_SCRIPT] == ["ЗАДАЧИН Андрей Андреевич"]
    assert xlsx_entries["15672"].gender == "male"  # "(Gender):Male" inside Other Information


def test_numbered_passports_are_paired_with_their_details(xlsx_entries: dict[str, Entry]) -> None:
    azzouz = xlsx_entries["13312"]  # Passport Number "(1) 223611 (2) C00146605"
    passports = {i.number: i.note for i in azzouz.identifiers if i.type == "passport"}
    assert passports == {"223611": "Libya number", "C00146605": "British passport number"}
    assert azzouz.nationalities == ("LY",)


def test_uk_country_spelling_and_ships(xlsx_entries: dict[str, Entry]) -> None:
    # "Congo (Democratic Republic)" is not an exact countrynames name; it must still become CD.
    assert xlsx_entries["16180"].nationalities == ("CD",)
    assert xlsx_entries["16180"].un_ref == "CDi.038"  # written "CDi. 038"
    ships = [e for e in xlsx_entries.values() if e.schema_ == Schema.VESSEL]
    assert len(ships) == 15 and all(any(i.type == "imo" for i in e.identifiers) for e in ships)
    sam_jong = next(e for e in ships if e.primary_name == "SAM JONG 2")
    assert any(i.type == "imo" and i.number == "7408873" for i in sam_jong.identifiers)


def test_2016_csv_counts_and_cp1252_names(csv_entries: dict[str, Entry]) -> None:
    parsed = parse(CSV_2016)
    assert parsed.file_format == "ofsi_conlist_csv"
    assert parsed.published_at is not None and parsed.published_at.date().isoformat() == "2016-02-12"
    assert len(csv_entries) == 463  # 800 rows
    # 0x91 is a left single quotation mark in Windows-1252 and not valid UTF-8 at all.
    huthi = csv_entries["13191"]
    assert "‘Abd al-Khaliq Badr al-Din AL-HUTHI" in {n.value for n in huthi.names}
    assert csv_entries["6963"].primary_name == "GROUPE ISLAMIQUE ARMÉ"


def test_2016_csv_fields(csv_entries: dict[str, Entry]) -> None:
    abda = csv_entries["7087"]  # pre-2016 UN numbering "UN Ref QI.B.62.02."
    assert abda.un_ref == "QI.B.62.02"
    assert [d.date for d in abda.birth_dates] == ["1969-02-05"]
    assert abda.nationalities == ("TN",)  # "Tunisian"
    assert abda.birth_places == ("Tripoli, Libyan Arab Jamahiriya", "Tunis, Tunisia")
    # 2016 passports are free text: the numbers inside it become identifiers.
    ahmar = csv_entries["13254"]
    assert [i.number for i in ahmar.identifiers if i.type == "passport"] == ["17979", "02117777", "06070777"]
    assert sum(1 for e in csv_entries.values() if e.un_ref) == 192
    # "Passport no. FA0157612. Issued: 23/01/2009. Expired: 22/07/2014.": dates are not document numbers.
    numbers = {i.number for e in csv_entries.values() for i in e.identifiers}
    assert "FA0157612" in numbers and "23/01/2009" not in numbers


def test_truncated_xlsx_is_rejected_naming_the_file() -> None:
    data = list_file(XLSX).read_bytes()
    with pytest.raises(ParseError, match=r"^ConList\.xlsx: not a readable xlsx workbook"):
        parse_bytes(data[: len(data) // 2])


def test_xlsx_that_is_not_a_conlist_is_rejected() -> None:
    data = list_file(DFAT).read_bytes()
    with pytest.raises(ParseError, match=r"^dfat\.xlsx: not an OFSI ConList: the header lacks Name 6, Group ID"):
        parse_bytes(data, "dfat.xlsx")


def test_truncated_csv_is_rejected_naming_the_row() -> None:
    data = list_file(CSV_2016).read_bytes()
    lines = data.split(b"\n")
    cut = b"\n".join(lines[:40]) + b"\n" + lines[40][:30]  # half of row 41
    with pytest.raises(ParseError, match=r"^data\.csv: row 41 has \d+ columns, the header 29"):
        parse_bytes(cut, "data.csv")


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", r"empty\.csv: not an OFSI ConList"),
        (b"name,dob\nSmith,1980\n", r"empty\.csv: not an OFSI ConList: the header lacks Name 6, Group ID"),
        (b'Last Updated,12/02/2016\nName 6,"Group ID\n', r"empty\.csv: malformed CSV"),
    ],
)
def test_malformed_csv_is_rejected(data: bytes, reason: str) -> None:
    with pytest.raises(ParseError, match=reason):
        parse_bytes(data, "empty.csv")


def test_bad_rows_are_rejected_with_the_reason() -> None:
    text = list_file(CSV_2016).read_bytes()
    robot = text.replace(
        b",Individual,AKA,Al-Qaida,24/04/2002,20/01/2015,7087", b",Robot,AKA,Al-Qaida,24/04/2002,,7087"
    )
    with pytest.raises(ParseError, match=r"data\.csv: Group ID 7087: unknown Group Type 'Robot'"):
        parse_bytes(robot, "data.csv")
    no_id = text.replace(b"24/04/2002,20/01/2015,7087", b"24/04/2002,20/01/2015,")
    with pytest.raises(ParseError, match=r"data\.csv: row 3: Group ID is empty"):
        parse_bytes(no_id, "data.csv")


@pytest.mark.slow
def test_openpyxl_fallback_reads_the_same_cells() -> None:
    raw = RawFile("ConList.xlsx", list_file(XLSX).read_bytes())

    def cells(rows: list[tuple[object, ...]]) -> list[list[str | None]]:
        out = []
        for row in rows:
            values = [_cell(value) for value in row]
            while values and values[-1] is None:
                values.pop()
            out.append(values)
        return out

    assert cells(_openpyxl_rows(raw)) == cells(_xlsx_rows(raw))


@pytest.mark.slow
def test_ingest_through_ingest_files(settings: Settings) -> None:
    result = ingest_files("uk_ofsi", [list_file(XLSX)], settings)
    assert (result.outcome, result.entry_count) == ("stored", 4688)
    with transaction(settings.database_url) as session:
        version = active_version(session, "uk_ofsi")
        assert version is not None and version.id == result.version_id
        assert version.published_at is not None and version.published_at.date().isoformat() == "2025-04-14"
        kony = next(e for e in load_entries(session, version.id) if e.source_ref == "13378")
    assert kony.un_ref == "CFi.010" and kony.birth_dates[0].date == "1994"
    # The 2016 sample was published nine years earlier: refused as going back in time, and even when that is
    # allowed it is a tenth of the size, a suspicious shrink. The 2025 version stays active.
    with pytest.raises(ListRejected, match="uk_ofsi: rejected: the file was published 2016-02-12, before the active"):
        ingest_files("uk_ofsi", [list_file(CSV_2016)], settings)
    with pytest.raises(ListRejected, match="uk_ofsi: rejected: suspicious shrink"):
        ingest_files("uk_ofsi", [list_file(CSV_2016)], settings, allow_older=True)
    with transaction(settings.database_url) as session:
        still = active_version(session, "uk_ofsi")
        assert still is not None and still.id == result.version_id


def test_format_is_detected_by_content_not_by_name() -> None:
    parsed = parse_bytes(list_file(CSV_2016).read_bytes(), "ConList.xlsx")
    assert (parsed.file_format, len(parsed.entries)) == ("ofsi_conlist_csv", 463)


def test_no_feed_since_the_list_closed_but_a_url_can_be_given(settings: Settings) -> None:
    with pytest.raises(IngestFailed, match="uk_ofsi: no URL configured and the source has no official feed"):
        ingest_url("uk_ofsi", settings)
    with serve_files({"ConList": list_file(CSV_2016)}) as server:
        result = ingest_url("uk_ofsi", settings, server.url("ConList"))
    assert result is not None and (result.outcome, result.entry_count) == ("stored", 463)


@pytest.mark.parametrize(
    ("text", "codes"),
    [  # values as they stand in the two ConList files
        ("(1) Germany. (2) Morocco", ("DE", "MA")),
        ("(1) Belgium (2) Congo (Democratic Republic)", ("BE", "CD")),
        ("(1) Libyan Arab Jamahiriya (2) Tunisia", ("LY", "TN")),
        ("Afghanistan (at time of listing)", ("AF",)),
        ("Germany. Russia", ("DE", "RU")),
        ("Tunisian", ("TN",)),
        ("Not registered as a citizen of the Russian Federation", ()),
        ("In Syria as at June 2013", ()),
    ],
)
def test_uk_country_fields(text: str, codes: tuple[str, ...]) -> None:
    assert uk_countries(text) == codes
