# Over 400 lines: every normalisation step feeds the next; they are tuned and tested together.
"""Name normalisation: one comparable form per list or query name, computed once.

Matching compares *forms*, never raw strings: the expensive work (Unicode folding, transliteration, legal-form
replacement, phonetic keys) happens when the index is built, so the hot path only compares short ASCII tokens.
Transliteration, honorific and legal-form data come from ``rigour`` (the library behind OpenSanctions), so the
project does not maintain its own tables; what is added here are the rules that fold the *romanisation variants*
of one Cyrillic name (SFS 4900 Finnish, English, German, French) onto one skeleton.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from dataclasses import dataclass
from enum import IntEnum
from functools import lru_cache
from typing import TypeVar

from rigour._core import person_name_prefixes_list
from rigour.names import (
    NameTypeTag,
    SymbolCategory,
    analyze_names,
    extract_org_types,
    remove_person_prefixes,
    replace_org_types_compare,
)
from rigour.territories import get_territories
from rigour.text import ascii_text, metaphone
from rigour.text.normalize import Normalize

from kyc.countries import folded_country_names
from kyc.matching.chinese import wade_giles_key
from kyc.matching.series import roman_numerals_as_digits
from kyc.matching.spellings import baltic_stem, canonical

_NON_ALNUM = re.compile(r"[^0-9a-z]+")
_DIGITS = re.compile(r"^\d+$")

PARTICLES = frozenset(
    {
        "al", "el", "ul", "ad", "ar", "as", "ash", "at", "az", "bin", "ben", "ibn", "bint", "binti", "abu", "abou",
        "von", "van", "der", "den", "de", "da", "di", "du", "del", "della", "dos", "das", "la", "le", "zu", "ter",
        "ten", "y", "bte", "ould", "uld",
    }
)  # fmt: skip
"""Articles and kinship particles: written, joined or dropped inconsistently across lists, so weighted low."""

ORG_PARTICLES = frozenset({"and", "und", "et", "of", "the", "for", "og", "och", "ja"})
"""Connectives in organisation names (H and M / H & M)."""

_APOSTROPHES = re.compile("['\u2019\u2018\u02bc\u02bb`\u00b4]")

PERSON_TITLES = frozenset(
    {
        "mr", "mrs", "ms", "miss", "dr", "prof", "sir", "lady", "lord", "sheikh", "shaikh", "sheik", "haji", "hajji",
        "mullah", "mulla", "maulavi", "mawlawi", "maulvi", "mufti", "imam", "qari", "general", "gen", "colonel",
        "col", "major", "capt", "captain", "brigadier", "admiral", "h", "e", "his", "her", "excellency",
    }
)  # fmt: skip
"""Honorifics and ranks anywhere in a person name (rigour only strips them at the head)."""


class Part(IntEnum):
    """What a token is, which decides how much it counts."""

    NAME = 0
    PARTICLE = 1
    LEGAL_FORM = 2
    NUMBER = 3
    INITIAL = 4


PART_WEIGHT = {Part.NAME: 1.0, Part.INITIAL: 1.0, Part.PARTICLE: 0.25, Part.LEGAL_FORM: 0.3, Part.NUMBER: 1.0}
"""Per letter: particles (al, bin, von) and legal forms (LLC, Oy) count little, whatever their length."""
_NAME, _PARTICLE, _LEGAL_FORM, _NUMBER, _INITIAL = Part.NAME, Part.PARTICLE, Part.LEGAL_FORM, Part.NUMBER, Part.INITIAL
"""The members as module names: an enum member read through its class costs ten times a global's look-up."""


@dataclass(slots=True)  # not frozen: a million are made per index build, and a frozen one costs 4x to create
class NameForm:
    """A name prepared for comparison; ``original`` is what the list or the customer wrote. Never changed once
    made: the index and its comparisons share each form."""

    original: str
    tokens: tuple[str, ...]
    parts: tuple[Part, ...]
    skeletons: tuple[str, ...]
    numbers: frozenset[str]
    weights: tuple[float, ...]
    """How much each part counts: its length, less for particles and legal forms, 1 for an initial."""
    compact: str
    """The name as written, letters and digits only: ``Al-Tikriti``, ``Al Tikriti`` and ``Altikriti`` agree here."""
    is_person: bool = False

    @property
    def core(self) -> tuple[str, ...]:
        return tuple(t for t, p in zip(self.tokens, self.parts, strict=True) if p in (_NAME, _INITIAL))

    def key_groups(self) -> list[tuple[str, ...]]:
        """Index keys per name part: the part itself, its romanisation skeleton, its phonetic code and its letters
        sorted (survives swapped letters: FAIZ / AFIZ). Keys of one part are alternatives, not extra evidence.
        A country in an organisation name (``ru``) is no key: a query naming it (Venäjän VTB) would rank every
        listed entity of the country above the one it names."""
        person = self.is_person
        groups = [
            group
            for token, part in zip(self.tokens, self.parts, strict=True)
            if (group := part_keys(token, part, person)) is not None
        ]
        if not groups:  # a name made only of particles or legal forms still needs to be findable
            groups = [(t,) for t in self.tokens if t]
        return groups

    def index_keys(self) -> set[str]:
        return {key for group in self.key_groups() for key in group}


@lru_cache(maxsize=262144)
def part_keys(token: str, part: Part, person: bool) -> tuple[str, ...] | None:
    """The index keys of one name part (see ``NameForm.key_groups``), or None for a part that is no key."""
    if part is _NAME and len(token) > 1:
        if person:
            return _token_keys(token)
        if len(token) >= 6:
            return _org_token_keys(token)
        if len(token) > 2 or token not in _country_codes():
            return _token_keys(token)
        return None
    if part is _NUMBER:
        return (token,)
    return None


@lru_cache(maxsize=65536)
def _org_token_keys(token: str) -> tuple[str, ...]:
    """A long word of an organisation name is also found by its first and its last four letters: a typo in the
    one distinctive word (Daltratsgaz, Globexbafk) changes its spelling, skeleton, sound and letters at once, and
    an organisation has no given name and birth date to be found by instead. (Only organisations: their names
    are a minority of the lists, so the index grows little.)

    In a word of six or seven letters those two keys leave the middle open (a letter changed there breaks both:
    Tabriz / Tagriz, Shiraz / Shigaz), so such a word is also found by its outer two letters on each side and its
    length: with the other two, every single replaced letter keeps one key (two swapped letters keep the sorted
    letters)."""
    keys = (*_token_keys(token), "^" + token[:4], "$" + token[-4:])
    if len(token) <= MIDDLE_KEY_LENGTH:
        keys = (*keys, f"*{token[:2]}{len(token)}{token[-2:]}")
    return keys


MIDDLE_KEY_LENGTH = 7
"""The longest organisation word given the outer-letters key: from eight letters the first and last four overlap
every position."""


@lru_cache(maxsize=1)
def _country_codes() -> frozenset[str]:
    """Two-letter country codes, as rigour writes a country in an organisation name (Bank of Russia: ``ru``)."""
    return frozenset(t.code for t in get_territories() if len(t.code) == 2)


@lru_cache(maxsize=262144)
def _token_keys(token: str) -> tuple[str, ...]:
    keys: tuple[str, ...] = (token, "~" + skeleton(token), "#" + phonetic(token))
    if len(token) > 3:
        keys = (*keys, "@" + "".join(sorted(token)))
    variant = canonical(token)
    if variant is not None:  # Park is found by Pak, Kassem by Qasim
        keys = (*keys, "=" + variant)
    stem = baltic_stem(skeleton(token))
    if stem is not None:  # Lavrov is found by Lavrovs
        keys = (*keys, "~" + stem)
    chinese = wade_giles_key(token)
    if chinese is not None:  # Xi is found by Hsi, Zedong by Tsetung
        keys = (*keys, "%" + chinese)
    return keys


def fold(text: str) -> str:
    """NFKC, case folding and transliteration to lower-case ASCII (Cyrillic, Greek, Arabic, extended Latin…).

    ``ä ö å ø æ`` become ``a o a o ae``: Finnish and Scandinavian names are written both ways in lists. Done
    word by word with a cache: words repeat across names far more than whole names do.
    """
    return " ".join(_fold_word(word) for word in text.split())


@lru_cache(maxsize=262144)
def _word_tokens(word: str) -> tuple[str, ...]:
    """The name parts one written word folds to (``al-Tikriti``: al, tikriti), in order; a name's parts are its
    words' parts, and its spaceless form their concatenation."""
    return tuple(t for t in _NON_ALNUM.split(_fold_word(word)) if t)


@lru_cache(maxsize=262144)
def _fold_word(word: str) -> str:
    folded = unicodedata.normalize("NFKC", word).casefold()
    if folded.isascii():
        return folded
    # The transliterator writes letters it has no Latin for, ʿayn and hamza (ع ء), as "?": dropped, so طعان is one
    # part (tan), not "t" and "an". Punctuation (the katakana middle dot of バラク・オバマ) still separates parts.
    spaced = "".join(ch if ch.isalnum() or unicodedata.category(ch)[0] == "M" else " " for ch in folded)
    return ascii_text(spaced).lower().replace("?", "")


_SKELETON_RULES: tuple[tuple[re.Pattern[str], str, str], ...] = tuple(
    (re.compile(pattern), replacement, needs)
    for pattern, replacement, needs in (
        (r"^abd(?:ou|[aeiou])l", "abdul", "abd"),  # عبد ال: Abdel, Abdul, Abdal, Abdoul (Abd al- joined by name_form)
        (r"schtsch|shch|chtch|shtsh|stsh|sts(?=[aeiou])", "s", ""),  # щ in German, English, French, SFS 4900
        (r"tsch|tch|tsh", "c", "t"),  # ч (German, French, SFS 4900 tš)
        (r"sch|sh|zh", "s", "h"),  # ш, ж
        (r"kh", "h", "kh"),  # х (English, French) = h (SFS 4900)
        (r"ch(?=[^aeiouy]|$)", "h", "ch"),  # German х at a syllable end: Michail
        (r"ch", "c", "ch"),  # ч (English)
        (r"ts|tz", "c", "t"),  # ц
        (r"z", "s", "z"),  # з is s in German; ж is ž (ascii z) in SFS 4900
        (r"^(?:je|ye|ie|e)", "e", ""),  # initial е: Jevgeni / Yevgeny / Ievgueni / Evgenij
        (r"ou", "u", "ou"),  # French у
        (r"gu(?=[ei])", "g", "gu"),  # French г before e/i
        (r"w", "v", "w"),  # German в
        (r"(?:iy|ij|yj|ii|yi|y|j)$", "i", ""),  # final -ий/-ый/-ой
        (r"j|y", "i", ""),  # я ю ё й: ja/ya/ia, ju/yu/iu
        (r"x", "ks", "x"),
        (r"(.)\1+", r"\1", ""),  # doubled letters
    )
)
"""Each rule with a substring it cannot apply without ("" for always tried): most tokens skip most rules."""


@lru_cache(maxsize=262144)
def skeleton(token: str) -> str:
    """Fold the romanisation variants of one Cyrillic name onto one spelling (Jevgeni, Yevgeny, Evgenij -> evgeni).

    Applied to ASCII tokens of any origin: it only merges spellings that transliteration systems disagree on.
    (Arabic and Korean spellings that no letter rule folds are groups of ``kyc.matching.spellings``, compared
    apart: a skeleton also measures typos, and Yu the Korean given name is not Ryu the surname's typo.)
    """
    if len(token) < 2 or token.isdigit():
        return token
    out = token
    for pattern, replacement, needs in _SKELETON_RULES:
        if needs in out:
            out = pattern.sub(replacement, out)
    return out or token


@lru_cache(maxsize=262144)
def phonetic(token: str) -> str:
    """Metaphone code of the skeleton: typos and vowel variants mostly keep it, so it feeds candidate retrieval."""
    return metaphone(skeleton(token)) or token


def _split_legal(text: str) -> tuple[str, set[str]]:
    """Replace legal forms (Oy, Oyj, GmbH, ООО, PAO, Limited Liability Company…) by rigour's generic form."""
    found = extract_org_types(text, normalize_flags=Normalize.CASEFOLD, generic=True)
    if not found:
        return text, set()
    replaced = replace_org_types_compare(text, normalize_flags=Normalize.CASEFOLD, generic=True)
    legal: set[str] = set()
    for _alias, generic in found:
        legal.update(_NON_ALNUM.split(fold(generic)))
    legal.discard("")
    return replaced, legal


def name_form(value: str, schema: str) -> NameForm:
    """Prepare one name. ``schema`` decides whether titles (persons) or legal forms (organisations) are removed."""
    is_person = schema == "Person"
    text = prepared_text(value, is_person)
    if is_person and (plain := _plain_person_parts(text)):
        return _from_parts(value, plain, "", True)
    return ruled_form(value, text, is_person)


def prepared_text(value: str, is_person: bool) -> str:
    """The text ``name_form`` reads its parts from: NFKC, apostrophes dropped, a person's leading honorific
    removed (rigour), case folded."""
    text = _APOSTROPHES.sub("", unicodedata.normalize("NFKC", value))  # SA'D = SAD, Qa'ida = Qaida
    if is_person and _may_have_prefix(text):
        text = remove_person_prefixes(text)
    return text.casefold()


def ruled_form(value: str, text: str, is_person: bool) -> NameForm:
    """``name_form`` by its every rule, from ``prepared_text``: organisation analysis, acronyms, Abd al- joined,
    titles dropped. For a person name with no ``abd`` and no title, ``_plain_person_parts`` gives the same form
    from its word cache."""
    raw_tokens = [token for word in text.split() for token in _word_tokens(word)]
    compact = "".join(raw_tokens)
    if not is_person:
        analysed = _org_parts(text)
        if analysed:
            return _build(value, [t for t, _ in analysed], [p for _, p in analysed], compact, False)
    if not is_person:
        raw_tokens = _join_acronym(raw_tokens)
    elif "abd" in raw_tokens:
        raw_tokens = _join_abd(raw_tokens)
    if is_person and len(raw_tokens) > 2 and not PERSON_TITLES.isdisjoint(raw_tokens):
        tokens = [token for token in raw_tokens if token not in PERSON_TITLES]
    else:
        tokens = raw_tokens
    if not tokens:  # e.g. a name made only of a title: keep what was written rather than nothing
        tokens = raw_tokens or [fold(value) or value.casefold()]
        return _build(value, tokens, [_NAME] * len(tokens), compact, is_person)
    if len(tokens) < len(raw_tokens):
        compact = "".join(tokens)  # titles dropped
    return _from_parts(value, [_token_part(token, is_person) for token in tokens], compact, is_person)


@lru_cache(maxsize=1)
def _prefix_words() -> frozenset[str]:
    return frozenset(p.split()[0].rstrip(".").casefold() for p in person_name_prefixes_list() if p.strip())


def _may_have_prefix(text: str) -> bool:
    """rigour's prefix regex is slow on every name; most names start with no honorific at all."""
    words = text.split(None, 1)
    return bool(words) and _is_prefix_word(words[0])


@lru_cache(maxsize=65536)
def _is_prefix_word(word: str) -> bool:
    """Whether a first word may open an honorific (Mr., Dr): asked once per distinct first word."""
    return word.rstrip(".").casefold() in _prefix_words()


def _plain_person_parts(text: str) -> list[_PartInfo] | None:
    """A person name's parts when none of its words needs ``name_form``'s further rules (Abd al- joined, titles
    dropped), word by word from a cache: nearly every listed name, and words recur far more than names."""
    infos: list[_PartInfo] = []
    for word in text.split():
        word_infos = _person_word(word)
        if word_infos is None:
            return None
        infos.extend(word_infos)
    return infos


@lru_cache(maxsize=262144)
def _person_word(word: str) -> tuple[_PartInfo, ...] | None:
    """One written word's parts in a person name, or None if it holds ``abd`` or a title: those change with
    their neighbours (Abd al-, a title dropped only from names of three parts or more), so ``ruled_form`` reads
    them."""
    tokens = _word_tokens(word)
    if "abd" in tokens or not PERSON_TITLES.isdisjoint(tokens):
        return None
    return tuple(_token_part(token, True) for token in tokens)


def _org_parts(text: str) -> list[tuple[str, Part]]:
    """Organisation names through rigour's name analysis: legal forms (Oy, GmbH, ООО, Gesellschaft mit
    beschränkter Haftung) to one generic form, company words (Corp., Corporation, Company) to one symbol,
    number words and ordinals (Forty-Four, 1st, First) to digits, acronyms (A.B.C.) to one part."""
    text, _legal = _split_legal(roman_numerals_as_digits(text))  # rigour's alias table holds the forms as written
    # ASCII before the analysis, so that Société and Societe get the same symbols.
    analysed = analyze_names(NameTypeTag.ORG, [nordic_org_words(fold(text))], consolidate=False, phonetics=False)
    if not analysed:
        return []
    name = next(iter(analysed))
    forms = {p.index: p.form for p in name.parts}
    replaced: dict[int, tuple[str, Part]] = {}
    dropped: set[int] = set()
    spans = sorted(name.spans, key=lambda sp: (-len(sp.parts), str(sp.symbol)))
    for span in spans:
        category = span.symbol.category
        indexes = [p.index for p in span.parts]
        if any(i in replaced or i in dropped for i in indexes):
            continue
        if category == SymbolCategory.NUMERIC:
            replaced[indexes[0]] = (str(span.symbol.id), _NUMBER)
            dropped.update(indexes[1:])
        elif category == SymbolCategory.LOCATION:  # United States / U.S. -> us
            replaced[indexes[0]] = (str(span.symbol.id).lower(), _NAME)
            dropped.update(indexes[1:])
        elif category in (SymbolCategory.ORG_CLASS, SymbolCategory.SYMBOL) and len(indexes) == 1:
            ids = sorted(str(sp.symbol.id) for sp in name.spans if [p.index for p in sp.parts] == indexes
                         and sp.symbol.category == category)  # fmt: skip
            replaced[indexes[0]] = (ids[0].lower(), _LEGAL_FORM)
    out: list[tuple[str, Part]] = []
    for index in sorted(forms):
        if index in dropped:
            continue
        if index in replaced:
            out.append(replaced[index])
            continue
        form = forms[index]  # a part of the folded text: ASCII already, unless rigour rewrote it
        for token in _NON_ALNUM.split(form if form.isascii() else fold(form)):
            if token:
                out.append((token, _classify(token, False)))
    return out


_NORDIC_GENERIC = {
    "ryhma": "group", "konserni": "group", "yhtyma": "group", "grupp": "group", "gruppen": "group",
    "koncern": "group", "koncernen": "group", "yhtio": "company", "bolag": "company", "bolaget": "company",
    "jarjesto": "organization", "organisationen": "organization",
}  # fmt: skip
"""Finnish and Swedish generic words of organisation names (``Wagner-ryhmä``, ``Wagnergruppen``, ``Gazprom-
konserni``), written as the English words rigour's organisation symbols already know (group, company,
organization), so that they count as the generic words they are rather than as distinctive names."""
_NORDIC_SUFFIX = re.compile(r"^([a-z0-9]{4,}?)(gruppen|koncernen|konserni|ryhma|yhtio|jarjesto)$")
_NORDIC_HINT = re.compile("|".join(sorted(_NORDIC_GENERIC)))
_GENITIVE_STEMS = (("in", ""), ("kin", "kki"), ("n", ""), ("s", ""))
"""Finnish genitive (Venäjän, Iranin, Turkin) and Swedish genitive (Rysslands, Kinas) endings, and what the
nominative ends with instead."""


def nordic_org_words(folded: str) -> str:
    """An organisation name as Finnish and Swedish text writes it, brought to the words lists use: generic words
    (ryhmä, konserni, grupp, koncern, yhtiö, järjestö) as their English equivalents, whether separate, hyphenated
    or compounded, and a country's genitive before the name (``Venäjän Gazprom``, ``Rysslands Gazprom``) as the
    country's code, which rigour reads as a location: it stays a part of the name, a short one."""
    words = folded.split()
    if len(words) > 2 and (joined := _genitive_country(f"{words[0]}-{words[1]}")) is not None:
        words = [joined, *words[2:]]  # Valko-Venäjän, Pohjois-Korean: the hyphen is a space by now
    if not words:
        return folded
    if _NORDIC_HINT.search(folded) is None:  # nearly every name: at most the first word to look at
        if len(words) > 1 and (code := _genitive_country(words[0])) is not None:
            words[0] = code
        return " ".join(words)
    out: list[str] = []
    for k, word in enumerate(words):
        pieces = word.split("-")
        for i, piece in enumerate(pieces):
            generic = _NORDIC_GENERIC.get(piece)
            if generic is not None:
                pieces[i] = generic
                continue
            compound = _NORDIC_SUFFIX.match(piece)
            if compound is not None and compound.group(1) not in _NORDIC_GENERIC:
                pieces[i] = f"{compound.group(1)} {_NORDIC_GENERIC[compound.group(2)]}"
        word = "-".join(pieces)
        if k == 0 and len(words) > 1:
            word = _genitive_country(word) or word
        out.append(word)
    return " ".join(out)


@lru_cache(maxsize=8192)
def _genitive_country(word: str) -> str | None:
    """The country code of a Finnish or Swedish genitive country name, or None. (English adjectives made the same
    way, Indian or Syrian, are read alike on both sides.)"""
    if len(word) < 4:
        return None
    names = folded_country_names()
    for ending, nominative in _GENITIVE_STEMS:
        if word.endswith(ending) and len(word) - len(ending) >= 3:
            code = names.get((word[: -len(ending)] + nominative).replace("-", " "))
            if code is not None:
                return code.lower()
    return None


_ABD_ARTICLES = frozenset({"al", "el", "ul", "ol", "ad", "an", "ar", "as", "ash", "at", "az", "en", "er", "es", "ed"})


def _join_abd(tokens: list[str]) -> list[str]:
    """``Abd al-Aziz`` is written ``Abdul Aziz``, ``Abdel Aziz`` or ``Abdulaziz``: the servant (abd) and the
    article are one part, as the other spellings write them (the article's sun-letter forms, ar-, as-, included)."""
    out: list[str] = []
    k = 0
    while k < len(tokens):
        if tokens[k] == "abd" and k + 1 < len(tokens) and tokens[k + 1] in _ABD_ARTICLES:
            out.append("abd" + tokens[k + 1])
            k += 2
            continue
        out.append(tokens[k])
        k += 1
    return out


def _join_acronym(tokens: list[str]) -> list[str]:
    """``A.B.C. Company`` -> ``abc company``: letters of an acronym are one part, and their order matters."""
    out: list[str] = []
    run: list[str] = []
    for token in [*tokens, ""]:
        if len(token) == 1 and token.isalpha():
            run.append(token)
            continue
        if run:
            out.append("".join(run))
            run = []
        if token:
            out.append(token)
    return out


def _classify(token: str, is_person: bool) -> Part:
    if _DIGITS.match(token):
        return _NUMBER
    if token in PARTICLES or (not is_person and token in ORG_PARTICLES):
        return _PARTICLE
    if len(token) == 1 and is_person:
        return _INITIAL
    return _NAME


_T = TypeVar("_T")
_SHARED: dict[tuple[Part, ...], tuple[Part, ...]] = {}
_SHARED_WEIGHTS: dict[tuple[float, ...], tuple[float, ...]] = {}
_SHARED_WEIGHTS_UP_TO = 4
"""Weights of names of up to this many parts are shared: a few thousand length patterns cover a million such
names (one tuple fewer per name to keep and for the collector to visit); longer ones are too varied."""
_SHARED_LIMIT = 65536
"""Patterns each table keeps at most: queries are normalised too, and crafted ones must not grow it for ever."""


def _share(table: dict[tuple[_T, ...], tuple[_T, ...]], value: tuple[_T, ...]) -> tuple[_T, ...]:
    """``value`` added to the table, when the table has room (called for a value not in it yet)."""
    if len(table) < _SHARED_LIMIT:
        table[value] = value
    return value


_NO_NUMBERS: frozenset[str] = frozenset()
_PartInfo = tuple[str, Part, str, float]


@lru_cache(maxsize=262144)
def _part_info(token: str, part: Part) -> _PartInfo:
    """What a form holds of one part: the token (one string object per distinct part, index-wide), its part,
    skeleton and weight. Name parts recur across a million names, so each is worked out once."""
    interned = sys.intern(token)
    weight = 1.0 if part is _INITIAL else PART_WEIGHT[part] * len(interned)
    return interned, part, skeleton(interned), weight


@lru_cache(maxsize=262144)
def _token_part(token: str, is_person: bool) -> _PartInfo:
    return _part_info(token, _classify(token, is_person))


def _build(original: str, tokens: list[str], parts: list[Part], compact: str, is_person: bool) -> NameForm:
    return _from_parts(original, [_part_info(t, p) for t, p in zip(tokens, parts, strict=True)], compact, is_person)


def _from_parts(original: str, infos: list[_PartInfo], compact: str, is_person: bool) -> NameForm:
    interned, part_tuple, skeletons, weights = zip(*infos, strict=True)
    numbers = _NO_NUMBERS
    if _NUMBER in part_tuple:
        numbers = frozenset(t for t, p in zip(interned, part_tuple, strict=True) if p is _NUMBER)
    return NameForm(  # by position: a million are made per index build
        original,
        interned,
        _SHARED.get(part_tuple) or _share(_SHARED, part_tuple),  # a million names share a few dozen patterns
        interned if skeletons == interned else skeletons,
        numbers,
        (_SHARED_WEIGHTS.get(weights) or _share(_SHARED_WEIGHTS, weights))
        if len(weights) <= _SHARED_WEIGHTS_UP_TO
        else weights,
        compact or "".join(interned),
        is_person,
    )


_LETTER_RULES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), replacement)
    for pattern, replacement in (
        (r"th", "t"),  # ث
        (r"dh", "d"),  # ذ
        (r"sh|ch", "s"),  # ش (English sh, French ch)
        (r"zh", "j"),  # ژ
        (r"x", "ks"),
        (r"kh", "x"),  # خ, a letter of its own (Khudair is not Qadiri)
        (r"gh", "g"),  # غ
        (r"ph", "f"),
        (r"p", "b"),  # Arabic has no p: Pérez is written بيريز
        (r"v", "f"),
        (r"z", "s"),  # ز ظ / s
        (r"[qc]", "k"),  # ق ك
        (r"g", "j"),  # Egyptian Gamal = جمال
        (r"([^aeiou])\1+", r"\1"),  # doubled consonants (shadda is not written); oo, ee mark long vowels
    )
)


@lru_cache(maxsize=65536)
def _letters(token: str) -> str:
    """One spelling per Arabic letter for a romanised part, vowels kept."""
    out = token
    for pattern, replacement in _LETTER_RULES:
        out = pattern.sub(replacement, out)
    return out


_LONG_VOWELS = {"a": "[ae]", "w": "(?:[ouw]+|aw|au)", "y": "(?:[iey]+|ai|ei)"}
"""Alif, waw and ya: written long vowels (or the consonants w, y), which the Latin spelling must show."""


@lru_cache(maxsize=65536)
def arabic_reading(word: str) -> re.Pattern[str]:
    """The Latin spellings one word written in the Arabic script can stand for.

    The Arabic script is an abjad: short vowels are not written, long ones are (alif, waw, ya). ``فرناندو``
    romanises to *frnandw*, far from *Fernando* as spelt; read as an abjad it is f, r, n, a, n, d, w with at most one
    short vowel between letters, which *fernando* fits and *fernandez* does not. Each letter is romanised on its
    own (rigour's transliteration), so د + ح stays two letters instead of reading as the digraph *dh*. A written
    long vowel must be in the Latin spelling (محمود is Mahmoud, محمد is not), no vowel follows the last letter
    unless written (رشيد is Rashid, not Rashida; a silent e as in Thérèse is allowed), a word starting with the
    article (الفتاح) loses it, since the Latin side writes it as a separate particle, an initial alif (a hamza
    seat) may be silent, a final ta marbuta (ة) reads as -a, -ah or -at and an alif maqsura (ى) as a long a.
    """
    units = [(ch, _letter_unit(ch)) for ch in word]
    units = [(ch, unit) for ch, unit in units if unit]  # ʿayn and hamza have no Latin letter
    if len(units) > 4 and units[0][1] == "a" and units[1][1] == "l":
        units = units[2:]
    parts: list[str] = []
    previous = ""
    for k, (ch, unit) in enumerate(units):
        if ch == "\u0629":
            piece = "(?:[ae]?t|[ae]h?)"
        elif ch == "\u0649":  # alif maqsura, a long a: Yahya, Musa, Mustafa
            piece = "(?:y?a|[aei])"
        else:
            piece = _LONG_VOWELS.get(unit, re.escape(unit))
            if k == 0 and unit == "a":
                piece += "?"
        if piece == previous:  # two equal letters in a row read as one
            continue
        previous = piece
        parts.append(piece)
    return re.compile("[aeiou]?" + "[aeiou]?".join(parts) + "(?:h|e)?")


@lru_cache(maxsize=1024)
def _letter_unit(ch: str) -> str:
    """One Arabic-script letter as one Latin letter class (see ``_LETTER_RULES``); "" for ʿayn and hamza."""
    romanised = _NON_ALNUM.sub("", ascii_text(ch).lower())
    return _letters(romanised)[:1] if romanised else ""


_SCRIPT_WORDS = re.compile(r"[^\W\d_]+")


def read_as_latin(arabic: NameForm, latin: NameForm) -> NameForm | None:
    """``arabic`` part by part, each word that can be read as a part of ``latin`` (see ``arabic_reading``) spelt
    as that part, so that the usual part alignment compares the two names; None when no word can."""
    words = arabic_words(arabic.original)
    targets = [(t, _letters(t)) for t, p in zip(latin.tokens, latin.parts, strict=True) if p is _NAME]
    tokens: list[str] = []
    changed = False
    for folded, _part, pattern in words:
        if pattern is not None:
            read = next((target for target, spelt in targets if pattern.fullmatch(spelt)), None)
            if read is not None:
                tokens.append(read)
                changed = True
                continue
        tokens.append(folded)
    if not changed:
        return None
    return _build(arabic.original, tokens, [p for _, p, _ in words], "".join(tokens), arabic.is_person)


@lru_cache(maxsize=4096)
def arabic_words(original: str) -> tuple[tuple[str, Part, re.Pattern[str] | None], ...]:
    """The words of a name in the Arabic script: romanised, classified and, for name parts, their abjad reading.
    Computed once per name: a query is read against every Latin candidate."""
    out: list[tuple[str, Part, re.Pattern[str] | None]] = []
    for word in _SCRIPT_WORDS.findall(unicodedata.normalize("NFKC", original)):
        folded = _NON_ALNUM.sub("", _fold_word(word))
        if folded:
            part = _classify(folded, True)
            out.append((folded, part, arabic_reading(word) if part is _NAME else None))
    return tuple(out)
