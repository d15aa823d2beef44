"""Conventions the two UK publications (OFSI ConList, FCDO UK Sanctions List) share.

Both are typed in by hand at HM Treasury / the FCDO, so they share the same habits: numbered multi-values
(``(1) Germany. (2) Morocco``), unknown date parts written as ``00`` or ``dd``/``mm``, and country names such as
``Congo (Democratic Republic)`` that exact lookup does not know.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Literal

import countrynames

from kyc.countries import to_country
from kyc.entry import PartialDate
from lists.base import make_partial_date, partial_date

_NUMBERED = re.compile(r"\(\d+\)")
_REMARK = re.compile(r"\s*\([^)]*\)")
_PUNCTUATION = re.compile(r"\s*[.,;/]\s*")
_MONTH_YEAR = re.compile(r"^(\d{1,2})/(\d{4})$")
_UNKNOWN_PART = re.compile(r"\b(?:dd|mm)\b", re.IGNORECASE)
_UN_REF = re.compile(r"UN Ref\)?\s*[.:]?\s*([A-Z]{2})([IiEe])\.\s*(\d{3})\b")
"""2016 ``UN Ref QDe.004`` or ``UN Ref.SSi.006``; also the typed variants ``QDE.145`` and ``CDi. 038``."""
_LABELLED_UN_REF = re.compile(r"\(UN Ref\):\s*([A-Z]{2})([IiEe])\.\s*(\d{3})\b")
"""2022+ format: the entry's own reference is the labelled field ``(UN Ref):CFi.010``."""
_OLD_UN_REF = re.compile(r"UN Ref(?:erence No)?\)?\s*[.:]?\s*([A-Z][A-Za-z0-9]*(?:[.,][A-Za-z0-9]+)+)")
"""The numbering the UN retired in 2014-2016 (``QI.B.62.02``, ``E.29.I.3``), still in the 2016 ConList."""


def numbered(text: str | None) -> list[str]:
    """Split ``(1) A (2) B`` into ``[A, B]``; text without numbering is one value."""
    if not text:
        return []
    parts = [part.strip().strip(".,;").strip() for part in _NUMBERED.split(text)]
    return [part for part in parts if part and part != "-"]


@lru_cache(maxsize=4096)
def uk_countries(text: str | None) -> tuple[str, ...]:
    """Countries in a UK field, one numbered part at a time.

    Exact lookup first; then fuzzy lookup of the short part, which finds the UK's own spelling
    ``Congo (Democratic Republic)`` (183 rows of the 2025 ConList) without guessing across a sentence; then the
    part without its remark (``Afghanistan (at time of listing)``) or split at punctuation (``Germany. Russia``).
    """
    if not text:
        return ()
    if whole := to_country(text):
        return (whole,)
    codes: list[str] = []
    for part in numbered(text) or [text]:
        for code in _part_countries(part):
            if code not in codes:
                codes.append(code)
    return tuple(codes)


def _part_countries(part: str) -> list[str]:
    if code := to_country(part) or _fuzzy(part):
        return [code]
    if code := to_country(_REMARK.sub("", part)):
        return [code]
    return [code for piece in _PUNCTUATION.split(part) if (code := to_country(piece))]


def _fuzzy(part: str) -> str | None:
    if len(part.split()) > 5:
        return None
    code = countrynames.to_code(part, fuzzy=True)
    if code is None or len(code) != 2:
        return None
    return code.upper()


def uk_date(text: str | None) -> PartialDate | None:
    """``dd/mm/yyyy`` where unknown parts are ``00`` (OFSI) or ``dd``/``mm`` (FCDO); also ``mm/yyyy`` and ``yyyy``."""
    if not text:
        return None
    value = _UNKNOWN_PART.sub("00", text.strip())
    if m := _MONTH_YEAR.match(value):
        return make_partial_date(int(m.group(2)), int(m.group(1)))
    return partial_date(value)


def uk_day(text: str | None) -> str | None:
    """A listing or designation date as ISO text, or None."""
    parsed = uk_date(text)
    return parsed.date if parsed else None


def un_refs(text: str | None) -> list[str]:
    """The entry's own UN Security Council reference(s), normalised to the UN's spelling (``QDe.145``).

    Since 2022 the text is a set of labelled fields, and other references in it are mentions: a DPRK tanker's text
    cites its owner's ``UN Ref KPe.064``, which is not the tanker's own listing.
    """
    if not text:
        return []
    labelled = "(UK Sanctions List Ref)" in text or "(UN Ref)" in text
    pattern = _LABELLED_UN_REF if labelled else _UN_REF
    refs = [f"{prefix}{kind.lower()}.{number}" for prefix, kind, number in pattern.findall(text)]
    if labelled:
        return list(dict.fromkeys(refs))
    if not refs:
        refs = [ref.replace(",", ".") for ref in _OLD_UN_REF.findall(text)]
    return list(dict.fromkeys(refs))


def gender(text: str | None) -> Literal["male", "female"] | None:
    """``Male``/``Female`` (UK) or ``M``/``F`` (EU); anything else is not recorded rather than guessed."""
    value = (text or "").strip().lower()
    if value in ("male", "m"):
        return "male"
    if value in ("female", "f"):
        return "female"
    return None
