"""Identifiers compared as numbers: one key per document or registration number, whatever its printed form.

A party's personal identity code, passport, business ID or foreign registration equal to a listed number is
strong evidence on its own: the names may be written differently (a transcription, a maiden name, a trading
name), the number is not. Numbers are printed with spaces, dashes and dots, and national formats have variants
that are one number (the Finnish business ID ``2617416-4``, its VAT form ``FI26174164``); python-stdnum knows
those formats, so the key folds them. What a query number is (a henkilötunnus, a business ID) is recognised by its
checksum, so that a personal identity code never matches a listed company registration, or a business ID a
listed passport, only because the digits happen to agree.
"""

from __future__ import annotations

import re
from functools import lru_cache

from stdnum.fi import alv, hetu, ytunnus

MIN_IDENTIFIER_LENGTH = 6
"""Shorter numbers (a file number, ``No. 12``) agree by chance too often to count as evidence."""

_NOT_ALNUM = re.compile(r"[^0-9A-Z]+")

PERSONAL = "personal"
BUSINESS = "business"

_PERSONAL_TYPES = re.compile(
    r"hetu|personal|national|identi|id_?card|id_?no|ssn|social|citizen|cedula|curp|nin\b|pin\b|passport|birth",
    re.IGNORECASE,
)
"""Listed identifier types a personal identity code may be recorded under (lists file codes loosely)."""
_BUSINESS_TYPES = re.compile(
    r"ytunnus|business|registr|company|companies|commercial|tax|vat|inn|ogrn|kpp|okpo|lei|duns|swift|bic|org",
    re.IGNORECASE,
)
"""Listed identifier types a business ID or company registration may be recorded under."""
_DOCUMENT_TYPES = re.compile(r"passport|birth|driving|licen[cs]e|ssn|social", re.IGNORECASE)
"""Types that are never a company's number."""


@lru_cache(maxsize=65536)
def identifier_key(value: str) -> str:
    """The comparison key of a number: letters and digits in upper case, national variants folded.

    ``131052-308T`` and ``131052 308t`` give one key; the century sign of a henkilötunnus other than ``-`` stays
    (``131052A308T`` is someone born in 2052). A Finnish VAT number (``FI26174164``) gives its business ID's key.
    """
    compact = _NOT_ALNUM.sub("", value.upper())
    if compact.startswith("FI") and len(compact) == 10 and alv.is_valid(compact):
        return ytunnus.compact(compact[2:])
    return compact


@lru_cache(maxsize=65536)
def query_kind(value: str) -> str | None:
    """What a party's number is, when its checksum says so: a Finnish personal identity code or business ID."""
    text = value.strip()
    if hetu.is_valid(text):
        return PERSONAL
    key = identifier_key(text)
    if len(key) == 8 and key.isdigit() and ytunnus.is_valid(key):
        return BUSINESS
    return None


def kinds_agree(kind: str | None, listed_type: str) -> bool:
    """A number of a known kind only counts against a listed number that may be of that kind.

    Unknown kinds (a passport number, a foreign registration) count against any listed type: the lists' type
    labels are free text and often missing, and an exact long number is rare enough by chance.
    """
    if kind is None:
        return True
    if kind == PERSONAL:
        return bool(_PERSONAL_TYPES.search(listed_type)) or not _BUSINESS_TYPES.search(listed_type)
    return not _DOCUMENT_TYPES.search(listed_type) and (
        bool(_BUSINESS_TYPES.search(listed_type)) or not _PERSONAL_TYPES.search(listed_type)
    )


def matching_identifier(query_values: tuple[str, ...], listed: list[tuple[str, str]]) -> str | None:
    """The listed type of the first listed number (``(type, number)`` pairs) equal to one of the query's, if any."""
    wanted: dict[str, str | None] = {}
    for value in query_values:
        key = identifier_key(value)
        if len(key) >= MIN_IDENTIFIER_LENGTH:
            wanted.setdefault(key, query_kind(value))
    if not wanted:
        return None
    for listed_type, number in listed:
        key = identifier_key(number)
        if key in wanted and kinds_agree(wanted[key], listed_type):
            return listed_type
    return None
