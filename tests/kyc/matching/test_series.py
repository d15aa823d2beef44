"""Numbered series of organisations: Roman numerals read as numbers, a later member is another entity."""

from __future__ import annotations

import pytest

from kyc.matching import compare_names, name_form
from kyc.matching.series import later_in_series, roman_numerals_as_digits

THRESHOLD = 0.8


def org_score(a: str, b: str) -> float:
    return compare_names(name_form(a, "Organization"), name_form(b, "Organization")).score


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("bowne global solutions ii, inc.", "bowne global solutions 2, inc."),
        ("kkr fund xiii l.p.", "kkr fund 13 l.p."),
        ("vivid mix", "vivid mix"),
        ("xian aircraft", "xian aircraft"),
        ("fund i", "fund i"),  # one letter: rigour's own number reading, or an initial
    ],
)
def test_roman_numerals_of_two_or_more_letters_are_digits(text: str, expected: str) -> None:
    assert roman_numerals_as_digits(text) == expected


def test_only_a_later_member_of_a_series_counts() -> None:
    assert later_in_series(frozenset({"2"}))
    assert not later_in_series(frozenset({"1"}))


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Bowne Global Solutions, Inc.", "Bowne Global Solutions II, Inc."),
        ("Bowne Global Solutions Denmark, A/S", "Bowne Global Solutions II Denmark A/S"),
        ("KKR North America Fund XII L.P.", "KKR North America Fund XIII L.P."),
        ("Management Company 23", "Management Company"),
    ],
)
def test_another_member_of_a_series_does_not_alert(a: str, b: str) -> None:
    assert org_score(a, b) < THRESHOLD


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Nantahala Capital Offshore Fund, Ltd.", "Nantahala Capital Offshore Fund I, Ltd."),
        ("Carlyle Partners VII L.P.", "Carlyle Partners 7 L.P."),
        ("Bowne Global Solutions II, Inc.", "Bowne Global Solutions II Inc"),
    ],
)
def test_the_same_member_matches(a: str, b: str) -> None:
    assert org_score(a, b) >= THRESHOLD
