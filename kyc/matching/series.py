"""Numbered series of organisations: Fund II, Partners VII, Trust 2006-2.

Funds, trusts and special-purpose companies are issued in series, each member its own legal person, numbered in
Roman numerals more often than not. The numeral is part of the name's identity: ``Bowne Global Solutions II`` is
not ``Bowne Global Solutions``, just as ``Partners VII`` is not ``Partners VIII``.
"""

from __future__ import annotations

import re

_ROMAN = re.compile(r"(?<![\w'])(?=[ivx]{2,}(?![\w']))(x{0,3})(ix|iv|v?i{0,3})(?![\w'])")
_VALUES = {"i": 1, "v": 5, "x": 10}


def _roman_value(numeral: str) -> int:
    total = 0
    for k, ch in enumerate(numeral):
        value = _VALUES[ch]
        following = _VALUES[numeral[k + 1]] if k + 1 < len(numeral) else 0
        total += -value if value < following else value
    return total


def roman_numerals_as_digits(text: str) -> str:
    """Roman numerals of two or more letters (II to XXXIX) written as digits, in lower-case text: rigour reads only
    I to IX as numbers, and takes a bare II for a legal form (an abbreviation of sole proprietor), which would
    drop the series number from the name."""
    if "i" not in text and "v" not in text and "x" not in text:
        return text
    return _ROMAN.sub(lambda m: str(_roman_value(m.group(0))) if m.group(0) else m.group(0), text)


FIRST_OF_SERIES = "1"
"""The first member of a series is often named without its numeral (``Offshore Fund`` / ``Offshore Fund I``)."""


def later_in_series(numbers: frozenset[str]) -> bool:
    """A name whose numbers, present on one side only, number a later member of a series (anything but 1)."""
    return any(n != FIRST_OF_SERIES for n in numbers)
