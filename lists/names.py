"""Every spelling a list gives, as a name of its own.

Official lists bundle spellings into one field: the UN writes an alias as ``حسن غول (Hassan Ghul; Hassan Gul; Hasan
Gul)``, organisations carry their acronym (``HAQQANI NETWORK (HQN)``), variants are joined with ``;``, original
script follows the Latin name (``Agha Jan Alizai اغا جان عالیزی``) and translators mix Latin look-alike letters into
Cyrillic (``OOO СТЦ``, ``Дзмiтрый``). Screened as one string, a bundle scores below any of its spellings, so every
adapter passes its names through :func:`listed_names` before building an entry. The rule is one function so that
all sources split the same way.

What is split: top-level ``;`` and ``a) … b) …`` enumerations; parenthesised groups that are another script (an
original-script name), an acronym of the name (a weak alias), an ``a.k.a.``/``f.k.a.``/``also known as`` alias,
a list of variants, or the expansion of an acronym name (``ADF (ALLIED DEMOCRATIC FORCES)``); a person's
one-word alternative (``Ahmad (Ahmed) SANTOS`` gives ``Ahmed SANTOS`` too); a Latin name followed by a name in a
script such as Arabic or Hebrew (Cyrillic or Greek only when it spells the Latin run); and Cyrillic names joined
by an English ``and``. Remarks in parentheses (``formerly listed as``, ``combat name``, ``SEGUNDO``, a language) are
dropped from the name, and so are invisible format characters (``kyc.text``), as on the query side.

What is not: commas at the top level (``SURNAME, Given`` and ``OCEAN MARITIME MANAGEMENT COMPANY, LIMITED``),
qualifiers of organisation names (``AERO CONTINENTE (USA) INC.``, ``AL-HARAMAIN (ALBANIA BRANCH)``: a place or a
legal form alone would alert on every company of that place), and Latin words inside a Cyrillic or Greek
translation (``Организация Abu Nidal`` is one name in Bulgarian).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Literal

from normality import ascii_text
from rigour.langs import iso_639_alpha3
from rigour.names import remove_org_types
from rigour.text.scripts import text_scripts

from kyc.countries import to_country
from kyc.entry import Name, NameKind, Schema, unique_names
from kyc.text import strip_invisible

_CJK = frozenset({"Han", "Hiragana", "Katakana", "Hangul"})
_SEPARABLE = frozenset({"Arabic", "Hebrew", "Ethiopic", "Syriac", "Thaana", "Devanagari", "Bengali", "Thai",
                        "Georgian", "Armenian", "Myanmar", "Khmer", "Tamil", "CJK"})  # fmt: skip
"""Scripts that are never mixed with Latin inside one name, so a Latin run next to them is another spelling."""

_LATIN_TO_CYRILLIC = str.maketrans("AaBCcEeëHiIKĸMOoPpTXxYy", "АаВСсЕеёНіІКкМОоРрТХхУу")
_CYRILLIC_TO_LATIN = str.maketrans("АаВСсЕеНіІКкМОоРрТХхУу", "AaBCcEeHiIKkMOoPpTXxYy")
_LABEL = re.compile(
    r"^(?:a\.?k\.?a\.?|f\.?k\.?a\.?|n\.?k\.?a\.?|also known as|formerly known as|previously known as|known as|"
    r"original script|in [a-z]+|[a-z]+ script)(?:\s*[:,]\s*|\s+)",
    re.IGNORECASE,
)
_REMARKS = frozenset({
    "formerly listed as", "previously listed as", "birth name", "combat name", "nom de guerre", "call sign",
    "initials", "third", "second", "original script", "sub-unit name", "maiden name", "nickname", "alias",
    "formerly", "previously", "deceased", "segundo", "junior", "jr", "senior", "sr", "ii", "iii", "iv", "hijo",
    "filho", "rtd", "retd", "ret", "retired",
})  # fmt: skip
_QUALIFIERS = frozenset({
    "ngo", "offshore", "off shore", "off-shore", "branch", "private", "pvt", "pvt.", "pty", "holding", "group",
    "limited", "ltd", "the", "s", "in sec", "llc", "usa", "u.s.a.", "uk", "u.k.", "hk", "s.l.",
})  # fmt: skip
_REMARK_START = re.compile(r"^(?:previously|formerly) listed as\b[.,]?\s*(?:in [a-z]+\s*:\s*)?", re.IGNORECASE)
_ENUMERATION = re.compile(r"(?:^|\s)[a-h]\)\s+")
_SUBUNIT = re.compile(r"\s+-\s+sub-unit name$", re.IGNORECASE)
_SUCCESSORS = re.compile(r"\s*,?\s+and any successor.*$", re.IGNORECASE)
_PARTS = re.compile(r"\.\s+(?:Subordinate Institution\s*-|Affiliated Entity:)\s*", re.IGNORECASE)
_INLINE_ALIAS = re.compile(r",?\s+(?:a\.k\.a\.|f\.k\.a\.|also known as)\s*,?\s+", re.IGNORECASE)
_AND = re.compile(r"\s+and\s+")
_EDGE = " ,;:.-–"


def listed_names(names: Iterable[Name], schema: Schema) -> tuple[Name, ...]:
    """The entry's names with every bundled field split into its spellings, de-duplicated (strongest kind wins)."""
    return unique_names([part for name in names for part in split_name(name, schema)])


def split_name(name: Name, schema: Schema) -> list[Name]:
    """One listed name as the separate names it holds (usually just itself)."""
    person = schema == Schema.PERSON
    out: list[Name] = []
    for text, kind in _split(fold_confusables(strip_invisible(name.value)), name.kind, person):
        text = _tidy(text)
        if not text or not any(ch.isalpha() for ch in text):
            continue
        if _foreign(text) and kind != NameKind.PRIMARY:
            kind = NameKind.ORIGINAL_SCRIPT
        elif kind == NameKind.ORIGINAL_SCRIPT and not _foreign(text) and text != name.value:
            kind = NameKind.STRONG_ALIAS
        out.append(Name(value=text, kind=kind, lang=name.lang))
    return out or [name]


def scripts(text: str) -> set[str]:
    """The writing systems of ``text``'s letters, Chinese, Japanese and Korean counted as one."""
    return {"CJK" if script in _CJK else script for script in text_scripts(text)}


def mixes_scripts(text: str) -> bool:
    return len(scripts(text)) > 1


def fold_confusables(text: str) -> str:
    """Latin look-alike letters inside Cyrillic words made Cyrillic (``Дзмiтрый``, ``OOO СТЦ``), and back.

    A word (each part of a hyphenated one) takes the script of its letters that have no look-alike; a word made
    only of look-alikes (``OOO``, ``AO``) takes the script of the rest of the name.
    """
    if not {"Latin", "Cyrillic"} <= scripts(text):
        return text
    latin, cyrillic = _distinct(text)
    whole = "Cyrillic" if cyrillic > latin else "Latin" if latin > cyrillic else None
    folded = []
    for word in re.split(r"([\s\-]+)", text):
        n_latin, n_cyrillic = _distinct(word)
        target = "Cyrillic" if n_cyrillic > n_latin else "Latin" if n_latin > n_cyrillic else whole
        if target == "Cyrillic":
            word = word.translate(_LATIN_TO_CYRILLIC)
        elif target == "Latin":
            word = word.translate(_CYRILLIC_TO_LATIN)
        folded.append(word)
    return "".join(folded)


def _distinct(text: str) -> tuple[int, int]:
    """How many letters of ``text`` are unmistakably Latin and Cyrillic (look-alikes not counted)."""
    latin = cyrillic = 0
    for ch in text:
        if not ch.isalpha() or ord(ch) in _LATIN_TO_CYRILLIC or ord(ch) in _CYRILLIC_TO_LATIN:
            continue
        found = text_scripts(ch)
        latin += "Latin" in found
        cyrillic += "Cyrillic" in found
    return latin, cyrillic


def _foreign(text: str) -> bool:
    """Not in Latin script: an original-script spelling."""
    found = scripts(text)
    return bool(found) and "Latin" not in found


def _tidy(text: str) -> str:
    text = " ".join(text.split())
    if ("(" in text or ")" in text) and _groups(text) is None:
        text = text.replace("(", " ").replace(")", " ")
        text = " ".join(text.split())
    text = re.sub(r"\s+\.(?=\s|$)", "", text).strip(" ,;:")
    if text.lower().startswith("and "):
        text = text[4:]
    return text.strip(" ,;:")


# --- the splitting itself ------------------------------------------------------------------------------------


@dataclass
class _Group:
    text: str
    trailing: bool
    before: str
    """The words before the group (what a mid-name acronym abbreviates)."""


def _split(text: str, kind: NameKind, person: bool) -> list[tuple[str, NameKind]]:
    out: list[tuple[str, NameKind]] = []
    for item in _ENUMERATION.split(_SUCCESSORS.sub("", text)):
        for segment in _segments(_balance(item)):
            out.extend(_segment(segment, kind, person))
    return out


def _segments(text: str) -> list[str]:
    """Top-level ``;`` parts, and inline ``a.k.a.`` and ``Subordinate Institution -`` parts."""
    parts: list[str] = []
    for piece in _top_level(text, ";"):
        for sub in _PARTS.split(piece):
            parts.extend(_INLINE_ALIAS.split(sub) if "(" not in sub else [sub])
    return [part for part in (p.strip(" ,;:") for p in parts) if part]


def _balance(text: str) -> str:
    """``text`` without the parentheses that close or open nothing (``Беларускі народны банк) (``)."""
    if "(" not in text and ")" not in text:
        return text
    opened: list[int] = []
    unmatched: set[int] = set()
    for i, ch in enumerate(text):
        if ch == "(":
            opened.append(i)
        elif ch == ")":
            if opened:
                opened.pop()
            else:
                unmatched.add(i)
    unmatched.update(opened)
    return "".join(" " if i in unmatched else ch for i, ch in enumerate(text)) if unmatched else text


def _top_level(text: str, separator: str) -> list[str]:
    """``text`` split at ``separator`` outside parentheses."""
    parts: list[str] = []
    depth = 0
    start = 0
    for i, ch in enumerate(text):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth = max(0, depth - 1)
        elif ch == separator and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts


def _groups(text: str) -> tuple[str, list[_Group]] | None:
    """The text outside parentheses and the top-level groups; None when the parentheses do not balance."""
    base: list[str] = []
    groups: list[tuple[str, int]] = []
    depth = 0
    current: list[str] = []
    for ch in text:
        if ch == "(":
            if depth:
                current.append(ch)
            depth += 1
        elif ch == ")":
            if depth == 0:
                return None
            depth -= 1
            if depth:
                current.append(ch)
            else:
                groups.append(("".join(current), len("".join(base))))
                current = []
                base.append(" ")
        elif depth:
            current.append(ch)
        else:
            base.append(ch)
    if depth:
        return None
    outside = "".join(base)
    rest = [outside[pos:].strip(_EDGE + " ") for _, pos in groups]
    found = [
        _Group(text=" ".join(content.split()), trailing=not tail, before=outside[:pos])
        for (content, pos), tail in zip(groups, rest, strict=True)
    ]
    return " ".join(outside.split()), found


Verdict = Literal["remark", "acronym", "inner_acronym", "expansion", "variant", "qualifier", "names"]


def _segment(text: str, kind: NameKind, person: bool) -> list[tuple[str, NameKind]]:
    parsed = _groups(text)
    if parsed is None or not parsed[1]:
        return _unbracketed(text, kind, person)
    base, groups = parsed
    verdicts = [(group, _judge(group, base, person)) for group in groups]
    names: list[tuple[str, NameKind]] = []
    base_kind = kind
    for group, verdict in verdicts:
        if verdict == "acronym":
            names.append((group.text, NameKind.WEAK_ALIAS))
        elif verdict == "expansion":
            names.append((group.text, kind))
            base_kind = NameKind.WEAK_ALIAS
        elif verdict == "names":
            label_free = _LABEL.sub("", _REMARK_START.sub("", _SUBUNIT.sub("", group.text)))
            for sub in _top_level(label_free, ";"):
                for item in _comma_items(sub):
                    if _acronym_like(item, base) and _abbreviates(item, base):
                        names.append((item, NameKind.WEAK_ALIAS))
                    else:
                        names.extend(_split(item, kind, person))
    if any(verdict == "qualifier" for _, verdict in verdicts):
        # a place or legal form in parentheses stays part of the name; remarks and acronyms leave it
        whole = text
        for group, verdict in verdicts:
            if verdict not in ("qualifier", "variant"):
                whole = whole.replace(f"({group.text})", " ", 1)
        names.insert(0, (" ".join(whole.split()), kind))
    elif base:
        names.insert(0, (base, base_kind))
        names.extend((_substitute(text, group.text), kind) for group, verdict in verdicts if verdict == "variant")
    out: list[tuple[str, NameKind]] = []
    for value, value_kind in names:
        out.extend(_unbracketed(value, value_kind, person) if "(" not in value else [(value, value_kind)])
    return out


def _judge(group: _Group, base: str, person: bool) -> Verdict:
    """What a parenthesised group is (see the module docstring)."""
    text = _SUBUNIT.sub("", group.text)
    bare = text.strip(_EDGE).casefold()
    abbreviates = _acronym_like(text, base) and _abbreviates(text, group.before or base)
    if not bare:
        return "remark"
    if bare in _REMARKS or _language(text) or _REMARK_START.match(text):
        return "names" if _foreign(text) or mixes_scripts(text) else "remark"
    if _LABEL.match(text):
        return "names"
    group_scripts, base_scripts = scripts(text), scripts(base)
    if group_scripts and base_scripts and not (group_scripts & base_scripts):
        if text[0].islower() and ";" not in text:
            return "remark"  # a nickname in translation: "(ο Μαροκινός)", the Moroccan
        return "qualifier" if not person and to_country(text) else "names"
    if abbreviates:
        return "acronym" if group.trailing else "inner_acronym"
    if text[0].islower() or bare.startswith("the ") or text[0].isdigit() or "." in text.rstrip("."):
        return "remark" if person else "qualifier"
    if "," in text and _acronym_like(text.split(",")[0], base) and _abbreviates(text, group.before or base):
        return "names"
    if person:
        if len(text.split()) == 1 and (not group.trailing or _last_word(group.before)):
            # a one-word alternative of the word before it; in scripts whose nicknames stand for several words
            # (בן ציון (בנצי)) the substitution would be wrong
            return "variant" if "Latin" in group_scripts else "remark"
        return "names" if ";" in text else "remark"
    if _is_qualifier(text):
        return "qualifier"
    if _acronym_like(text, base):
        trailing_acronym = group.trailing and (not base.isupper() or _consonant_cluster(text))
        return "acronym" if trailing_acronym else "qualifier"
    if _acronym_like(base, text) and _abbreviates(base, text):
        return "expansion"
    if ";" in text or _SUBUNIT.search(group.text):
        return "names"
    return "qualifier"


def _language(text: str) -> bool:
    """A language's name (``Tigrinya``), which some lists put after an original-script name."""
    word = text.strip()
    return len(word) > 3 and word.istitle() and " " not in word and iso_639_alpha3(word) is not None


def _is_qualifier(text: str) -> bool:
    bare = text.casefold().strip(" .")
    if bare in _QUALIFIERS or to_country(text) or to_country(bare.removesuffix(" branch")):
        return True
    if bare.endswith((" branch", " location only", " office", " offices")):
        return True
    return not remove_org_types(bare).strip(" .,()")


def _acronym_like(text: str, base: str) -> bool:
    """Short and mostly capitals: ``HTS``, ``ISIL-K``, ``JuA``, ``APT 38``, ``SGM Group``."""
    tokens = text.split()
    if not tokens or len(tokens) > 3:
        return False
    head = tokens[0]
    letters = [ch for ch in head if ch.isalpha()]
    if len(letters) < 2 or len(head) > 12:
        return False
    upper = sum(ch.isupper() for ch in letters)
    if upper < max(2, len(letters) - 1):
        return False
    return len(tokens) == 1 or (base.isupper() is False) or all(len(t) <= 6 for t in tokens)


def _abbreviates(acronym: str, words_text: str) -> bool:
    """Whether the capitals of ``acronym`` spell the words in order, mostly by their initials."""
    head = acronym.split()[0]
    letters = [ch.casefold() for ch in head if ch.isalpha()]
    words = [w.casefold() for w in re.findall(r"[^\W\d_]+", words_text)]
    if not letters or not words:
        return False

    def match(i: int, w: int, pos: int, initials: int) -> bool:
        if i == len(letters):
            return initials * 2 >= len(letters)
        # the next letter inside the current word
        found = words[w].find(letters[i], pos) if w < len(words) and pos else -1
        if found >= 0 and match(i + 1, w, found + 1, initials):
            return True
        stop = min(len(words), w + 4) if i else len(words)
        for nxt in range(w + (1 if pos else 0), stop):
            if words[nxt][0] == letters[i] and match(i + 1, nxt, 1, initials + 1):
                return True
        return False

    return match(0, 0, 0, 0)


def _consonant_cluster(text: str) -> bool:
    """``VGTRK``, ``SPND``: letters no word of a name has in a row, so an acronym even in an all-capitals name."""
    return " " not in text and bool(re.search(r"[^\W\daeiouy]{3}", text.casefold()))


def _last_word(text: str) -> str | None:
    words = text.split()
    return words[-1] if words else None


def _substitute(text: str, variant: str) -> str:
    """``Ahmad (Ahmed) SANTOS`` with ``Ahmed`` in place of the word before the group, other groups dropped."""
    at = text.find(f"({variant})")
    before, after = text[:at].rstrip(), text[at + len(variant) + 2 :]
    words = before.split()
    words[-1:] = [variant]
    return re.sub(r"\([^)]*\)", " ", " ".join(words) + " " + after)


def _comma_items(text: str) -> list[str]:
    """Variants inside a group split at commas, legal forms kept with the name before them (``FETCO, Inc.``)."""
    items: list[str] = []
    for piece in _top_level(text, ","):
        piece = piece.strip()
        if not piece:
            continue
        legal_form = not remove_org_types(piece.casefold()).strip(" .,()")
        if items and (legal_form or (not piece[0].isupper() and not _foreign(piece))):
            items[-1] = f"{items[-1]}, {piece}"
        else:
            items.append(piece)
    return items


def _unbracketed(text: str, kind: NameKind, person: bool) -> list[tuple[str, NameKind]]:
    """A name without parentheses: split at a script boundary and at ``and`` between Cyrillic names."""
    runs = _script_runs(text)
    if len(runs) > 1:
        out: list[tuple[str, NameKind]] = []
        for run in runs:
            run_kind = kind
            if person and len(run.split()) == 1 and not _foreign(run):
                run_kind = NameKind.WEAK_ALIAS
            out.append((run, run_kind))
        return out
    if " and " in text:
        parts = [p for p in _AND.split(text) if p.strip()]
        if len(parts) > 1 and all(_foreign(p) for p in parts):
            return [(p, kind) for p in parts]
    return [(text, kind)]


def _script_runs(text: str) -> list[str]:
    """Latin and another script side by side (``Agha Jan Alizai اغا جان عالیزی``) as their runs.

    Cyrillic and Greek runs only when they spell the Latin run (``Abu Banat Абу Банат``): translations keep Latin
    names inside them (``генерал Nkunda``).
    """
    found = scripts(text)
    other = found - {"Latin"}
    if "Latin" not in found or not other:
        return [text]
    if not other <= _SEPARABLE:
        if not other <= {"Cyrillic", "Greek"}:
            return [text]
        runs = _runs(text)
        if len(runs) == 2 and _transliterates(runs[0], runs[1]):
            return runs
        return [text]
    runs = _runs(text)
    return runs if len(runs) <= 3 else [text]


def _transliterates(first: str, second: str) -> bool:
    a, b = ascii_text(first).casefold(), ascii_text(second).casefold()
    return SequenceMatcher(None, a, b).ratio() >= 0.75


def _runs(text: str) -> list[str]:
    runs: list[tuple[str, list[str]]] = []
    for token in text.split():
        token_scripts = scripts(token)
        label = "Latin" if token_scripts == {"Latin"} else "other" if token_scripts else (runs[-1][0] if runs else "")
        if runs and runs[-1][0] == label:
            runs[-1][1].append(token)
        else:
            runs.append((label, [token]))
    return [" ".join(tokens) for _, tokens in runs if tokens]
