from __future__ import annotations

import json
from collections import Counter

import pytest

from kyc.entry import Entry, NameKind, Schema
from kyc.settings import Settings
from kyc.storage.db import transaction
from kyc.versions import ParsedList, RawFile, active_version, load_entries
from lists.base import ParseError
from lists.ingest import ingest_files
from lists.opensanctions import OpenSanctionsAdapter
from tests.support.env import list_file

SAUDI = "pep/opensanctions_ftm/wikidata_sa_peps_usercrawl/entities.ftm.json"
DELTA = "pep/opensanctions_ftm/yente_tests_fixtures/entities.delta.json"
CONGRESS = "pep/opensanctions_senzing/us_congress/us_congress_senzing.json"


def raw(relative: str) -> RawFile:
    path = list_file(relative)
    return RawFile(path.name, path.read_bytes())


def parse(*files: RawFile) -> ParsedList:
    return OpenSanctionsAdapter().parse(list(files))


def by_ref(parsed: ParsedList) -> dict[str, Entry]:
    return {e.source_ref: e for e in parsed.entries}


@pytest.fixture(scope="module")
def saudi() -> ParsedList:
    return parse(raw(SAUDI))


@pytest.fixture(scope="module")
def delta() -> ParsedList:
    return parse(raw(DELTA))


@pytest.fixture(scope="module")
def congress() -> ParsedList:
    return parse(raw(CONGRESS))


def test_saudi_ftm_counts(saudi: ParsedList) -> None:
    # SOURCES.md: 607 Person, 100 Position, 102 Occupancy, 756 Family: only the persons become entries.
    assert len(saudi.entries) == 607
    assert {e.schema_ for e in saudi.entries} == {Schema.PERSON}
    topics = Counter(t for e in saudi.entries for t in e.topics)
    # 141 distinct occupancy holders; 159 of their relatives hold no office themselves.
    assert topics == {"role.pep": 141, "role.rca": 159}
    assert not any({"role.pep", "role.rca"} <= set(e.topics) for e in saudi.entries)
    assert saudi.published_at is not None and saudi.published_at.isoformat() == "2024-03-14T11:31:42+00:00"
    # The crawl's Occupancy has no `post`: 100 of 102 are linked back to their Position through the id hash;
    # the other two name positions missing from the file and are reported.
    assert len(saudi.warnings) == 2 and all("position is not in the file" in w for w in saudi.warnings)
    positions = [p for e in saudi.entries for p in e.positions]
    assert len({p.role for p in positions}) == 99  # all 100 positions; two of them are called 'Minister of Finance'
    assert all("role.pep" in e.topics for e in saudi.entries if e.positions)


def test_saudi_pep_with_position_and_family(saudi: ParsedList) -> None:
    entries = by_ref(saudi)
    fahad = entries["Q12231217"]
    assert fahad.primary_name == "Fahad bin Saud bin Abdulaziz Al Saud"
    assert "role.pep" in fahad.topics
    assert fahad.nationalities == ("SA",)
    assert fahad.birth_dates[0].date == "1923-01-01"
    ambassador = next(p for p in fahad.positions if p.role == "Saudi ambassador to Greece")
    assert (ambassador.country, ambassador.start, ambassador.end) == ("SA", "1964-01-01", "1968-01-01")
    # Family(person=Fahad, relative=Saud, relationship=father): Fahad is the son of King Saud, who is an entry too.
    [relation] = fahad.relations
    assert (relation.kind, relation.other_ref, relation.description) == ("family", "Q244206", "son")
    assert relation.other_name == "Saud of Saudi Arabia"
    saud = entries[relation.other_ref or ""]
    assert any(r.other_ref == "Q12231217" and r.description == "father" for r in saud.relations)
    assert any(n.kind == NameKind.ORIGINAL_SCRIPT and n.value.startswith("فهد") for n in fahad.names)


def test_post_shared_by_several_holders_has_no_dates(saudi: ParsedList) -> None:
    # One crawl occupancy holds every Minister of Defence with all their dates mixed: the dates cannot be paired.
    fahad = by_ref(saudi)["Q12231217"]
    defence = next(p for p in fahad.positions if p.role == "Minister of Defence")
    assert (defence.country, defence.start, defence.end) == ("SA", None, None)


def test_relative_without_office_is_rca(saudi: ParsedList) -> None:
    entries = by_ref(saudi)
    hessa = entries["Q100579253"]
    assert hessa.primary_name == "Hessa bint Trad Al Shaalan"
    assert hessa.topics == ("role.rca",)
    assert hessa.positions == ()
    [relation] = hessa.relations
    assert (relation.kind, relation.description, relation.other_ref) == ("family", "wife", "Q57298")
    assert "role.pep" in entries["Q57298"].topics
    assert hessa.is_pep  # RCA counts for enhanced due diligence


def test_bare_string_values_and_missing_name(saudi: ParsedList) -> None:
    # Q60195440 has no `name`, and `birthDate`/`notes` as bare strings instead of lists.
    abdullah = by_ref(saudi)["Q60195440"]
    assert abdullah.primary_name == "Prince Abdullah Bin Bandar Bin Abdulaziz Al Sa‘ud"
    assert [d.date for d in abdullah.birth_dates] == ["1986-08-07"]
    assert abdullah.remarks is not None and abdullah.remarks.startswith("Abdullah bin Bandar graduated")


def test_delta_final_state(delta: ParsedList) -> None:
    # 1700 lines: ADD 90 / MOD 1039 / DEL 571. Things: 451 Person, 97 Organization + 1 Company, 27 LegalEntity;
    # the 547 Sanction entities are folded into their entities, DEL lines carry only ids and are ignored.
    assert len(delta.entries) == 576
    assert Counter(e.schema_ for e in delta.entries) == {
        Schema.PERSON: 451,
        Schema.ORGANIZATION: 98,
        Schema.LEGAL_ENTITY: 27,
    }
    assert delta.published_at is not None and delta.published_at.isoformat() == "2024-05-30T06:58:03+00:00"
    deleted = {
        json.loads(line)["entity"]["id"] for line in list_file(DELTA).read_text().splitlines() if '"DEL"' in line
    }
    assert not deleted & {e.source_ref for e in delta.entries}


def test_delta_sanction_and_passport_folded(delta: ParsedList) -> None:
    entries = by_ref(delta)
    dini = entries["NK-Ld5SyGNpr7mmysNh4czCXJ"]
    assert dini.primary_name == "Dini Ramadhani"
    assert set(dini.programs) == {"DTTOT", "SDN List"}  # from two Sanction entities
    assert "sanction" in dini.topics
    # passportNumber and the Passport entity name the same document: kept once, with the Passport's country.
    assert [(i.type, i.number, i.country) for i in dini.identifiers] == [("passport", "B 4286562", "ID")]
    umarov = entries["Q58813"]
    assert umarov.nationalities == ("RU",)  # 'suhh' (Soviet Union) is not an ISO country
    assert [d.date for d in umarov.birth_dates] == ["1964-05-12", "1955", "1964-04-13", "1965-04-13"]


def test_delta_del_removes_an_entity_added_in_the_same_set() -> None:
    data = list_file(DELTA).read_bytes()
    delete = json.dumps({"op": "DEL", "entity": {"id": "NK-Ld5SyGNpr7mmysNh4czCXJ"}}).encode()
    parsed = parse(RawFile("entities.delta.json", data.rstrip(b"\n") + b"\n" + delete + b"\n"))
    assert len(parsed.entries) == 575
    assert "NK-Ld5SyGNpr7mmysNh4czCXJ" not in by_ref(parsed)


def test_senzing_us_congress(congress: ParsedList) -> None:
    # 1319 lines: 1317 PERSON and two position records that the persons point at.
    assert len(congress.entries) == 1317
    assert all(e.topics == ("role.pep",) and e.schema_ == Schema.PERSON for e in congress.entries)
    assert congress.published_at is not None and congress.published_at.isoformat() == "2025-12-08T08:44:02+00:00"
    mcclellan = by_ref(congress)["NK-AQ4HymsADSK2D63MkyTqfC"]
    assert mcclellan.primary_name == "Jennifer L. McClellan"
    assert [d.date for d in mcclellan.birth_dates] == ["1972"]
    assert mcclellan.nationalities == ("US",)
    assert [(p.role, p.country) for p in mcclellan.positions] == [("United States representative", "US")]
    auchincloss = by_ref(congress)["Q101196632"]
    assert [(i.type, i.number) for i in auchincloss.identifiers] == [("wikidata", "Q101196632")]
    roles = Counter(p.role for e in congress.entries for p in e.positions)
    assert roles == {"United States representative": 1157, "United States senator": 209}


def test_ftm_and_senzing_in_one_file_set(saudi: ParsedList, congress: ParsedList) -> None:
    merged = parse(raw(SAUDI), raw(CONGRESS))
    refs = [e.source_ref for e in merged.entries]
    assert len(refs) == len(set(refs)) == 607 + 1317
    assert merged.file_format == "ftm+senzing"
    assert merged.published_at == congress.published_at  # the later of the two


def test_same_entity_in_two_files_is_merged() -> None:
    lines = list_file(SAUDI).read_text().splitlines()
    fahad = next(json.loads(line) for line in lines if '"id": "Q12231217"' in line)
    fahad["properties"] = {"name": ["Fahad bin Saud"], "passportNumber": ["X123"]}
    extra = RawFile("extra.ftm.json", json.dumps(fahad).encode())
    merged = by_ref(parse(raw(SAUDI), extra))["Q12231217"]
    assert merged.primary_name == "Fahad bin Saud bin Abdulaziz Al Saud"
    assert [i.number for i in merged.identifiers if i.type == "passport"] == ["X123"]
    assert any(p.role == "Saudi ambassador to Greece" for p in merged.positions)


def test_malformed_json_line_names_file_and_line() -> None:
    lines = list_file(SAUDI).read_bytes().splitlines()
    lines[2] = lines[2][:40]
    with pytest.raises(ParseError, match=r"entities\.ftm\.json: line 3: not valid JSON"):
        parse(RawFile("entities.ftm.json", b"\n".join(lines)))


def test_entity_without_id_or_unknown_op_is_rejected() -> None:
    with pytest.raises(ParseError, match=r"x\.json: line 1: an FtM entity needs an id and a schema"):
        parse(RawFile("x.json", b'{"schema": "Person", "properties": {"name": ["A"]}}\n'))
    with pytest.raises(ParseError, match=r"d\.json: line 1: unknown delta op 'UPSERT'"):
        parse(RawFile("d.json", b'{"op": "UPSERT", "entity": {"id": "a", "schema": "Person"}}\n'))
    with pytest.raises(ParseError, match=r"empty\.json: the file holds no records"):
        parse(RawFile("empty.json", b"\n\n"))


@pytest.mark.slow
def test_ingest_ftm_and_senzing_through_ingest_files(settings: Settings) -> None:
    paths = [list_file(SAUDI), list_file(CONGRESS)]
    result = ingest_files("opensanctions", paths, settings)
    assert (result.outcome, result.entry_count, result.added) == ("stored", 1924, 1924)
    assert ingest_files("opensanctions", paths, settings).outcome == "unchanged"
    with transaction(settings.database_url) as session:
        version = active_version(session, "opensanctions")
        assert version is not None and version.id == result.version_id
        assert version.published_at is not None and version.published_at.date().isoformat() == "2025-12-08"
        entries = {e.source_ref: e for e in load_entries(session, version.id)}
    fahad = entries["Q12231217"]
    assert any(p.role == "Saudi ambassador to Greece" and p.start == "1964-01-01" for p in fahad.positions)
    assert entries["Q100579253"].topics == ("role.rca",)
    assert entries["NK-AQ4HymsADSK2D63MkyTqfC"].positions[0].country == "US"
