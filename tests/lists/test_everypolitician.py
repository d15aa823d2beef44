from __future__ import annotations

import json
from collections import Counter

import pytest

from kyc.entry import Entry, NameKind, Schema
from kyc.settings import Settings
from kyc.storage.db import transaction
from kyc.versions import ParsedList, RawFile, active_version, load_entries
from lists.base import ParseError
from lists.everypolitician import EveryPoliticianAdapter
from lists.ingest import ingest_files
from tests.support.env import list_file

CHAMBERS = {
    "EE": "pep/everypolitician/Estonia_Riigikogu/ep-popolo-v1.0.json",
    "FI": "pep/everypolitician/Finland_Eduskunta/ep-popolo-v1.0.json",
    "KP": "pep/everypolitician/North_Korea_National_Assembly/ep-popolo-v1.0.json",
}
TUOMIOJA = "FI-0398fbde-2da4-4458-8386-1a7ec0096953"


def raw(country: str, data: bytes | None = None) -> RawFile:
    path = list_file(CHAMBERS[country])
    return RawFile(path.name, path.read_bytes() if data is None else data)


def parse(*files: RawFile) -> ParsedList:
    return EveryPoliticianAdapter().parse(list(files))


@pytest.fixture(scope="module")
def parsed() -> ParsedList:
    return parse(*(raw(country) for country in CHAMBERS))


@pytest.fixture(scope="module")
def by_ref(parsed: ParsedList) -> dict[str, Entry]:
    return {e.source_ref: e for e in parsed.entries}


def test_counts_match_sources_md(parsed: ParsedList) -> None:
    # SOURCES.md: 194 / 494 / 687 persons; 298 / 1455 / 687 memberships. All three files have the same name.
    assert Counter(e.source_ref[:2] for e in parsed.entries) == {"EE": 194, "FI": 494, "KP": 687}
    assert len({e.source_ref for e in parsed.entries}) == 1375
    assert Counter(p.country for e in parsed.entries for p in e.positions) == {"EE": 298, "FI": 1455, "KP": 687}
    assert all(e.schema_ == Schema.PERSON and e.topics == ("role.pep",) for e in parsed.entries)
    assert all(e.positions for e in parsed.entries)
    assert parsed.warnings == []
    # No date in the files: the latest membership or term start stands in for it.
    assert parsed.published_at is not None and parsed.published_at.date().isoformat() == "2017-02-09"


def test_finnish_mp_with_several_terms(by_ref: dict[str, Entry]) -> None:
    tuomioja = by_ref[TUOMIOJA]
    assert tuomioja.primary_name == "Erkki Tuomioja"
    assert tuomioja.birth_dates[0].date == "1946-07-01"
    assert tuomioja.gender == "male"
    assert tuomioja.countries == ("FI",) and tuomioja.nationalities == ()
    assert [(i.type, i.number) for i in tuomioja.identifiers] == [("wikidata", "Q58121")]
    assert len(tuomioja.positions) == 10
    assert {(p.role, p.body, p.country) for p in tuomioja.positions} == {("Member of Eduskunta", "Eduskunta", "FI")}
    # His memberships carry no dates: each comes from its legislative period, the last one still planned.
    assert ("1970-03-23", "1972-01-21") in {(p.start, p.end) for p in tuomioja.positions}
    assert ("2015-04-28", "2019") in {(p.start, p.end) for p in tuomioja.positions}


def test_membership_dates_win_over_the_term(by_ref: dict[str, Entry]) -> None:
    ansip = by_ref["EE-062854b4-591c-4c47-83e4-bf0c20c64ef3"]
    assert ansip.primary_name == "Andrus Ansip"
    # Two short memberships inside the 12th Riigikogu (2011-03-27 .. 2015-03-23): the membership's own dates.
    assert [(p.role, p.start, p.end) for p in ansip.positions] == [
        ("Member of Riigikogu", "2011-03-27", "2011-04-05"),
        ("Member of Riigikogu", "2014-03-26", "2014-06-18"),
    ]


def test_sitting_term_has_no_end(by_ref: dict[str, Entry]) -> None:
    aadu = by_ref["EE-bc584d7f-86a1-4c2d-97b4-081971d8a1fa"]
    assert ("2015-03-30", None) in {(p.start, p.end) for p in aadu.positions}
    kp = by_ref["KP-194b8cfc-e072-499d-b59f-dec49c6dc121"]
    assert [(p.role, p.country, p.start, p.end) for p in kp.positions] == [
        ("Member of Supreme People’s Assembly", "KP", "2014-03-09", None)
    ]


def test_other_names_in_several_languages(by_ref: dict[str, Entry]) -> None:
    names = {(n.value, n.kind, n.lang) for n in by_ref[TUOMIOJA].names}
    assert ("Erkki Tuomioja", NameKind.PRIMARY, None) in names
    assert ("Туомиоя, Эркки", NameKind.ORIGINAL_SCRIPT, "ru") in names
    assert ("エルッキ・トゥオミオヤ", NameKind.ORIGINAL_SCRIPT, "ja") in names
    assert ("إركي تووميويا", NameKind.ORIGINAL_SCRIPT, "ar") in names
    ansip = by_ref["EE-062854b4-591c-4c47-83e4-bf0c20c64ef3"]
    assert ("Andruss Ansips", NameKind.STRONG_ALIAS, "lv") in {(n.value, n.kind, n.lang) for n in ansip.names}


def _finnish_file(change: dict[str, object]) -> RawFile:
    data = json.loads(list_file(CHAMBERS["FI"]).read_text())
    legislature = next(o for o in data["organizations"] if o["classification"] == "legislature")
    legislature.update(change)
    return raw("FI", json.dumps(data).encode())


def test_country_from_election_demonym_when_the_legislature_is_not_known() -> None:
    parsed = parse(_finnish_file({"identifiers": []}))
    assert {p.country for e in parsed.entries for p in e.positions} == {"FI"}  # "Finnish parliamentary election"


def test_unknown_country_is_a_warning_not_a_guess() -> None:
    data = json.loads(list_file(CHAMBERS["KP"]).read_text())
    data["organizations"][0 if data["organizations"][0]["classification"] == "legislature" else 1]["identifiers"] = []
    data["events"] = [e for e in data["events"] if e.get("classification") == "legislative period"]
    parsed = parse(raw("KP", json.dumps(data).encode()))
    assert len(parsed.entries) == 687
    assert all(p.country is None for e in parsed.entries for p in e.positions)
    assert all(e.source_ref.startswith("legislature-") for e in parsed.entries)
    assert parsed.warnings and "country" in parsed.warnings[0]


def test_malformed_json_names_file_and_line() -> None:
    data = list_file(CHAMBERS["EE"]).read_bytes()
    with pytest.raises(ParseError, match=r"ep-popolo-v1\.0\.json: line \d+: not valid JSON"):
        parse(raw("EE", data[: len(data) // 2]))


def test_file_without_legislature_or_person_name_is_rejected() -> None:
    data = json.loads(list_file(CHAMBERS["EE"]).read_text())
    data["persons"][3].pop("name")
    with pytest.raises(ParseError, match=r"ep-popolo-v1\.0\.json: persons\[3\] needs an id and a name"):
        parse(raw("EE", json.dumps(data).encode()))
    data["organizations"] = [o for o in data["organizations"] if o["classification"] != "legislature"]
    with pytest.raises(ParseError, match="no organisation with classification 'legislature'"):
        parse(raw("EE", json.dumps(data).encode()))


def test_no_feed_manual_import_only() -> None:
    assert EveryPoliticianAdapter.default_url is None


@pytest.mark.slow
def test_ingest_three_chambers_as_one_file_set(settings: Settings) -> None:
    paths = [list_file(relative) for relative in CHAMBERS.values()]
    result = ingest_files("everypolitician", paths, settings)
    assert (result.outcome, result.entry_count, result.added) == ("stored", 1375, 1375)
    assert ingest_files("everypolitician", paths, settings).outcome == "unchanged"
    with transaction(settings.database_url) as session:
        version = active_version(session, "everypolitician")
        assert version is not None and version.id == result.version_id
        entries = {e.source_ref: e for e in load_entries(session, version.id)}
    assert len(entries[TUOMIOJA].positions) == 10
    assert entries[TUOMIOJA].positions[0].country == "FI"
