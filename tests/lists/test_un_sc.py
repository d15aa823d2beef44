from __future__ import annotations

from kyc.entry import NameKind, Schema
from kyc.versions import ParsedList, RawFile
from lists.un_sc import UnScAdapter
from tests.support.env import list_file

UN_2025 = "un_sc/2025-11-20_mkweli/un_consolidated.xml"
UN_2026 = "un_sc/2026-02-27_watchman/UN_consolidated.xml"


def parse(relative: str) -> ParsedList:
    path = list_file(relative)
    return UnScAdapter().parse([RawFile(path.name, path.read_bytes())])


def test_counts_match_sources_md() -> None:
    old, new = parse(UN_2025), parse(UN_2026)
    assert len(old.entries) == 1000
    assert len(new.entries) == 1003
    assert sum(e.schema_ == Schema.PERSON for e in new.entries) == 730
    assert sum(e.schema_ == Schema.ORGANIZATION for e in new.entries) == 273
    assert new.published_at is not None and new.published_at.isoformat().startswith("2026-02-27T00:00:09")


def test_person_fields_are_mapped() -> None:
    entries = {e.source_ref: e for e in parse(UN_2026).entries}
    emraan = entries["QDi.430"]
    assert emraan.primary_name == "EMRAAN ALI"
    assert emraan.un_ref == "QDi.430"
    assert [n.value for n in emraan.names if n.kind == NameKind.WEAK_ALIAS] == ["Abu Jihad TNT"]
    assert emraan.birth_dates[0].date == "1967-07-04"
    assert emraan.nationalities == ("TT",)
    assert any(i.number == "TB162181" and i.type == "passport" and i.country == "TT" for i in emraan.identifiers)
    assert emraan.listed_on == "2021-11-23"
    # Year-only birth date and Congolese nationality given as an English name.
    badege = entries["CDi.001"]
    assert badege.birth_dates[0].date == "1971"
    assert badege.nationalities == ("CD",)
    assert badege.gender == "male"


def test_empty_placeholder_aliases_are_dropped_and_original_script_kept() -> None:
    entries = parse(UN_2026).entries
    assert all(n.value.strip() for e in entries for n in e.names)
    originals = [e for e in entries if any(n.kind == NameKind.ORIGINAL_SCRIPT for n in e.names)]
    assert len(originals) > 300  # SOURCES.md: 336 individuals carry NAME_ORIGINAL_SCRIPT


def test_ranges_and_approximate_dates() -> None:
    entries = parse(UN_2026).entries
    ranges = [d for e in entries for d in e.birth_dates if d.end is not None]
    approx = [d for e in entries for d in e.birth_dates if d.approximate]
    assert ranges and all(int(d.end) >= int(d.date[:4]) for d in ranges if d.end)
    assert approx
