"""The one birth-date parser: every shape people and lists write, impossible parts degraded with a warning."""

from __future__ import annotations

from datetime import date

import pytest

from kyc.dates import InvalidDate, ParsedDate, date_parts, parse_birth_date

TODAY = date(2026, 12, 3)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1946", "1946"),
        ("1946-05", "1946-05"),
        ("1946-5", "1946-05"),
        ("1965-4-03", "1965-04-03"),
        ("1965-4-3", "1965-04-03"),
        ("1980-05-17", "1980-05-17"),
        (" 2000-02-29 ", "2000-02-29"),
        ("2026-12-03", "2026-12-03"),
    ],
)
def test_accepted_shapes_are_made_canonical(text: str, value: str) -> None:
    assert parse_birth_date(text, today=TODAY) == ParsedDate(value)


@pytest.mark.parametrize(
    ("text", "value", "warning"),
    [
        ("1974-01-32", "1974-01", "day 32 does not exist in 1974-01; screened on the month 1974-01"),
        ("1967-02-30", "1967-02", "day 30 does not exist in 1967-02; screened on the month 1967-02"),
        ("1900-02-29", "1900-02", "day 29 does not exist in 1900-02; screened on the month 1900-02"),
        ("1974-01-00", "1974-01", "day 0 does not exist in 1974-01; screened on the month 1974-01"),
        ("1967-13-01", "1967", "month 13 does not exist; screened on the year 1967"),
        ("1967-00", "1967", "month 0 does not exist; screened on the year 1967"),
        ("2026-12-24", "2026-12", "day 24 is in the future; screened on the month 2026-12"),
    ],
)
def test_impossible_parts_degrade_with_a_warning(text: str, value: str, warning: str) -> None:
    assert parse_birth_date(text, today=TODAY) == ParsedDate(value, warning)


@pytest.mark.parametrize("text", ["", "abc", "17.05.1980", "1980/05/17", "80-05-17", "1980-05-17T00", "1799", "2027"])
def test_text_that_is_no_birth_date_is_refused(text: str) -> None:
    with pytest.raises(InvalidDate):
        parse_birth_date(text, today=TODAY)


def test_list_dates_from_parts_keep_what_is_valid() -> None:
    assert date_parts(1974, 1, 32) == "1974-01"
    assert date_parts(1974, 0, 0) == "1974"
    assert date_parts(1974, 2, 28) == "1974-02-28"
    assert date_parts(999) is None
