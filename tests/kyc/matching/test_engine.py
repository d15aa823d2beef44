"""The matcher over the real UN list: retrieval, qualifiers, schema rules, explanations, thresholds."""

from __future__ import annotations

import csv
from functools import cache
from pathlib import Path

import numpy as np
import pytest

from kyc.entry import Entry, Name, NameKind, Schema
from kyc.matching import ENGINE_VERSION, MatchConfig, Matcher, Query
from kyc.matching.index import IndexBuilder
from kyc.versions import RawFile
from lists.registry import get_adapter
from lists.un_sc import UnScAdapter
from tests.support.env import eval_file, list_file

UN_2026 = "un_sc/2026-02-27_watchman/UN_consolidated.xml"
LISTED_TOGETHER = {
    "un_sc": UN_2026,
    "ofac_sdn": "ofac_sdn/2024-05-03_jackdwyer/sdn.csv",
    "uk_ofsi": "uk/ofsi_2025-04-14/ConList.xlsx",
    "us_csl": "us_csl/consolidated.csv.gz",
    "au_dfat": "au_dfat/regulation8_consolidated.xlsx",
    "eu_fsf": "eu_fsf/legacy_1_0_sample_2016-02-11/data.xml",
}
"""Lists that all carry SAIF-AL-DIN AL-MASHHADANI (UN IQi.046) under the same names, in bench.matching's order."""


@cache
def un_entries() -> tuple[Entry, ...]:
    path = list_file(UN_2026)
    return tuple(UnScAdapter().parse([RawFile(path.name, path.read_bytes())]).entries)


@cache
def un_matcher() -> Matcher:
    return Matcher.build((7, e) for e in un_entries())


def refs(query: Query, **kwargs: float) -> list[str]:
    return [m.source_ref for m in un_matcher().screen(query, **kwargs)]  # type: ignore[arg-type]


def person(name: str, **fields: object) -> Query:
    return Query.model_validate({"name": name, "schema": "Person", **fields})


def test_listed_person_is_found_with_explanation() -> None:
    matches = un_matcher().screen(person("Emraan Ali", birth_date="1967-07-04", nationality="TT"))
    top = matches[0]
    assert (top.source, top.source_ref, top.version_id, top.matched_name) == ("un_sc", "QDi.430", 7, "EMRAAN ALI")
    assert top.score == 1.0
    explanation = top.explanation
    assert explanation["query_name"] == "Emraan Ali"
    assert explanation["features"]["birth_date"] == {"contribution": 0.05, "detail": "exact"}
    assert explanation["list_version"] == {"source": "un_sc", "version_id": 7}
    assert explanation["engine_version"] == ENGINE_VERSION
    assert explanation["config_hash"] == MatchConfig().config_hash()
    assert un_matcher().version_ids == {"un_sc": 7}


def test_original_script_cyrillic_name_finds_the_entry() -> None:
    entry = next(
        e for e in un_entries()
        if any(n.kind is NameKind.ORIGINAL_SCRIPT and any("\u0400" <= c <= "\u04ff" for c in n.value) for n in e.names)
    )  # fmt: skip
    cyrillic = next(n.value for n in entry.names if n.kind is NameKind.ORIGINAL_SCRIPT)
    assert entry.source_ref in refs(Query.model_validate({"name": cyrillic, "schema": entry.schema_.value}))


def test_birth_date_contradiction_lowers_the_score() -> None:
    matcher = un_matcher()
    # "Emran" (one letter off) keeps the name score below 1, so that the qualifiers show.
    same = matcher.screen(person("Emran Ali", birth_date="1967-07-04"), threshold=0)[0]
    year = matcher.screen(person("Emran Ali", birth_date="1967"), threshold=0)[0]
    other = matcher.screen(person("Emran Ali", birth_date="1990-01-01"), threshold=0)[0]
    assert same.score > year.score > other.score
    assert other.explanation["features"]["birth_date"]["detail"] == "mismatch"
    assert year.explanation["features"]["birth_date"]["detail"] == "partial"


def test_birth_date_range_from_the_list_counts_as_partial() -> None:
    ranged = next(e for e in un_entries() if e.schema_ is Schema.PERSON and any(d.end for d in e.birth_dates))
    listed = next(d for d in ranged.birth_dates if d.end)
    inside = person(ranged.primary_name, birth_date=listed.end)
    top = un_matcher().screen(inside, threshold=0)[0]
    assert top.source_ref == ranged.source_ref
    assert top.explanation["features"]["birth_date"]["detail"] in ("partial", "exact")


def test_exact_passport_number_is_strong_evidence() -> None:
    # QDi.430 holds Trinidad and Tobago passport TB162181; the customer file spells the name differently.
    query = person("E. Aly", identifiers=("TB 162181",))
    top = un_matcher().screen(query)[0]
    assert top.source_ref == "QDi.430"
    assert top.explanation["features"]["identifier"]["contribution"] > 0.2


def test_schema_compatibility_person_never_matches_an_organisation() -> None:
    organisation = next(e for e in un_entries() if e.schema_ is Schema.ORGANIZATION)
    as_org = Query.model_validate({"name": organisation.primary_name, "schema": "Organization"})
    assert organisation.source_ref in refs(as_org)
    assert organisation.source_ref not in refs(person(organisation.primary_name), threshold=0.0)
    vessel = Query.model_validate({"name": organisation.primary_name, "schema": "Vessel"})
    assert organisation.source_ref not in refs(vessel, threshold=0.0)
    # An unspecified legal entity may be either.
    assert organisation.source_ref in refs(Query.model_validate({"name": organisation.primary_name}))


def test_gender_and_nationality_contradictions_lower_the_score() -> None:
    base = un_matcher().screen(person("Emran Ali"), threshold=0)[0].score
    assert un_matcher().screen(person("Emran Ali", nationality="Finland"), threshold=0)[0].score < base
    assert un_matcher().screen(person("Emran Ali", nationality="Trinidad and Tobago"), threshold=0)[0].score > base
    badege = next(e for e in un_entries() if e.source_ref == "CDi.001")
    assert badege.gender == "male"
    name = badege.primary_name
    male = un_matcher().screen(person(name, gender="male"), threshold=0)[0]
    female = un_matcher().screen(person(name, gender="female"), threshold=0)[0]
    assert male.source_ref == female.source_ref == "CDi.001"
    assert female.score < male.score
    assert female.explanation["features"]["gender"]["detail"] == "mismatch"


def test_weak_alias_weighs_less_than_the_primary_name() -> None:
    weak = un_matcher().screen(person("Abu Jihad TNT"), threshold=0)
    hit = next(m for m in weak if m.source_ref == "QDi.430")
    assert hit.explanation["name_kind"] == "weak_alias"
    assert hit.score < 1.0


def test_ordinary_customers_do_not_alert_but_reordered_aliases_do() -> None:
    assert refs(person("Matti Virtanen", birth_date="1980-05-17", nationality="FI")) == []
    assert refs(person("John Smith")) == []
    # CFi.010 is also listed as "Ali Mohammed": the reordered name is a full name match and must alert.
    assert "CFi.010" in refs(person("Mohammed Ali"))


def test_aliases_of_the_query_are_screened_too() -> None:
    query = person("Matti Virtanen", aliases=("SADDAM HUSSEIN AL-TIKRITI",))
    top = un_matcher().screen(query)[0]
    assert top.source_ref == "IQi.001" and top.query_name == "SADDAM HUSSEIN AL-TIKRITI"


def test_thresholds_default_and_per_schema() -> None:
    entries = [(1, e) for e in un_entries()]
    strict = Matcher.build(entries, MatchConfig(threshold=0.8, schema_thresholds={"Person": 0.999}))
    assert strict.config.threshold_for("Person") == 0.999
    assert strict.config.threshold_for("Organization") == 0.8
    assert [m.source_ref for m in strict.screen(person("Emraan Aly"))] == []
    assert strict.screen(person("Emraan Aly"), threshold=0.5)[0].source_ref == "QDi.430"
    assert MatchConfig(threshold=0.8).config_hash() != MatchConfig(threshold=0.81).config_hash()
    assert MatchConfig().config_hash() == MatchConfig().config_hash()


def test_build_over_a_small_delta_is_enough_to_screen() -> None:
    delta = [e for e in un_entries() if e.source_ref in ("QDi.430", "IQi.001")]
    matcher = Matcher.build((3, e) for e in delta)
    assert matcher.entry_count == 2
    assert [m.source_ref for m in matcher.screen(person("Saddam Hussein Altikriti"))] == ["IQi.001"]


def test_invalid_queries_are_rejected_with_the_field() -> None:
    with pytest.raises(ValueError, match="birth_date"):
        person("X", birth_date="1967/02/03")
    assert person("X", birth_date="1967-02-30").birth_date == "1967-02"  # an impossible day keeps its month
    with pytest.raises(ValueError, match="nationality"):
        person("X", nationality="Atlantis")
    with pytest.raises(ValueError, match="schema"):
        Query.model_validate({"name": "X", "schema": "Starship"})


def test_person_query_also_screens_entries_of_unknown_kind() -> None:
    emraan = next(e for e in un_entries() if e.source_ref == "QDi.430")
    unknown = emraan.model_copy(update={"schema_": Schema.LEGAL_ENTITY, "source_ref": "X-1"})
    matcher = Matcher.build([(1, unknown)])
    assert [m.source_ref for m in matcher.screen(person("Emraan Ali"))] == ["X-1"]
    vessel = emraan.model_copy(update={"schema_": Schema.VESSEL, "source_ref": "V-1"})
    assert Matcher.build([(1, vessel)]).screen(person("Emraan Ali"), threshold=0.0) == []


def test_a_name_is_compared_as_written_whichever_spelling_came_first() -> None:
    # UK OFSI lists QDi.363's alias in Cyrillic before the Latin spelling, AU DFAT after it; both normalise to
    # "abu banat", but only the Latin one can be read against the Arabic query (an abjad reading). Before 1.3 the
    # entry kept its first spelling and one index slot held the first-indexed one, so the order decided the score.
    listed = next(e for e in un_entries() if e.source_ref == "QDi.363")
    query = person("ابو بنات")
    scored = []
    for names in (("Абу Банат", "Abu Banat"), ("Abu Banat", "Абу Банат")):
        entry = listed.model_copy(update={"names": tuple(Name(value=n) for n in names)})
        [hit] = Matcher.build([(1, entry)]).screen(query, threshold=0.0)
        scored.append((hit.score, hit.matched_name, hit.explanation["name_method"]))
        # The two spellings on two entries sharing one slot: each entry is scored on its own spelling.
        apart = [listed.model_copy(update={"names": (Name(value=n),), "source_ref": n}) for n in names]
        hits = {m.source_ref: m for m in Matcher.build([(1, e) for e in apart]).screen(query, threshold=0.0)}
        assert hits["Abu Banat"].explanation["name_method"] == "abjad"
        assert hits["Абу Банат"].explanation["name_method"] == "parts"
        assert hits["Abu Banat"].score > hits["Абу Банат"].score
    assert scored[0] == scored[1]
    assert scored[0][1:] == ("Abu Banat", "abjad")


def test_names_in_chinese_characters_are_compared_as_written() -> None:
    # OpenSanctions lists Q12182638 in simplified and traditional characters: one romanised form, different
    # characters. A query in the traditional spelling matches that spelling fully, whichever is listed first.
    listed = next(e for e in un_entries() if e.source_ref == "QDi.363")
    for names in (("尤索夫·奥塔米尔曼", "尤索夫·奧塔米爾曼"), ("尤索夫·奧塔米爾曼", "尤索夫·奥塔米尔曼")):
        entry = listed.model_copy(update={"names": tuple(Name(value=n) for n in names)})
        [hit] = Matcher.build([(1, entry)]).screen(person("尤索夫·奧塔米爾曼"), threshold=0.0)
        assert (hit.score, hit.matched_name, hit.explanation["name_method"]) == (1.0, "尤索夫·奧塔米爾曼", "syllables")


def _parsed(source: str, relative: str) -> list[Entry]:
    path: Path = list_file(relative)
    return get_adapter(source).parse([RawFile(path.name, path.read_bytes())]).entries


def _treated_query(name: str) -> Query:
    with eval_file("yente_screening_fixtures/positives_un_treated.csv").open(encoding="utf-8") as handle:
        row = next(r for r in csv.DictReader(handle) if r["full_name"] == name)
    fields = {"birth_date": row["date_of_birth"] or None, "nationality": row["nationality"] or None}
    return Query.model_validate({"name": row["full_name"], "schema": "Person", **fields})


@cache
def _together_matcher() -> Matcher:
    entries = [(n, e) for n, (source, file) in enumerate(LISTED_TOGETHER.items()) for e in _parsed(source, file)]
    return Matcher.build(entries)


@pytest.mark.slow
def test_identical_names_on_other_lists_do_not_crowd_out_the_un_entry() -> None:
    # Six lists spell this person's names identically (once normalised); more copies than candidate slots (12).
    matcher = _together_matcher()
    query = _treated_query("SAIF-AL-DIN AL-MASHADANI")
    hits = {(m.source, m.source_ref) for m in matcher.screen(query, limit=100)}
    assert ("un_sc", "IQi.046") in hits
    # Every listing of the person is its own hit (before shared slots, one of them was always crowded out).
    assert {source for source, _ref in hits} == set(LISTED_TOGETHER)


def test_more_identical_copies_than_candidate_slots_are_all_hits() -> None:
    saif = next(e for e in un_entries() if e.source_ref == "IQi.046")
    copies = [(2, saif.model_copy(update={"source": f"copy_{i:02d}"})) for i in range(2 * MatchConfig().candidates)]
    # A name holding the query's exact spelling keeps the copies (found by sound only) below full coverage, so
    # they compete for the ranked candidate slots.
    decoy = saif.model_copy(update={"source": "decoy", "source_ref": "D-1", "names": (Name(value="Omar Mashadani"),)})
    matcher = Matcher.build([*copies, (3, decoy), *((1, e) for e in un_entries())])
    hits = matcher.screen(person("SAIF-AL-DIN AL-MASHADANI"), limit=100)
    assert {m.source for m in hits} >= {"un_sc"} | {e.source for _v, e in copies}
    assert len({m.score for m in hits if m.source != "decoy"}) == 1  # one form, compared once, scored alike


def test_index_ranks_by_the_rarest_key_per_query_part() -> None:
    # A common part found three ways (token, skeleton, sound) counts once, at its heaviest key, so a rare part
    # found once outranks it (summing the three would rank the common part first here).
    from kyc.matching.index import IndexBuilder

    builder = IndexBuilder()
    common = ["mohamed", "~mohamed", "#MHMT"]
    for name_id in range(5):
        builder.add(name_id, common, "mohamed")
    builder.add(5, ["lakhal"], "lakhal")
    for name_id in range(6, 22):
        builder.add(name_id, [f"other{name_id}"], f"other{name_id}")
    index = builder.freeze()
    groups = [tuple(common), ("lakhal",)]
    assert index.candidates(groups, [], limit=1).tolist() == [5]
    # The spaceless form of a whole name is found however it ranks.
    assert 21 in index.candidates(groups, ["other21"], limit=1).tolist()


SA_PEPS = "pep/opensanctions_ftm/wikidata_sa_peps_usercrawl/entities.ftm.json"


@cache
def pep_matcher() -> Matcher:
    path = list_file(SA_PEPS)
    entries = get_adapter("opensanctions").parse([RawFile(path.name, path.read_bytes())]).entries
    return Matcher.build((3, e) for e in entries)


def test_one_word_pep_names_do_not_alert_on_every_namesake() -> None:
    # OpenSanctions PEPs list "Elizabeth" (Q115275723) and "Sarah" (several) as names of their own.
    matcher = pep_matcher()
    assert [m.source_ref for m in matcher.screen(person("Elizabeth Burghout"))][:1] == ["Q115275723"]
    assert matcher.screen(person("Elizabeth Bird")) == []
    assert matcher.screen(person("Sarah Johnson")) == []
    # The one-word name still counts when the query is that one word.
    assert "Q115275723" in [m.source_ref for m in matcher.screen(person("Elizabeth"))]


def test_query_names_lose_invisible_characters_and_dates_are_made_canonical() -> None:
    assert person("\u202eilA naarmE\u202c").name == "ilA naarmE"
    assert person("Em\u200braan Ali", aliases=("\u200b", "Abu\u200d Jihad")).aliases == ("Abu Jihad",)
    for nobody in ("\u200b\u200b\u200b", "\u2066\u2069", "1234", "-"):
        with pytest.raises(ValueError, match="name"):
            person(nobody)
    assert person("Emraan Ali", birth_date="1967-7-4").birth_date == "1967-07-04"
    assert person("Emraan Ali", birth_date="1967-07-32").birth_date == "1967-07"
    with pytest.raises(ValueError, match="birth_date"):
        person("Emraan Ali", birth_date="someday")


@pytest.mark.parametrize(
    ("query", "ref"),
    [
        ("CREDIT BANK OF MSOCOW PUBLIC JOINT STOCK COMPANY", "35163"),
        ("XINJAING PUBLIC SECURITY BUREAU", "29159"),
    ],
)
def test_a_misspelt_word_whose_letters_find_other_names_does_not_crowd_out_the_listed_one(query: str, ref: str) -> None:
    # MSOCOW is no listed word, but its letters find rare names that outweigh the common words (CREDIT, BANK) the
    # listed name shares; the names sharing those are ranked by spelling too.
    matcher = _sdn_matcher()
    hits = matcher.screen(Query.model_validate({"name": query, "schema": "Organization"}))
    assert ("ofac_sdn", ref) in {(m.source, m.source_ref) for m in hits}


@pytest.mark.slow
def test_a_generic_word_added_to_a_name_of_common_words_does_not_lose_it() -> None:
    # Only BANK is a key of COMMERCIAL BANK OF SYRIA (a company word, a particle, a country), and more names hold
    # it than are scored: the names sharing it are ranked by spelling, not cut at random.
    query = Query.model_validate({"name": "Commercial Bank of Syria -ryhmä", "schema": "Organization"})
    hits = {(m.source, m.source_ref) for m in _together_matcher().screen(query, limit=50)}
    assert ("ofac_sdn", "12847") in hits


@pytest.mark.slow
def test_a_legal_entity_query_keeps_the_person_names_tied_with_others() -> None:
    # Queried as a LegalEntity (it may be a person), the organisation form's keys of REHMAN find organisation
    # names too; ABDUL REHMAN (UN QDi.309) ties in key weight with other names at the cut and is ranked by
    # spelling rather than dropped at random.
    query = Query.model_validate({"name": "ABDUL REHMAN MAKKI", "schema": "LegalEntity"})
    hits = {(m.source, m.source_ref) for m in _together_matcher().screen(query, limit=50)}
    assert {("un_sc", "QDi.309"), ("un_sc", "QDi.433")} <= hits


@cache
def _sdn_matcher() -> Matcher:
    return Matcher.build((1, e) for e in _parsed("ofac_sdn", LISTED_TOGETHER["ofac_sdn"]))


def test_a_typo_in_the_one_distinctive_word_is_ranked_by_spelling_among_names_sharing_the_other() -> None:
    # BEHFAN shares no key with BEHRAN; OIL is shared by hundreds of US CSL names, CO. is a legal form. Those
    # names are ranked by their whole spelling and only the closest are scored.
    matcher = Matcher.build((1, e) for e in _parsed("us_csl", LISTED_TOGETHER["us_csl"]))
    query = Query.model_validate({"name": "BEHFAN OIL CO.", "schema": "Organization"})
    assert ("us_csl", "30383") in {(m.source, m.source_ref) for m in matcher.screen(query)}
    forms = [f for group in matcher._query_forms(query).values() for f in group]
    assert len(matcher._candidate_ids(forms, query.schema_)) <= 2 * matcher.config.candidates + 1


def test_the_build_files_each_name_under_its_key_groups() -> None:
    """The build files a listed name through key ids remembered per name part: the index must be the one that
    filing each name's ``key_groups`` makes, for names of particles only, one-letter parts, numbers, a country in
    an organisation name and one token under person and organisation rules."""
    crafted = [
        (Schema.PERSON, "al bin"),
        (Schema.PERSON, "J Smith 3"),
        (Schema.PERSON, "Smith"),
        (Schema.ORGANIZATION, "Bank of Russia"),
        (Schema.ORGANIZATION, "al"),
        (Schema.ORGANIZATION, "Smith Holdings LLC"),
        (Schema.VESSEL, "Snow Storm 2"),
    ]
    made = [
        Entry.model_construct(source="t", source_ref=f"T{n}", schema_=schema, names=(Name(value=value),))
        for n, (schema, value) in enumerate(crafted)
    ]
    matcher = Matcher.build([*((7, e) for e in un_entries()), *((8, e) for e in made)])
    offsets = matcher._slot_offsets.tolist()
    builder = IndexBuilder()
    for slot in range(len(offsets) - 1):
        first = matcher._forms[offsets[slot]]  # the name the slot was filed with
        builder.add_ids(slot, [i for group in first.key_groups() for i in builder.key_ids(group)], first.compact)
    keys, arrays = builder.freeze().arrays()
    built_keys, built_arrays = matcher._index.arrays()
    assert len(keys) > 5000 and keys == built_keys and arrays.keys() == built_arrays.keys()
    for name, array in arrays.items():
        assert np.array_equal(array, built_arrays[name]), name
