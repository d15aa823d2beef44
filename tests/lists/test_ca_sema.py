from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from kyc.entry import Entry, NameKind, Schema
from kyc.settings import Settings
from kyc.storage.db import transaction
from kyc.versions import ParsedList, RawFile, active_version, load_entries
from lists.base import ParseError
from lists.ca_sema import CaSemaAdapter, birth_date
from lists.ingest import ingest_files
from tests.support.env import list_file

CA = "ca_sema/cannada.xml"


def parse_bytes(data: bytes, name: str = "cannada.xml") -> ParsedList:
    return CaSemaAdapter().parse([RawFile(name, data)])


@pytest.fixture(scope="module")
def parsed() -> ParsedList:
    return parse_bytes(list_file(CA).read_bytes())


@pytest.fixture(scope="module")
def by_ref(parsed: ParsedList) -> dict[str, Entry]:
    return {e.source_ref: e for e in parsed.entries}


def test_counts_match_sources_md(parsed: ParsedList) -> None:
    assert len(parsed.entries) == 4759
    assert sum(e.schema_ == Schema.PERSON for e in parsed.entries) == 3334
    # SOURCES.md: 1425 entities/ships; 109 of them carry an IMO number.
    assert sum(e.schema_ == Schema.ORGANIZATION for e in parsed.entries) == 1316
    assert sum(e.schema_ == Schema.VESSEL for e in parsed.entries) == 109
    assert len({e.source_ref for e in parsed.entries}) == 4759
    # No date in the file: the latest DateOfListing stands in for it.
    assert parsed.published_at is not None and parsed.published_at.date().isoformat() == "2025-03-20"


def test_person_with_bilingual_country(by_ref: dict[str, Entry]) -> None:
    lukashenko = by_ref["Belarus / Schedule 1, Part 1 / Item 8"]
    assert lukashenko.schema_ == Schema.PERSON
    assert lukashenko.primary_name == "Aleksandr Grigoryevich Lukashenko"
    assert lukashenko.birth_dates[0].date == "1954-08-30"
    assert lukashenko.countries == ("BY",)  # "Belarus / Bélarus"
    assert lukashenko.nationalities == ()  # the regime's country is not a nationality
    assert lukashenko.programs == ("Belarus",)
    assert lukashenko.listed_on == "2020-09-28"
    assert by_ref["Belarus / Schedule 1, Part 1 / Item 2"].birth_dates[0].date == "1972"


def test_ship_is_a_vessel_with_imo(by_ref: dict[str, Entry]) -> None:
    ship = by_ref["Russia / Schedule 1.1 / Item 1"]
    assert ship.schema_ == Schema.VESSEL
    assert ship.primary_name == "Balitiyskiy III"
    assert [(i.type, i.number) for i in ship.identifiers] == [("imo", "7612448")]
    assert ship.birth_dates == ()  # a build year, not a birth date
    assert ship.remarks is not None and "Built: 1980" in ship.remarks and "General Cargo" in ship.remarks


def test_aliases_with_language_prefixes(by_ref: dict[str, Entry]) -> None:
    nikolai = by_ref["Belarus / Schedule 1, Part 1 / Item 120"]
    names = {(n.value, n.kind, n.lang) for n in nikolai.names}
    assert ("Mikalay Alyaksandravich Lukashenka", NameKind.STRONG_ALIAS, None) in names
    assert ("Kolya Lukashenko", NameKind.STRONG_ALIAS, None) in names
    assert ("Мікалай Аляксандравіч Лукашэнка", NameKind.ORIGINAL_SCRIPT, "bel") in names
    assert ("Николай Александрович Лукашенко", NameKind.ORIGINAL_SCRIPT, "rus") in names
    assert ("Коля Лукашенко", NameKind.ORIGINAL_SCRIPT, "rus") in names
    assert not any("Belarusian" in n.value or "Russian" in n.value for n in nikolai.names)


def test_alias_fragments_and_legal_forms(by_ref: dict[str, Entry]) -> None:
    concord = by_ref["Russia / Schedule 1, Part 2 / Item 351"]
    assert concord.schema_ == Schema.ORGANIZATION
    # "ООО" alone would match every Russian LLC: it stays attached to its name.
    assert [n.value for n in concord.names if n.kind == NameKind.ORIGINAL_SCRIPT] == [
        "Конкорд Менеджмент и консалтинг, ООО"
    ]
    shcherbakov = by_ref["Russia / Schedule 1, Part 1 / Item 115"]
    kinds = {n.value: n.kind for n in shcherbakov.names}
    assert kinds["Serhii SHERBAKOV"] == NameKind.STRONG_ALIAS
    assert kinds["Sergei"] == NameKind.WEAK_ALIAS  # a lone given name


def test_regulations_without_schedule_and_thematic_regimes(parsed: ParsedList) -> None:
    refs = {e.source_ref for e in parsed.entries}
    assert "Guatemala / Item 1" in refs
    jvcfor = [e for e in parsed.entries if e.source_ref.startswith("JVCFOR / ")]
    assert len(jvcfor) == 80
    assert all(e.countries == () for e in jvcfor)


def test_free_text_birth_dates() -> None:
    assert [(d.date, d.end) for d in birth_date("1963-1964")] == [("1963", "1964")]
    assert [d.date for d in birth_date("1965-07-15 OR 1969-09-28")] == ["1965-07-15", "1969-09-28"]
    assert [d.date for d in birth_date(" 1953-10-27")] == ["1953-10-27"]
    assert birth_date("Sep-99") == ()


def test_unparseable_birth_date_kept_as_remark(parsed: ParsedList) -> None:
    odd = [e for e in parsed.entries if e.remarks and "Date of birth: Sep-99" in e.remarks]
    assert len(odd) == 1 and odd[0].birth_dates == ()


def test_truncated_file_is_rejected() -> None:
    data = list_file(CA).read_bytes()
    with pytest.raises(ParseError, match=r"cannada\.xml: malformed XML"):
        parse_bytes(data[: len(data) // 2])


def test_wrong_root_is_rejected() -> None:
    with pytest.raises(ParseError, match=r"other\.xml: root element is <CONSOLIDATED_LIST>"):
        parse_bytes(list_file("un_sc/2026-02-27_watchman/UN_consolidated.xml").read_bytes(), "other.xml")


def _first_records(count: int) -> etree._Element:
    root = etree.fromstring(list_file(CA).read_bytes())
    for record in list(root)[count:]:
        root.remove(record)
    return root


def test_duplicate_key_is_rejected() -> None:
    root = _first_records(3)
    root.append(etree.fromstring(etree.tostring(root[0])))
    with pytest.raises(
        ParseError, match=r"cannada\.xml: records 1 and 4 share the key 'Belarus / Schedule 1, Part 1 / Item 1'"
    ):
        parse_bytes(etree.tostring(root))


def test_record_without_item_or_name_is_rejected() -> None:
    root = _first_records(2)
    item = root[1].find("Item")
    assert item is not None
    root[1].remove(item)
    with pytest.raises(ParseError, match=r"cannada\.xml: record 2: Country and Item are required"):
        parse_bytes(etree.tostring(root))
    root = _first_records(2)
    for tag in ("LastName", "GivenName"):
        element = root[0].find(tag)
        assert element is not None
        root[0].remove(element)
    with pytest.raises(ParseError, match=r"record 1 \(Belarus / Schedule 1, Part 1 / Item 1\): no LastName"):
        parse_bytes(etree.tostring(root))


def test_doctype_is_refused() -> None:
    data = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><data-set></data-set>'
    with pytest.raises(ParseError, match="DOCTYPE"):
        parse_bytes(data)


def test_ingest_through_ingest_files(settings: Settings) -> None:
    path = list_file(CA)
    result = ingest_files("ca_sema", [path], settings)
    assert (result.outcome, result.entry_count, result.added) == ("stored", 4759, 4759)
    assert ingest_files("ca_sema", [Path(path)], settings).outcome == "unchanged"
    with transaction(settings.database_url) as session:
        version = active_version(session, "ca_sema")
        assert version is not None and version.id == result.version_id
        assert version.published_at is not None and version.published_at.date().isoformat() == "2025-03-20"
        entries = {e.source_ref: e for e in load_entries(session, version.id)}
    assert entries["Russia / Schedule 1.1 / Item 1"].identifiers[0].number == "7612448"
