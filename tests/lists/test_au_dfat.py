from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook, load_workbook

from kyc.entry import Entry, NameKind, Schema
from kyc.settings import Settings
from kyc.storage.db import transaction
from kyc.versions import ParsedList, RawFile, active_version, load_entries
from lists.au_dfat import COLUMNS, AuDfatAdapter, birth_dates, citizenships, listing_date
from lists.base import ParseError
from lists.ingest import ingest_files
from tests.support.env import list_file

DFAT = "au_dfat/regulation8_consolidated.xlsx"


def parse_bytes(data: bytes, name: str = "regulation8_consolidated.xlsx") -> ParsedList:
    return AuDfatAdapter().parse([RawFile(name, data)])


@pytest.fixture(scope="module")
def parsed() -> ParsedList:
    return parse_bytes(list_file(DFAT).read_bytes())


@pytest.fixture(scope="module")
def by_ref(parsed: ParsedList) -> dict[str, Entry]:
    return {e.source_ref: e for e in parsed.entries}


@pytest.fixture(scope="module")
def real_rows() -> list[tuple[Any, ...]]:
    """The first rows of the real sheet (header included), to build small variants of the real file."""
    workbook = load_workbook(list_file(DFAT), read_only=True)
    rows = [tuple(r) for r in workbook.worksheets[0].iter_rows(max_row=12, max_col=len(COLUMNS), values_only=True)]
    workbook.close()
    return rows


def write_xlsx(path: Path, rows: list[tuple[Any, ...]]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    for row in rows:
        sheet.append(list(row))
    workbook.save(path)
    return path.read_bytes()


def test_counts_match_sources_md(parsed: ParsedList) -> None:
    assert len(parsed.entries) == 3062
    assert sum(e.schema_ == Schema.PERSON for e in parsed.entries) == 2316
    assert sum(e.schema_ == Schema.ORGANIZATION for e in parsed.entries) == 746
    # 9553 name rows merged into 3062 designations: every name is kept (minus exact repeats), and the few rows
    # that bundle spellings (``Agha Jan Alizai اغا جان عالیزی``, acronyms) give one name per spelling.
    assert 9000 < sum(len(e.names) for e in parsed.entries) <= 9553 + 100
    # Control Date is an Excel serial; its maximum is the publication date.
    assert parsed.published_at is not None and parsed.published_at.date().isoformat() == "2024-11-11"


def test_variants_are_merged_into_the_numbered_designation(by_ref: dict[str, Entry]) -> None:
    kabir = by_ref["3"]
    assert "3a" not in by_ref and "3b" not in by_ref
    assert kabir.primary_name == "Abdul Kabir Mohammad Jan"
    assert ("A. Kabir", NameKind.STRONG_ALIAS) in {(n.value, n.kind) for n in kabir.names}
    assert ("عبد الکبیر محمد جان", NameKind.ORIGINAL_SCRIPT) in {(n.value, n.kind) for n in kabir.names}
    assert kabir.nationalities == ("AF",)
    assert kabir.programs == ("1988 (Taliban)",)
    # Sub-variants such as 2672a10 belong to 2672 too.
    assert len(by_ref["2672"].names) > 20


def test_listing_date_and_information(by_ref: dict[str, Entry]) -> None:
    akhund = by_ref["2"]
    assert akhund.listed_on == "2001-01-25"  # "Listed by UN 1267 Committee on 25 January 2001 (amended ...)"
    assert akhund.remarks is not None and "Listing: Listed by UN 1267 Committee" in akhund.remarks
    assert listing_date("Listed on: 12 Aug. 2014 (Relisted on 9 Aug. 2015)") == "2014-08-12"
    assert listing_date("Autonomous Sanctions (Designated Persons and Entities) Instrument 2024") is None


def test_former_names_are_strong_aliases(by_ref: dict[str, Entry]) -> None:
    adf = {n.value: n.kind for n in by_ref["2943"].names}
    assert adf["NALU"] == NameKind.STRONG_ALIAS
    assert by_ref["2943"].schema_ == Schema.ORGANIZATION


def test_approximate_range_birth_dates(by_ref: dict[str, Entry]) -> None:
    akhund = by_ref["2"]
    assert [(d.date, d.end, d.approximate) for d in akhund.birth_dates] == [
        ("1955", "1958", True),
        ("1945", "1950", True),
    ]
    assert akhund.birth_places == ("Pashmul village, Panjwai District, Kandahar Province, Afghanistan",)


def test_excel_serial_and_year_number_birth_dates(by_ref: dict[str, Entry]) -> None:
    assert [d.date for d in by_ref["147"].birth_dates] == ["1951-06-19"]  # a date cell (Excel serial 18798)
    assert [d.date for d in by_ref["8"].birth_dates] == ["1969"]  # a bare year typed into a number cell
    assert [d.date for d in birth_dates(18798)[0]] == ["1951-06-19"]


def test_hijri_alternatives_are_skipped(by_ref: dict[str, Entry]) -> None:
    assert [d.date for d in by_ref["1254"].birth_dates] == ["1982-04-19", "1982-04-18"]


def test_free_text_birth_dates() -> None:
    def read(text: str) -> list[tuple[str, str | None, bool]]:
        return [(d.date, d.end, d.approximate) for d in birth_dates(text)[0]]

    assert read("Between 1965 and 1969") == [("1965", "1969", False)]
    assert read("a) 1964; b)1965") == [("1964", None, False), ("1965", None, False)]
    assert read("circa 1979") == [("1979", None, True)]
    assert read("12. Jul 1960; 1962") == [("1960-07-12", None, False), ("1962", None, False)]
    assert read("March 1955 to March 1956") == [("1955-03", "1956-03", False)]
    assert birth_dates("Approximately (30-35 years old)") == ([], "Approximately (30-35 years old)")


def test_free_text_citizenship(by_ref: dict[str, Entry]) -> None:
    assert by_ref["2974"].nationalities == ("RU", "UA")  # "Russian and Ukrainian"
    assert citizenships("a) Pakistani b) Afghan") == ("PK", "AF")
    assert citizenships("Kuwaiti citizenship withdrawn in 2002") == ()
    assert citizenships("Egyptian ") == ("EG",)


def test_truncated_file_is_rejected() -> None:
    data = list_file(DFAT).read_bytes()
    with pytest.raises(ParseError, match=r"regulation8_consolidated\.xlsx: (not a readable|damaged) xlsx"):
        parse_bytes(data[: len(data) // 2])


def test_not_an_xlsx_is_rejected() -> None:
    with pytest.raises(ParseError, match=r"cannada\.xml: not a readable xlsx workbook"):
        parse_bytes(list_file("ca_sema/cannada.xml").read_bytes(), "cannada.xml")


def test_small_real_excerpt_parses(tmp_path: Path, real_rows: list[tuple[Any, ...]]) -> None:
    result = parse_bytes(write_xlsx(tmp_path / "excerpt.xlsx", real_rows))
    # Rows 2, 2a, 3, 3a, 3b, 4, 4a, 5, 5a, 5b, 5c: references are ints or strings in the real sheet.
    assert [e.source_ref for e in result.entries] == ["2", "3", "4", "5"]
    assert [len(e.names) for e in result.entries] == [2, 3, 2, 4]
    assert result.entries[0].primary_name == "MOHAMMAD HASSAN AKHUND"
    assert result.published_at is not None and isinstance(result.published_at, datetime)


def test_wrong_header_is_rejected(tmp_path: Path, real_rows: list[tuple[Any, ...]]) -> None:
    header = ("Ref", *real_rows[0][1:])
    with pytest.raises(ParseError, match=r"bad\.xlsx: unexpected header"):
        parse_bytes(write_xlsx(tmp_path / "bad.xlsx", [header, *real_rows[1:]]), "bad.xlsx")


def test_unknown_name_type_and_bad_reference_are_rejected(tmp_path: Path, real_rows: list[tuple[Any, ...]]) -> None:
    rows = list(real_rows)
    rows[2] = (rows[2][0], rows[2][1], rows[2][2], "Nickname", *rows[2][4:])
    with pytest.raises(ParseError, match=r"x\.xlsx: row 3 \(reference 2a\), column Name Type: unknown name type"):
        parse_bytes(write_xlsx(tmp_path / "x.xlsx", rows), "x.xlsx")
    rows = list(real_rows)
    rows[3] = ("X-3", *rows[3][1:])
    with pytest.raises(ParseError, match=r"x\.xlsx: row 4, column Reference: 'X-3' is not a DFAT reference"):
        parse_bytes(write_xlsx(tmp_path / "x.xlsx", rows), "x.xlsx")


def test_variant_without_primary_row_is_rejected(tmp_path: Path, real_rows: list[tuple[Any, ...]]) -> None:
    rows = [real_rows[0], *(r for r in real_rows[1:] if str(r[0]) != "2")]
    with pytest.raises(ParseError, match=r"reference 2 has no Primary Name row"):
        parse_bytes(write_xlsx(tmp_path / "x.xlsx", rows))


@pytest.mark.slow
def test_ingest_through_ingest_files(settings: Settings) -> None:
    result = ingest_files("au_dfat", [list_file(DFAT)], settings)
    assert (result.outcome, result.entry_count) == ("stored", 3062)
    with transaction(settings.database_url) as session:
        version = active_version(session, "au_dfat")
        assert version is not None and version.id == result.version_id
        assert version.published_at is not None and version.published_at.date().isoformat() == "2024-11-11"
        entries = {e.source_ref: e for e in load_entries(session, version.id)}
    assert entries["2"].birth_dates[0].end == "1958"
