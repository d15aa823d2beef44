"""Chinese names romanised two ways: Pinyin (Xi Jinping, Mao Zedong) and Wade-Giles (Hsi Chin-p'ing, Mao Tse-tung).

Wade-Giles was the English standard until 1979 and is still Taiwan's and many older records' spelling; lists and
customers mix both. Its spellings differ from Pinyin's by whole letter groups (hs for x, ts for z, ch for j or zh,
p t k for b d g), so no typo budget relates them. A name part is read as syllables of either system (the fewest
syllables that spell it) and both are written in Wade-Giles as lists do, without apostrophes: ``jinping`` is
*chin-ping*, ``chinping`` is itself. Two parts of one Wade-Giles writing are the same name when at least one of
them can only be Wade-Giles (``hsi``, ``tsetung``): two spellings that are both valid Pinyin (Dina and Tina, Dan
and Tan) are different names, not two romanisations.
"""

from __future__ import annotations

import re

from kyc.matching.wade_giles_table import PINYIN_TO_WADE_GILES

_WADE_GILES = frozenset(PINYIN_TO_WADE_GILES.values())
_PINYIN = frozenset(PINYIN_TO_WADE_GILES)


def _syllables_pattern(syllables: frozenset[str]) -> re.Pattern[str]:
    return re.compile("(?:" + "|".join(sorted(syllables, key=lambda s: (-len(s), s))) + ")+")


_SPELT_IN_PINYIN = _syllables_pattern(_PINYIN)
_SPELT_IN_WADE_GILES = _syllables_pattern(_WADE_GILES)
"""Whether a part is made of a system's syllables at all: most parts are not, and the regular expression says so
much faster than looking for the fewest syllables."""
_LONGEST = max(len(s) for s in _PINYIN | _WADE_GILES)
MIN_LENGTH = 2


def _initials() -> dict[str, str]:
    pairs: dict[str, set[str]] = {}
    for pinyin, wade_giles in PINYIN_TO_WADE_GILES.items():
        if pinyin[0] != wade_giles[0]:
            pairs.setdefault(pinyin[0], set()).add(wade_giles[0])
            pairs.setdefault(wade_giles[0], set()).add(pinyin[0])
    return {letter: "".join(sorted(others)) for letter, others in pairs.items()}


CHINESE_INITIALS: dict[str, str] = _initials()
"""First letters a syllable has in Pinyin and in Wade-Giles when they differ (b / p, j / ch, x / hs), each to
the other's: the cheap test before reading two parts as Chinese."""


def _fewest_syllables(token: str, syllables: frozenset[str]) -> tuple[str, ...] | None:
    """The token as the fewest syllables of one system, or None when it is not made of them."""
    best: list[tuple[str, ...] | None] = [None] * (len(token) + 1)
    best[0] = ()
    for end in range(1, len(token) + 1):
        for start in range(max(0, end - _LONGEST), end):
            head = best[start]
            if head is not None and token[start:end] in syllables:
                candidate = (*head, token[start:end])
                current = best[end]
                if current is None or len(candidate) < len(current):
                    best[end] = candidate
    return best[len(token)]


_READINGS: dict[str, tuple[str, bool] | None] = {}
_READINGS_LIMIT = 65536
_UNREAD: tuple[str, bool] = ("", False)
"""Not read yet (None is a reading: no Chinese syllables); compared by identity."""


def wade_giles_reading(token: str) -> tuple[str, bool] | None:
    """The token in Wade-Giles, and whether only Wade-Giles spells it; None when it is no Chinese syllables."""
    known = _READINGS.get(token, _UNREAD)
    if known is not _UNREAD:
        return known
    if len(_READINGS) >= _READINGS_LIMIT:
        _READINGS.clear()
    reading = _READINGS[token] = _reading(token)
    return reading


def _reading(token: str) -> tuple[str, bool] | None:
    if len(token) < MIN_LENGTH or not token.isalpha():
        return None
    pinyin = _fewest_syllables(token, _PINYIN) if _SPELT_IN_PINYIN.fullmatch(token) else None
    wade_giles = _fewest_syllables(token, _WADE_GILES) if _SPELT_IN_WADE_GILES.fullmatch(token) else None
    if wade_giles is not None and (pinyin is None or len(wade_giles) < len(pinyin)):
        return token, True
    if pinyin is None:
        return None
    return "".join(PINYIN_TO_WADE_GILES[s] for s in pinyin), False


def wade_giles_key(token: str) -> str | None:
    """The index key of a part that has a Wade-Giles spelling of its own (``xi`` and ``hsi``: *hsi*), so that
    either spelling finds the other; None for every other part (``dan`` and ``tan`` are both Pinyin: no key)."""
    reading = wade_giles_reading(token)
    if reading is None:
        return None
    written, wade_giles_only = reading
    if wade_giles_only:
        return written
    other = wade_giles_reading(written)
    return written if other is not None and other[1] else None


def same_chinese_name(a: str, b: str) -> bool:
    """Whether two name parts are one Chinese name in Pinyin and in Wade-Giles (``xi`` / ``hsi``, ``zedong`` /
    ``tsetung``)."""
    read_a = wade_giles_reading(a)
    if read_a is None:
        return False
    read_b = wade_giles_reading(b)
    return read_b is not None and read_a[0] == read_b[0] and (read_a[1] or read_b[1])
