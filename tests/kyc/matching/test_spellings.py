"""Arabic and Korean spelling variants, and Abd al- joined, on persons of the real UN list."""

from __future__ import annotations

from functools import cache

import pytest

from kyc.entry import Entry
from kyc.matching import Matcher, Query, compare_names, name_form
from kyc.matching.spellings import KOREAN, VARIANTS, baltic_form
from kyc.versions import RawFile
from lists.un_sc import UnScAdapter
from tests.support.env import list_file

UN_2026 = "un_sc/2026-02-27_watchman/UN_consolidated.xml"


@cache
def un_entries() -> tuple[Entry, ...]:
    path = list_file(UN_2026)
    return tuple(UnScAdapter().parse([RawFile(path.name, path.read_bytes())]).entries)


@cache
def un_matcher() -> Matcher:
    return Matcher.build([(1, e) for e in un_entries()])


@pytest.mark.parametrize(
    ("ref", "listed", "query"),
    [
        ("QDi.343", "ASHRAF MUHAMMAD YUSUF 'UTHMAN 'ABD AL-SALAM", "Ashraf Muhammad Youssef Uthman Abdel Salam"),
        ("IQi.001", "SADDAM HUSSEIN AL-TIKRITI", "Saddam Husayn al-Tikriti"),
        ("IQi.001", "SADDAM HUSSEIN AL-TIKRITI", "Saddam Hossein al-Tikriti"),
        ("QDi.282", "QASIM MOHAMED MAHDI AL-RIMI", "Kassem Mohamed Mahdi al-Rimi"),
        ("QDi.059", "KHALID ABD AL-RAHMAN HAMD AL-FAWAZ", "Khaled Abdul Rahman Hamd al-Fawaz"),
        ("KPi.029", "PAK CHUN IL", "Park Chun Il"),
        ("KPi.029", "PAK CHUN IL", "Bak Chun Il"),
        ("KPi.013", "CHOE CHUN-SIK", "Choi Chun-sik"),
        ("KPi.002", "RI JE-SON", "Lee Je-son"),
    ],
)
def test_a_listed_person_under_another_romanisation(ref: str, listed: str, query: str) -> None:
    entry = next(e for e in un_entries() if e.source_ref == ref)
    assert entry.primary_name == listed
    hits = {m.source_ref: m for m in un_matcher().screen(Query.model_validate({"name": query, "schema": "Person"}))}
    assert ref in hits
    assert hits[ref].explanation["name_score"] >= 0.95


def _score(a: str, b: str) -> float:
    return compare_names(name_form(a, "Person"), name_form(b, "Person")).score


def test_abd_and_its_article_are_one_part() -> None:
    assert name_form("'Abd al-Aziz al-Nuristani", "Person").tokens[:2] == ("abdal", "aziz")
    assert _score("Abd al-Aziz Omar", "Abdul Aziz Omar") > 0.95
    assert _score("Abd al-Aziz Omar", "Abdel Aziz Omar") > 0.95
    assert _score("Abdulaziz Omar", "Abd al-Aziz Omar") > 0.9


def test_a_variant_group_is_not_a_typo_budget() -> None:
    """Chung is Jong's Western spelling; that does not make Joon (one letter from Jong) a spelling of Chung."""
    assert _score("Park Chung-hee", "Pak Jong-hee") > 0.95
    assert _score("Park Joon-hee", "Park Chung-hee") < 0.8
    assert _score("Ali Hassan", "Ali Husain") < 0.8  # two names of one root are still two names


def test_korean_surname_groups_agree_with_rigours_name_data() -> None:
    """rigour's person-name data (Wikidata names and their spellings) links each group's common spellings; it is
    not loaded in screening (seconds and hundreds of MB per process), so the table is checked against it here."""
    from rigour.names import NameTypeTag, analyze_names

    def symbols(part: str) -> set[str]:
        name = next(iter(analyze_names(NameTypeTag.PER, [part], consolidate=False)))
        return {str(s.symbol.id) for s in name.spans if len(s.parts) == 1}

    for group in KOREAN:
        first = symbols(group[0])
        confirmed = [v for v in group[1:] if symbols(v) & first]
        assert confirmed, group
    for a, b in (("husayn", "hossein"), ("yusuf", "yousef"), ("qasim", "qasem"), ("usama", "osama")):
        assert symbols(a) & symbols(b)
        assert VARIANTS[a] == VARIANTS[b]


def test_a_typo_beside_a_variant_group_is_still_a_typo() -> None:
    """Yu in HAN YU-RO is a given-name syllable, not the surname Ryu: a doubled letter in it is a typo of Yu."""
    entry = next(e for e in un_entries() if e.source_ref == "KPi.005")
    assert entry.primary_name == "HAN YU-RO"
    hits = un_matcher().screen(Query.model_validate({"name": "HAN YYU-RO", "schema": "Person"}))
    assert entry.source_ref in [m.source_ref for m in hits]


@pytest.mark.parametrize(
    ("query", "listed"),
    [
        ("Sergejs Lavrovs", "Sergey Viktorovich LAVROV"),
        ("Vladimiras Putinas", "Vladimir Putin"),
        ("Vladimirs Putins", "Vladimir Putin"),
    ],
)
def test_latvian_and_lithuanian_nominative_endings_are_the_same_name(query: str, listed: str) -> None:
    assert compare_names(name_form(query, "Person"), name_form(listed, "Person")).score >= 0.8


def test_a_nominative_ending_needs_a_stem_of_four_letters_ending_in_a_consonant() -> None:
    assert baltic_form("lavrovs", "lavrov") and baltic_form("putinas", "putin")
    assert not baltic_form("ivas", "iv")  # too short a stem
    assert not baltic_form("mariais", "maria")  # a vowel-final name takes no such ending
    assert not baltic_form("lavrovz", "lavrov")
