"""Nicknames and compound given names written as initials."""

from __future__ import annotations

import pytest

from kyc.matching import compare_names, name_form
from kyc.matching.given_names import NICKNAMES, is_nickname_of

THRESHOLD = 0.8


def person_score(a: str, b: str) -> float:
    return compare_names(name_form(a, "Person"), name_form(b, "Person")).score


@pytest.mark.parametrize(
    ("query", "listed"),
    [
        ("Ted Doe", "Theodore Doe"),
        ("Ben Netanyahu", "Benjamin Netanyahu"),
        ("Bill Gates", "William Gates"),
        ("Bob Menendez", "Robert Menendez"),
        ("JC Juncker", "Jean-Claude Juncker"),
    ],
)
def test_a_nickname_or_the_initials_of_a_compound_given_name_stand_for_the_full_name(query: str, listed: str) -> None:
    assert person_score(query, listed) >= THRESHOLD


@pytest.mark.parametrize(
    ("query", "listed"),
    [
        ("Ted Doe", "Theo Doe"),  # two nicknames of Theodore are not one name
        ("Al Rawi", "Albert Rawi"),  # a two-letter nickname is also a particle
        ("JC Juncker", "Jean-Pierre Juncker"),  # the second initial disagrees
        ("Ted Doe", "Theodore Dole"),
    ],
)
def test_near_nicknames_do_not_alert(query: str, listed: str) -> None:
    assert person_score(query, listed) < THRESHOLD


def test_nickname_pairs_go_both_ways_and_leave_out_two_letter_nicknames() -> None:
    assert is_nickname_of("ted", "theodore") and is_nickname_of("theodore", "ted")
    assert not is_nickname_of("ted", "theo")
    assert all(len(a) >= 3 and all(len(b) >= 3 for b in others) for a, others in NICKNAMES.items())


@pytest.mark.parametrize(
    ("query", "listed"),
    [
        ("Pedro Sancho", "Pedro Sánchez"),
        ("Ana Martin", "Ana Martínez"),
        ("Luis Rodrigo", "Luis Rodríguez"),
        ("Joao Fernando", "João Fernandes"),
    ],
)
def test_a_given_name_is_not_the_patronymic_surname_made_from_it(query: str, listed: str) -> None:
    assert person_score(query, listed) < THRESHOLD


@pytest.mark.parametrize(
    ("query", "listed"),
    [
        ("Pedro Sanches", "Pedro Sánchez"),  # Portuguese and Spanish spellings of one surname
        ("REINALDO CERNA JUARE", "Reinaldo Cerna Juarez"),  # cut short at a field's end
        ("Luis Andres", "Luis André"),
    ],
)
def test_near_spellings_of_one_name_still_match(query: str, listed: str) -> None:
    assert person_score(query, listed) >= THRESHOLD


def test_disagreeing_middle_initials_are_two_people() -> None:
    assert person_score("Frost, William G.", "William W Frost") < THRESHOLD
    assert person_score("William G. Frost", "William G Frost") >= THRESHOLD
    assert person_score("William G. Frost", "William Frost") >= THRESHOLD  # a middle initial left out
