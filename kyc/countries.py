"""Country names and codes to ISO 3166-1 alpha-2, via ``countrynames`` (the library OpenSanctions uses)."""

from __future__ import annotations

import re
from functools import lru_cache

import countrynames

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
    code = countrynames.to_code(text)
    if code is None or len(code) != 2:
        return None
    return code.upper()


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
