"""Hostile characters in text that reaches us from clients and list files.

Two kinds matter. *Invisible format characters* (Unicode category Cf: bidirectional overrides and isolates,
zero-width spaces and joiners, the byte-order mark, soft hyphens) change how a name looks without changing what
it says, or make ``"\\u202eilA naarmE\\u202c"`` display as a listed name while matching nothing: they are removed
before a name is screened or stored. *Control characters* (category Cc: NUL and the other C0/C1 codes) have no
business in any field; PostgreSQL cannot even store NUL in text. Fields that may hold them are refused, never
silently cleaned, so that what is stored is what the client sent.
"""

from __future__ import annotations

import unicodedata

LINE_BREAKS = frozenset("\n\r\t")
"""Allowed in multi-line free text (decision reasons, comments)."""


def strip_invisible(text: str) -> str:
    """``text`` without format characters (Cf), e.g. bidi controls and zero-width spaces."""
    if text.isascii():
        return text
    return "".join(ch for ch in text if unicodedata.category(ch) != "Cf")


REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
"""Controls, format characters, lone surrogates and line/paragraph separators."""


def forbidden_characters(text: str, *, multiline: bool = False) -> list[str]:
    """The control and format characters ``text`` holds, as ``U+XXXX`` (empty when it is clean).

    Line breaks and tabs are allowed where ``multiline``; format characters are refused too, because a field that
    is displayed to officers must not be able to reorder what they read.
    """
    found: list[str] = []
    for ch in text:
        if ch.isascii() and ch.isprintable():
            continue
        if multiline and ch in LINE_BREAKS:
            continue
        if unicodedata.category(ch) in REFUSED_CATEGORIES:
            code = f"U+{ord(ch):04X}"
            if code not in found:
                found.append(code)
    return found


def has_letter(text: str) -> bool:
    """Whether any character is a letter of some script (a name of digits and punctuation names nobody)."""
    return any(ch.isalpha() for ch in text)


def refuse_forbidden(text: str, *, multiline: bool = False) -> str:
    """``text`` unchanged, or ``ValueError`` naming the code points (never the text) when it holds any.

    For free text that is stored and shown as typed — references, reasons, comments: NUL cannot even be stored
    (PostgreSQL text), and bidi controls could make a reason read differently to the next officer.
    """
    found = forbidden_characters(text, multiline=multiline)
    if found:
        shown = ", ".join(found[:5]) + (", …" if len(found) > 5 else "")
        raise ValueError(f"contains control or invisible format characters ({shown})")
    return text


def control_characters(text: str) -> list[str]:
    """The control characters (Cc, NUL included) ``text`` holds, as ``U+XXXX``: for URLs, where format characters
    may be part of a searched name but a control character never is."""
    found: list[str] = []
    for ch in text:
        if not (ch.isascii() and ch.isprintable()) and unicodedata.category(ch) == "Cc":
            code = f"U+{ord(ch):04X}"
            if code not in found:
                found.append(code)
    return found
