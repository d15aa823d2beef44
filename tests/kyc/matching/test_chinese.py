"""Chinese names in Pinyin and in Wade-Giles."""

from __future__ import annotations

import pytest

from kyc.matching import compare_names, name_form
from kyc.matching.chinese import same_chinese_name, wade_giles_key, wade_giles_reading
from kyc.matching.wade_giles_table import PINYIN_TO_WADE_GILES
from tests.support.env import load_script

THRESHOLD = 0.8


def person_score(a: str, b: str) -> float:
    return compare_names(name_form(a, "Person"), name_form(b, "Person")).score


@pytest.mark.parametrize(
    ("query", "listed"),
    [
        ("Hsi Chin-ping", "Xi Jinping"),
        ("Mao Tse-tung", "Mao Zedong"),
        ("Chiang Ching-kuo", "Jiang Jingguo"),
        ("Teng Hsiao-ping", "Deng Xiaoping"),
    ],
)
def test_wade_giles_matches_pinyin(query: str, listed: str) -> None:
    assert person_score(query, listed) >= THRESHOLD


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("dina", "tina"),  # both Pinyin: two names, not two romanisations
        ("dan", "tan"),
        ("ivan", "iwan"),  # not Chinese syllables at all
        ("hsi", "shi"),  # another syllable
    ],
)
def test_near_spellings_are_not_one_chinese_name(a: str, b: str) -> None:
    assert not same_chinese_name(a, b)


def test_a_part_is_read_with_the_fewest_syllables() -> None:
    assert wade_giles_reading("jinping") == ("chinping", False)
    assert wade_giles_reading("chiang") == ("chiang", True)  # one Wade-Giles syllable, not Pinyin chi-ang
    assert wade_giles_reading("smith") is None


def test_the_table_is_the_generator_s_output() -> None:
    pytest.importorskip("pypinyin")
    assert load_script("wade_giles_table").table() == PINYIN_TO_WADE_GILES


def test_only_parts_with_a_wade_giles_spelling_of_their_own_get_a_key() -> None:
    assert wade_giles_key("xi") == wade_giles_key("hsi") == "hsi"
    assert wade_giles_key("jinping") == wade_giles_key("chinping")
    assert wade_giles_key("dan") is None and wade_giles_key("smith") is None
