"""Designated subjects linked across the real UN, UK OFSI and OFAC SDN files."""

from __future__ import annotations

from sqlalchemy import func, select

from kyc import designations
from kyc.entry import Entry, Identifier, Name
from kyc.settings import Settings
from kyc.storage.cases import DesignatedSubject, Listing, ListingKey
from kyc.storage.db import transaction
from lists.ingest import ingest_files
from tests.support.cases import OS_DELTA, SDN_2021, SDN_2024, UK_OFSI, UN_2026, ingest
from tests.support.env import list_file


def _entry(source: str, ref: str, *identifiers: Identifier, un_ref: str | None = None, **fields: object) -> Entry:
    return Entry.model_validate(
        {
            "source": source,
            "source_ref": ref,
            "schema": "Person",
            "names": [Name(value="A B")],
            "identifiers": identifiers,
            "un_ref": un_ref,
            **fields,
        }
    )


def test_keys_need_a_country_for_document_numbers() -> None:
    passport = Identifier(type="passport", number="563 120 356")
    assert designations.entry_keys(_entry("eu_fsf", "1", passport)) == set()
    assert designations.entry_keys(_entry("eu_fsf", "1", passport, nationalities=("KP",))) == {"passport:KP:563120356"}
    assert designations.entry_keys(_entry("un_sc", "x", un_ref="KPi.014")) == {"un:KPI.014"}
    assert designations.entry_keys(_entry("eu_fsf", "2", Identifier(type="IMO", number="9123456"))) == {"imo:9123456"}
    assert (
        designations.entry_keys(_entry("eu_fsf", "3", Identifier(type="passport", number="123", country="KP"))) == set()
    )


def test_components_link_transitively_and_ignore_ambiguous_keys() -> None:
    rows = [
        ("un_sc", "KPi.014", "un:KPI.014"),
        ("uk_ofsi", "13325", "un:KPI.014"),
        ("uk_ofsi", "13325", "passport:KP:1"),
        ("ofac_sdn", "18557", "passport:KP:1"),
        ("ofac_sdn", "7", "passport:KP:2"),  # two SDN entries share this number: it links nothing
        ("ofac_sdn", "8", "passport:KP:2"),
        ("eu_fsf", "9", "passport:KP:2"),
    ]
    found = designations.components(rows)
    assert [c.key for c in found] == ["un:KPI.014"]
    assert set(found[0].members) == {("un_sc", "KPi.014"), ("uk_ofsi", "13325"), ("ofac_sdn", "18557")}
    assert found[0].members[("ofac_sdn", "18557")] == ["passport:KP:1"]


def test_real_lists_link_a_un_designation_to_uk_and_ofac(settings: Settings) -> None:
    ingest(settings, "un_sc", UN_2026)
    ingest(settings, "uk_ofsi", UK_OFSI)
    ingest(settings, "ofac_sdn", *SDN_2021)
    with transaction(settings.database_url) as session:
        view = designations.subject_of(session, "subject:un:KPI.025")
        assert [(item.source, item.source_ref) for item in view.listings] == [
            ("un_sc", "KPi.025"),
            ("uk_ofsi", "13335"),
            ("ofac_sdn", "18555"),
        ]
        assert view.name == "KO TAE HUN"
        sdn = view.listings[-1]
        assert sdn.basis == ["passport:KP:563120630"] and sdn.names and sdn.programs
        assert view.listings[0].listed_on
        by_entry = designations.entry_subject(session, view.listings[1].version_id, "13335")
        assert by_entry.key == "subject:un:KPI.025" and len(by_entry.listings) == 3
        subjects = session.execute(select(func.count()).select_from(DesignatedSubject)).scalar_one()
        listings = session.execute(select(func.count()).select_from(Listing)).scalar_one()
        keys = session.execute(select(func.count()).select_from(ListingKey)).scalar_one()
    assert subjects > 500 and listings > 1000 and keys > 1000
    # Reproducible: recomputing from the stored keys changes nothing.
    with transaction(settings.database_url) as session:
        again = designations.relink(session)
    assert again.moved == {} and again.subjects == subjects


def test_a_new_version_relinks(settings: Settings) -> None:
    ingest(settings, "un_sc", UN_2026)
    ingest(settings, "ofac_sdn", *SDN_2021)
    with transaction(settings.database_url) as session:
        before = designations.subject_of(session, "subject:un:KPI.025")
    assert [item.source for item in before.listings] == ["un_sc", "ofac_sdn"]
    ingest_files("uk_ofsi", [list_file(UK_OFSI)], settings)
    with transaction(settings.database_url) as session:
        after = designations.subject_of(session, "subject:un:KPI.025")
        sdn_version = after.listings[-1].version_id
    assert [item.source for item in after.listings] == ["un_sc", "uk_ofsi", "ofac_sdn"]
    ingest(settings, "ofac_sdn", *SDN_2024)
    with transaction(settings.database_url) as session:
        latest = designations.subject_of(session, "subject:un:KPI.025")
    assert latest.listings[-1].version_id != sdn_version  # the listing follows the active version


def test_opensanctions_referents_link_to_ofac_and_the_uk(settings: Settings) -> None:
    entry = _entry("opensanctions", "NK-1", referents=("ofac-13168", "gb-hmt-13141", "gb-fcdo-aqd0002", "unsc-6908409"))
    assert designations.entry_keys(entry) == {"ofac:13168", "ofsi:13141", "uksl:AQD0002"}
    ingest(settings, "ofac_sdn", *SDN_2024)
    ingest(settings, "uk_ofsi", UK_OFSI)
    ingest(settings, "opensanctions", OS_DELTA)
    with transaction(settings.database_url) as session:
        view = designations.subject_of_entry(session, "opensanctions", "NK-4HFye4WXm2wBXguyJzSHwf")
    assert {(item.source, item.source_ref) for item in view.listings} == {
        ("opensanctions", "NK-4HFye4WXm2wBXguyJzSHwf"),
        ("ofac_sdn", "13168"),
        ("uk_ofsi", "13141"),
    }
