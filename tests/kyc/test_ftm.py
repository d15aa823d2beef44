"""Entries of the real lists as FollowTheMoney entities, checked with FollowTheMoney's own model.

Every property must exist on the entity's schema and every value must be one FtM accepts (lower-case country
codes, ISO dates, OpenSanctions topics); ids are stable across list versions and unique within a source.
"""

from __future__ import annotations

from typing import Any

import pytest
from followthemoney import model, registry

from kyc import ftm
from kyc.entry import Entry
from kyc.versions import RawFile
from lists.registry import get_adapter
from tests.support.env import list_file

UN_OLD = "un_sc/2025-11-20_mkweli/un_consolidated.xml"
UN_NEW = "un_sc/2026-02-27_watchman/UN_consolidated.xml"
SAUDI_PEPS = "pep/opensanctions_ftm/wikidata_sa_peps_usercrawl/entities.ftm.json"
OFAC = "ofac_sdn/2024-05-03_jackdwyer/sdn.csv"
EDUSKUNTA = "pep/everypolitician/Finland_Eduskunta/ep-popolo-v1.0.json"


def _entries(source: str, *relative: str) -> list[Entry]:
    files = [RawFile(list_file(r).name, list_file(r).read_bytes()) for r in relative]
    return list(get_adapter(source).parse(files).entries)


@pytest.fixture(scope="module")
def un_new() -> list[Entry]:
    return _entries("un_sc", UN_NEW)


@pytest.fixture(scope="module")
def saudi() -> list[Entry]:
    return _entries("opensanctions", SAUDI_PEPS)


def _check(entity: dict[str, Any], problems: list[str]) -> None:
    """Collect what FollowTheMoney would refuse in an entity and the entities nested in it."""
    schema = model.get(entity["schema"])
    if registry.entity.clean(entity["id"]) != entity["id"]:
        problems.append(f"{entity['id']}: not a valid FtM id")
    if schema is None:
        problems.append(f"{entity['id']}: unknown schema {entity['schema']}")
        return
    for name, values in entity["properties"].items():
        prop = schema.get(name)
        if prop is None:
            problems.append(f"{entity['id']}: {schema.name} has no property {name}")
            continue
        for value in values:
            if isinstance(value, dict):
                if prop.type != registry.entity:
                    problems.append(f"{entity['id']}: {name} nests an entity but is {prop.type.name}")
                _check(value, problems)
            elif prop.type == registry.entity:
                if registry.entity.clean(value) != value:
                    problems.append(f"{entity['id']}: {name}={value!r} is not a valid FtM id")
            elif prop.type.clean(value) is None:
                problems.append(f"{entity['id']}: {name}={value!r} is not a valid {prop.type.name}")
            elif prop.type in (registry.country, registry.topic) and prop.type.clean(value) != value:
                problems.append(f"{entity['id']}: {name}={value!r} is not written as FtM writes it")


@pytest.mark.parametrize(
    ("source", "files"),
    [("un_sc", (UN_NEW,)), ("ofac_sdn", (OFAC,)), ("opensanctions", (SAUDI_PEPS,)), ("everypolitician", (EDUSKUNTA,))],
)
def test_entities_of_real_lists_are_valid_followthemoney(source: str, files: tuple[str, ...]) -> None:
    entries = _entries(source, *files)
    by_ref = {e.source_ref: e for e in entries}
    problems: list[str] = []
    for entry in entries:
        nested = ftm.nested_entity(entry, related=by_ref.get)
        _check(nested, problems)
        # the flat export is what FtM tooling reads: FollowTheMoney itself must load every line
        for flat in ftm.flatten(nested):
            model.get_proxy({k: flat[k] for k in ("id", "schema", "properties")}, cleaned=False)
    assert problems[:20] == []


def test_topics_are_opensanctions_topics(un_new: list[Entry], saudi: list[Entry]) -> None:
    topics = {t for entry in [*un_new, *saudi] for t in ftm.to_entity(entry)["properties"].get("topics", [])}
    assert {"sanction", "role.pep"} <= topics
    assert topics <= set(registry.topic.names)


def test_ids_are_stable_across_list_versions_and_unique(un_new: list[Entry]) -> None:
    old = {e.source_ref: ftm.entity_id(e.source, e.source_ref) for e in _entries("un_sc", UN_OLD)}
    new = {e.source_ref: ftm.entity_id(e.source, e.source_ref) for e in un_new}
    shared = set(old) & set(new)
    assert len(shared) > 900
    assert all(old[ref] == new[ref] for ref in shared)
    assert len(set(new.values())) == len(new)
    assert new["QDi.430"] == "un-sc-QDi.430"


def test_awkward_references_still_give_distinct_path_safe_ids() -> None:
    a, b = ftm.entity_id("uk_ofsi", "12 345/A"), ftm.entity_id("uk_ofsi", "12-345-A")
    assert a != b
    assert registry.entity.clean(a) == a and registry.entity.clean(b) == b
    assert ftm.entity_id("ofac_sdn", "36") == "ofac-sdn-36"


def test_a_listed_person_carries_the_sanction_with_programme_authority_and_date(un_new: list[Entry]) -> None:
    entry = next(e for e in un_new if e.source_ref == "CDi.001")
    entity = ftm.nested_entity(entry)
    assert entity["schema"] == "Person"
    assert entity["properties"]["nationality"] == ["cd"]
    (sanction,) = entity["properties"]["sanctions"]
    assert sanction["schema"] == "Sanction"
    assert sanction["properties"]["entity"] == [entity["id"]]
    assert sanction["properties"]["program"] == ["DRC"]
    assert sanction["properties"]["authority"] == ["United Nations Security Council"]
    assert sanction["properties"]["listingDate"] == ["2012-12-31"]


def test_a_pep_carries_positions_and_relations(saudi: list[Entry]) -> None:
    pep = next(e for e in saudi if e.positions and "role.pep" in e.topics)
    entity = ftm.nested_entity(pep)
    occupancies = entity["properties"]["positionOccupancies"]
    assert len(occupancies) == len(pep.positions)
    post = occupancies[0]["properties"]["post"][0]
    assert post["schema"] == "Position"
    assert post["properties"]["name"] == [pep.positions[0].role]
    related = next((e for e in saudi if e.relations), None)
    if related is not None:
        nested = ftm.nested_entity(related)
        assert {"familyPerson", "associates"} & set(nested["properties"])
