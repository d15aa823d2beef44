"""Country names and codes to ISO 3166-1 alpha-2, via ``countrynames`` (the library OpenSanctions uses)."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import countrynames
from countrynames.util import normalize_name

_SPLIT = re.compile(r"\s*(?:/|;|\(\d+\)|\b[a-z]\))\s*")


@lru_cache(maxsize=4096)
def to_country(value: str | None) -> str | None:
    """One country name or code (any language countrynames knows, alpha-2 or alpha-3) to alpha-2, or None.

    Historic codes such as ``SUHH`` (Soviet Union) are dropped: they are not valid ISO alpha-2 today.
    """
    if value is None:
        return None
    text = value.strip().strip(".").strip()
    if not text:
        return None
    code = _folded_lookup(text) or countrynames.to_code(text)
    if code is None or len(code) != 2:
        return None
    return code.upper()


COUNTRY_NAMES_FILE = Path(__file__).with_name("country_names.tsv")
"""countrynames' names of countries in many languages, folded as it folds them (lower-case ASCII), and their
alpha-2 codes, written by ``scripts/country_names_table.py``. countrynames folds its whole table with ICU on first
use: most of a second, which a ``kyc screen`` call would pay for its first organisation name or nationality."""


@lru_cache(maxsize=1)
def folded_country_names() -> dict[str, str]:
    """Folded country name -> alpha-2 code."""
    names: dict[str, str] = {}
    for row in COUNTRY_NAMES_FILE.read_text(encoding="utf-8").splitlines():
        name, code = row.split("\t")
        names[name] = code
    return names


@lru_cache(maxsize=1)
def _codes() -> frozenset[str]:
    return frozenset(folded_country_names().values())


def _folded_lookup(text: str) -> str | None:
    """``countrynames.to_code`` for what the file holds (a code, or a name folding to ASCII), without loading
    countrynames' table; None for the rest, which countrynames then answers."""
    upper = text.upper()
    if upper in _codes():
        return upper
    folded = normalize_name(upper)  # as countrynames folds it: upper-cased first (Armenian և is two letters then)
    return folded_country_names().get(folded) if folded else None


def to_countries(value: str | None) -> list[str]:
    """A field that may hold several countries (``(1) Germany. (2) Morocco``, ``Belarus / Bélarus``).

    Bilingual pairs resolve to one code; unknown names are dropped rather than guessed.
    """
    if not value:
        return []
    whole = to_country(value)
    if whole is not None:
        return [whole]
    codes: list[str] = []
    for part in _SPLIT.split(value):
        code = to_country(part)
        if code is not None and code not in codes:
            codes.append(code)
    return codes
