from __future__ import annotations

from collections.abc import Callable

import pytest

from kyc.entry import DatePrecision, Entry, NameKind, Schema
from kyc.settings import Settings
from kyc.storage.db import transaction
from kyc.versions import ParsedList, RawFile, active_version, load_entries
from lists.base import ParseError
from lists.ingest import ingest_files
from lists.uk_fcdo import UkFcdoAdapter
from lists.uk_ofsi import UkOfsiAdapter
from tests.support.env import list_file

FCDO = "uk_fcdo/excerpt_2026-03-26_pakote_data.xml"
OFSI = "uk/ofsi_2025-04-14/ConList.xlsx"
UN_2026 = "un_sc/2026-02-27_watchman/UN_consolidated.xml"


def parse_bytes(data: bytes, name: str = "UK-Sanctions-List.xml") -> ParsedList:
    return UkFcdoAdapter().parse([RawFile(name, data)])


@pytest.fixture(scope="module")
def parsed() -> ParsedList:
    return parse_bytes(list_file(FCDO).read_bytes())


@pytest.fixture(scope="module")
def entries(parsed: ParsedList) -> dict[str, Entry]:
    return {e.source_ref: e for e in parsed.entries}


def test_counts_match_sources_md(parsed: ParsedList) -> None:
    # SOURCES.md: 20 Designations AFG0001..AFG0020, 5 Entity and 15 Individual, DateGenerated 26/03/2026.
    assert [e.source_ref for e in parsed.entries] == [f"AFG{n:04d}" for n in range(1, 21)]
    assert sum(e.schema_ == Schema.ORGANIZATION for e in parsed.entries) == 5
    assert sum(e.schema_ == Schema.PERSON for e in parsed.entries) == 15
    assert parsed.published_at is not None and parsed.published_at.date().isoformat() == "2026-03-26"
    assert [e.un_ref for e in parsed.entries[:5]] == ["TAe.010", "TAe.011", "TAe.012", "TAe.013", "TAe.014"]
    assert all(e.un_ref and e.un_ref.startswith("TAi.") for e in parsed.entries[5:])
    assert all(e.programs == ("The Afghanistan (Sanctions) (EU Exit) Regulations 2020",) for e in parsed.entries)


def test_person_fields_are_mapped(entries: dict[str, Entry]) -> None:
    akhund = entries["AFG0006"]
    assert akhund.primary_name == "MOHAMMAD HASSAN AKHUND"
    assert [n.value for n in akhund.names if n.kind == NameKind.ORIGINAL_SCRIPT] == ["محمد حسن آخوند"]
    # dd/mm/1945 ... : the year is known, day and month are not.
    assert akhund.birth_dates[0].date == "1945" and akhund.birth_dates[0].precision == DatePrecision.YEAR
    assert len(akhund.birth_dates) == 10
    assert akhund.nationalities == ("AF",)
    assert akhund.listed_on == "2001-01-25"
    # The same passport is listed ten times in the file.
    assert [i.number for i in akhund.identifiers if i.type == "passport"] == ["P04581926"]
    assert "Governor of Kandahar under the previous Taliban regime (1996-2001)" in {p.role for p in akhund.positions}
    assert akhund.remarks is not None and akhund.remarks.startswith("A close associate of Mullah Mohammed Omar")


def test_padding_spaces_exact_dates_and_weak_aliases(entries: dict[str, Entry]) -> None:
    mansur = entries["AFG0011"]  # <PassportNumber> D0009720</PassportNumber>
    assert "D0009720" in {i.number for i in mansur.identifiers if i.type == "passport"}
    assert "1967-11-12" in {d.date for d in mansur.birth_dates}
    zahir = entries["AFG0012"]  # <Name1>Shams </Name1> <Name6> ABDUL ZAHIR</Name6>
    assert zahir.primary_name == "Shams Ur-Rahman ABDUL ZAHIR"
    weak = [n.value for n in zahir.names if n.kind == NameKind.WEAK_ALIAS]
    assert weak == ["Shams ur-Rahman Sher Alam"]  # AliasStrength "Low quality a.k.a"
    assert entries["AFG0001"].schema_ == Schema.ORGANIZATION
    assert "PK" in entries["AFG0001"].countries and "AF" in entries["AFG0001"].countries


def test_designations_link_to_the_ofsi_conlist(parsed: ParsedList) -> None:
    """OFSIGroupID, the UK Sanctions List ref and the UN ref agree with the April 2025 ConList for all 20."""
    ofsi = {
        e.source_ref: e for e in UkOfsiAdapter().parse([RawFile("ConList.xlsx", list_file(OFSI).read_bytes())]).entries
    }
    for entry in parsed.entries:
        group_id = next(i.number for i in entry.identifiers if i.type == "ofsi_group_id")
        match = ofsi[group_id]
        assert match.un_ref == entry.un_ref
        assert any(i.type == "uk_sanctions_list_ref" and i.number == entry.source_ref for i in match.identifiers)


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda d: d[: len(d) // 2], r"^fcdo\.xml: malformed XML"),
        (
            lambda d: d.replace(b"<UniqueID>AFG0003</UniqueID>", b""),
            r"^fcdo\.xml: a Designation \(OFSIGroupID 12811\) has no UniqueID",
        ),
        (
            lambda d: d.replace(b"<DateGenerated>26/03/2026", b"<DateGenerated>soon"),
            r"^fcdo\.xml: DateGenerated 'soon'",
        ),
        (
            lambda d: d.replace(b">Entity<", b">Spaceship<", 1),
            r"^fcdo\.xml: AFG0001: unknown IndividualEntityShip 'spaceship'",
        ),
        (
            lambda d: d.replace(b"<Designations ", b'<!DOCTYPE d [<!ENTITY x "y">]><Designations ', 1),
            r"^fcdo\.xml: DOCTYPE/ENTITY declarations are not allowed",
        ),
    ],
)
def test_malformed_input_is_rejected_naming_the_file(mutate: Callable[[bytes], bytes], reason: str) -> None:
    with pytest.raises(ParseError, match=reason):
        parse_bytes(mutate(list_file(FCDO).read_bytes()), "fcdo.xml")


def test_another_list_is_rejected() -> None:
    with pytest.raises(ParseError, match=r"^un\.xml: root element is <CONSOLIDATED_LIST>, expected <Designations>"):
        parse_bytes(list_file(UN_2026).read_bytes(), "un.xml")


def test_ingest_through_ingest_files(settings: Settings) -> None:
    result = ingest_files("uk_fcdo", [list_file(FCDO)], settings)
    assert (result.outcome, result.entry_count) == ("stored", 20)
    assert ingest_files("uk_fcdo", [list_file(FCDO)], settings).outcome == "unchanged"
    with transaction(settings.database_url) as session:
        version = active_version(session, "uk_fcdo")
        assert version is not None and version.id == result.version_id
        assert version.published_at is not None and version.published_at.date().isoformat() == "2026-03-26"
        stored = {e.source_ref: e for e in load_entries(session, version.id)}
    assert stored["AFG0006"].un_ref == "TAi.002"
    assert stored["AFG0006"].birth_dates[0].date == "1945"
