from __future__ import annotations

import gzip

import pytest

from kyc.entry import Entry, NameKind, Schema
from kyc.settings import Settings
from kyc.versions import ParsedList, RawFile
from lists.base import ParseError
from lists.ingest import ingest_files
from lists.us_csl import UsCslAdapter
from tests.support.env import list_file

CSL = "us_csl/consolidated.csv.gz"


def parse(data: bytes, name: str = "consolidated.csv.gz") -> ParsedList:
    return UsCslAdapter().parse([RawFile(name, data)])


@pytest.fixture(scope="module")
def csl() -> dict[str, Entry]:
    return {e.source_ref: e for e in parse(list_file(CSL).read_bytes()).entries}


def test_counts_and_merged_ids(csl: dict[str, Entry]) -> None:
    # SOURCES.md: 14160 rows; 71 _ids repeat (one row per Treasury list), so 14048 designations.
    assert len(csl) == 14048
    schemas = [e.schema_ for e in csl.values()]
    assert schemas.count(Schema.VESSEL) == 433
    assert schemas.count(Schema.AIRCRAFT) == 283
    assert schemas.count(Schema.LEGAL_ENTITY) == 3625  # BIS/State rows say nothing about person or entity
    assert sum("SDN" in e.programs for e in csl.values()) == 10026  # every SDN row, merged with its other lists
    vtb_africa = csl["18725"]  # three rows: CAP, SDN, SSI
    assert vtb_africa.programs == ("CAP", "SDN", "SSI", "UKRAINE-EO13662", "RUSSIA-EO14024")
    assert vtb_africa.remarks is not None and vtb_africa.remarks.startswith(
        "source_list: Capta List (CAP) - Treasury Department; Specially Designated Nationals (SDN)"
    )
    assert any(i.type == "swift_bic" and i.number == "VTBLAOLU" for i in vtb_africa.identifiers)
    assert vtb_africa.countries == ("AO",)


def test_person_fields(csl: dict[str, Entry]) -> None:
    person = csl["17291"]
    assert person.schema_ == Schema.PERSON
    assert person.primary_name == "'Abd al-Malik Muhammad Yusuf 'Uthman 'ABD AL-SALAM"
    assert "'Umar al-Qatari" in {n.value for n in person.names if n.kind == NameKind.STRONG_ALIAS}
    assert [d.date for d in person.birth_dates] == ["1989-07-13"]
    assert person.nationalities == ("JO",)
    # "QA, 28940000602, National ID No.; JO, 2014-08-30, 2009-08-31, K475336, Passport"
    assert {(i.type, i.number, i.country) for i in person.identifiers} == {
        ("national_id", "28940000602", "QA"),
        ("passport", "K475336", "JO"),
    }
    rim = csl["21944"]
    assert (rim.primary_name, rim.birth_dates[0].date, rim.nationalities) == ("Rim 'ABBAS", "1973-03-25", ("SY",))
    genders = [e.gender for e in csl.values() if e.gender]
    assert len(genders) == 2404 and set(genders) == {"male", "female"}


def test_export_control_lists_keep_their_origin(csl: dict[str, Entry]) -> None:
    dpl = csl["deb7a1d5743a85c354ca1a2c7f2664e2104b32d7"]
    assert dpl.schema_ == Schema.LEGAL_ENTITY
    assert dpl.primary_name == "I. ASH"
    assert dpl.programs == ("DPL",)
    assert dpl.topics == ("export.control",)
    assert dpl.listed_on == "2003-06-19"
    assert dpl.countries == ("US",)
    assert sum("DTC" in e.programs and "debarment" in e.topics for e in csl.values()) == 727


def test_plain_csv_is_accepted_too() -> None:
    plain = gzip.decompress(list_file(CSL).read_bytes())
    assert len(parse(plain, "consolidated.csv").entries) == 14048


def test_truncated_and_malformed_files_are_rejected() -> None:
    data = list_file(CSL).read_bytes()
    with pytest.raises(ParseError, match=r"consolidated\.csv\.gz: corrupt gzip"):
        parse(data[: len(data) // 2])
    plain = gzip.decompress(data)
    cut = plain[: plain.index(b"\n", len(plain) // 2) + 40]  # mid-row, inside the next record
    with pytest.raises(ParseError, match=r"consolidated\.csv: line \d+"):
        parse(cut, "consolidated.csv")
    with pytest.raises(ParseError, match="header lacks"):
        parse(b"name,address\nX,Y\n", "other.csv")
    with pytest.raises(ParseError, match="expected one"):
        UsCslAdapter().parse([])


@pytest.mark.slow
def test_ingest(settings: Settings) -> None:
    result = ingest_files("us_csl", [list_file(CSL)], settings)
    assert result.outcome == "stored" and result.entry_count == 14048
