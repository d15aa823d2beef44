"""The yente protocol's translation, without a server: example entities as queries, the score calibration, the
datasets and filters, over the real UN list."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from kyc import ftm
from kyc.entry import Entry
from kyc.matching import Matcher
from kyc.screening_api import (
    ApiIndex,
    BadQuery,
    EntityExample,
    Filters,
    VersionInfo,
    algorithm_name,
    calibrate,
    catalog,
    in_dataset,
    to_query,
    uncalibrate,
)
from kyc.versions import RawFile
from lists.registry import get_adapter
from tests.support.env import list_file

UN = "un_sc/2026-02-27_watchman/UN_consolidated.xml"


@pytest.fixture(scope="module")
def index() -> ApiIndex:
    path = list_file(UN)
    entries = get_adapter("un_sc").parse([RawFile(path.name, path.read_bytes())]).entries
    matcher = Matcher.build([(1, e) for e in entries])
    matcher.version_ids = {"un_sc": 1}
    published = datetime(2026, 2, 27, 0, 0, 9, tzinfo=UTC)
    return ApiIndex.build(matcher, [VersionInfo("un_sc", 1, published, published, None, "ab" * 32, len(entries))])


def example(schema: str = "Person", **props: list[str] | str) -> EntityExample:
    return EntityExample.model_validate({"schema": schema, "properties": props})


@pytest.mark.parametrize("threshold", [0.5, 0.8, 0.9])
def test_our_threshold_lands_on_yentes_and_the_calibration_is_monotonic_and_invertible(threshold: float) -> None:
    assert calibrate(threshold, threshold) == 0.70
    assert calibrate(1.0, threshold) == 1.0 and calibrate(0.0, threshold) == 0.0
    raw = [i / 100 for i in range(101)]
    reported = [calibrate(s, threshold) for s in raw]
    assert reported == sorted(reported)
    assert all(abs(uncalibrate(calibrate(s, threshold), threshold) - s) < 1e-3 for s in raw)
    assert calibrate(0.9, 0.8) == 0.85


def test_example_entities_become_queries() -> None:
    query = to_query(
        example(
            name=["Sultani Makenga", "Emmanuel Sultani Makenga"],
            birthDate=["1973-12-25T00:00:00"],
            nationality=["cd", "rw"],
            passportNumber="OP0123456",
            gender="male",
            country=["Rwanda"],
            favouriteColour=["blue"],
        )
    )
    assert (query.name, query.aliases, query.schema_) == ("Sultani Makenga", ("Emmanuel Sultani Makenga",), "Person")
    assert (query.birth_date, query.nationality, query.gender) == ("1973-12-25", "CD", "male")
    assert set(query.countries) == {"RW"}
    assert query.identifiers == ("OP0123456",)


def test_name_parts_schemata_and_bad_examples() -> None:
    assert to_query(example(firstName="Sultani", lastName="Makenga")).name == "Sultani Makenga"
    assert to_query(example("Company", name="Acme Oy")).schema_ == "Organization"
    assert to_query(example("Airplane", name="EP-ABC")).schema_ == "Aircraft"
    assert to_query(example(name="X", birthDate="sometime")).birth_date is None
    with pytest.raises(BadQuery, match="not matchable"):
        to_query(example("Address", full="Mannerheimintie 1"))
    with pytest.raises(BadQuery, match="unknown schema"):
        to_query(example("Dragon", name="Smaug"))
    with pytest.raises(BadQuery, match="no name"):
        to_query(example(birthDate="1973"))


def test_algorithm_names() -> None:
    assert algorithm_name("best") == "logic-v2"
    assert algorithm_name(" Logic-V1 ") == "logic-v1"
    with pytest.raises(BadQuery):
        algorithm_name("magic")


def test_datasets_and_filters(index: ApiIndex) -> None:
    makenga = index.entry("un-sc-CDi.008")
    assert isinstance(makenga, Entry)
    assert in_dataset("default", makenga) and in_dataset("sanctions", makenga) and in_dataset("un_sc", makenga)
    assert not in_dataset("peps", makenga) and not in_dataset("eu_fsf", makenga)
    keep = Filters("default", (), (), frozenset(), frozenset(), None, frozenset())
    assert keep.keep(index, makenga)
    assert not Filters("default", (), (), frozenset(), frozenset(), None, frozenset({"un-sc-CDi.008"})).keep(
        index, makenga
    )
    assert not Filters("default", (), (), frozenset({"Person"}), frozenset(), None, frozenset()).keep(index, makenga)
    assert not Filters("default", (), (), frozenset(), frozenset({"role.pep"}), None, frozenset()).keep(index, makenga)
    assert not Filters("default", (), ("un_sc",), frozenset(), frozenset(), None, frozenset()).keep(index, makenga)
    assert Filters("default", (), (), frozenset(), frozenset(), "2026-01-01", frozenset()).keep(index, makenga)
    assert not Filters("default", (), (), frozenset(), frozenset(), "2026-03-01", frozenset()).keep(index, makenga)
    assert index.seen_of(makenga).first_seen is not None
    assert ftm.entity_id(makenga.source, makenga.source_ref) == "un-sc-CDi.008"


def test_catalog_before_and_after_the_index(index: ApiIndex) -> None:
    versions = list(index.versions.values())
    ready = catalog(index, versions)
    default = next(d for d in ready["datasets"] if d["name"] == "default")
    assert default["index_current"] and default["index_version"].startswith("20260227000009-")
    assert default["children"] == ["un_sc"] and ready["outdated"] == [] and not ready["index_stale"]
    building = catalog(None, versions)
    assert building["index_stale"] and building["current"] == []
    assert all(d["index_version"] is None for d in building["datasets"])


def test_identity_codes_are_masked_in_the_echoed_query_and_in_listed_entities() -> None:
    from kyc.entry import Identifier, Name
    from kyc.screening_api import echo_query

    echoed = echo_query(example(name="Matti Meikäläinen", idNumber="170580-123L"))
    assert echoed["properties"]["idNumber"] == ["170580-****"]
    listed = Entry(
        source="fi_national",
        source_ref="FI-1",
        schema_="Person",
        names=(Name(value="Matti Meikäläinen"),),
        identifiers=(Identifier(type="national_id", number="170580-123L"),),
        remarks="henkilötunnus 170580-123L",
    )
    props = ftm.to_entity(listed)["properties"]
    assert props["idNumber"] == ["170580-****"] and "123L" not in props["notes"][0]
