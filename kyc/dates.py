"""Birth dates as people and lists actually write them: the one parser for clients, the command line and adapters.

Sanctions lists and customer files carry year-only and year-month dates, unpadded months and days (``1965-4-03``)
and impossible days (``1974-01-32``). Refusing such a record would leave a person unscreened, which is worse than
screening them on their name: so a date is kept as precisely as it is right (an impossible day degrades to its
month, an impossible month to its year) and the problem is reported as a warning with the result. Only text that
is no date at all, or a year no living person was born in, is refused, and callers that must never drop a record
(``kyc match``) screen on the name and report that too.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date

from kyc.errors import Invalid

_SHAPE = re.compile(r"^(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?$")
EARLIEST_BIRTH_YEAR = 1800
"""Earlier years are typing errors (``0980``), not birth dates of anyone screened."""


class InvalidDate(Invalid, ValueError):
    """Not a date in any of the accepted shapes, or a year no living person was born in."""


@dataclass(frozen=True)
class ParsedDate:
    """``value`` is ``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD``; ``warning`` says what was given up, when anything was."""

    value: str
    warning: str | None = None


def parse_birth_date(text: str, *, today: date | None = None) -> ParsedDate:
    """``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD``, padded or not (``1965-4-3``), to its canonical form.

    An impossible day (``1974-01-32``, ``1990-02-30``) keeps year and month, an impossible month the year, each
    with a warning; a date after ``today`` keeps what is not in the future. Raises :class:`InvalidDate` for other
    text and for years before 1800 or after this one. Messages never repeat more of the input than the date parts.
    """
    today = today or date.today()
    match = _SHAPE.match(text.strip())
    if match is None:
        raise InvalidDate("not a date: expected YYYY, YYYY-MM or YYYY-MM-DD")
    year = int(match.group(1))
    if not EARLIEST_BIRTH_YEAR <= year <= today.year:
        raise InvalidDate(f"year {year} is not a plausible birth year ({EARLIEST_BIRTH_YEAR}–{today.year})")
    if match.group(2) is None:
        return ParsedDate(f"{year:04d}")
    month = int(match.group(2))
    if not 1 <= month <= 12:
        return ParsedDate(f"{year:04d}", f"month {month} does not exist; screened on the year {year:04d}")
    if (year, month) > (today.year, today.month):
        return ParsedDate(f"{year:04d}", f"{year:04d}-{month:02d} is in the future; screened on the year {year:04d}")
    if match.group(3) is None:
        return ParsedDate(f"{year:04d}-{month:02d}")
    day = int(match.group(3))
    last = calendar.monthrange(year, month)[1]
    if not 1 <= day <= last:
        return ParsedDate(
            f"{year:04d}-{month:02d}",
            f"day {day} does not exist in {year:04d}-{month:02d}; screened on the month {year:04d}-{month:02d}",
        )
    if date(year, month, day) > today:
        return ParsedDate(
            f"{year:04d}-{month:02d}", f"day {day} is in the future; screened on the month {year:04d}-{month:02d}"
        )
    return ParsedDate(f"{year:04d}-{month:02d}-{day:02d}")


def date_parts(year: int, month: int = 0, day: int = 0) -> str | None:
    """The most precise valid ``YYYY[-MM[-DD]]`` from parts where 0 means unknown; None for an impossible year.

    For list files, whose dates are not all birth dates (listing dates, ranges): no plausibility window beyond
    the years 1000–2999 that :class:`kyc.entry.PartialDate` holds.
    """
    if not 1000 <= year <= 2999:
        return None
    if not 1 <= month <= 12:
        return f"{year:04d}"
    if not 1 <= day <= calendar.monthrange(year, month)[1]:
        return f"{year:04d}-{month:02d}"
    return f"{year:04d}-{month:02d}-{day:02d}"
