# Over 400 lines: the name comparison is one hot path; splitting it would cost calls per candidate pair.
"""Scoring: how similar two prepared names are, and what the other facts of a query say about an entry.

Names are compared part by part, not as strings: lists print the same person as ``SALEK, Abdulhai``,
``Abdulhai Salek`` or ``A. Salek``, so the score aligns each query part with its best list part (order-insensitive),
lets initials stand for names, forgives a missing middle name more than a wrong one, and falls back to the
spaceless form for joined and split parts (Al-Tikriti / Altikriti).
"""

from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache
from typing import NamedTuple

from rapidfuzz.distance import OSA
from rigour.text.scripts import text_scripts

from kyc.entry import Entry, PartialDate
from kyc.matching.chinese import CHINESE_INITIALS, same_chinese_name
from kyc.matching.given_names import is_nickname_of, is_patronymic_of
from kyc.matching.identifiers import identifier_key, matching_identifier
from kyc.matching.model import FeatureWeights, Query
from kyc.matching.normalize import NameForm, Part, arabic_words, read_as_latin, skeleton
from kyc.matching.series import later_in_series
from kyc.matching.spellings import VARIANTS, baltic_form

MISSING_PART_WEIGHT = 0.2
MISSING_ORG_WORD_WEIGHT = 0.7
"""Organisations: an extra word is often another company (Siemens / Siemens Healthineers), so it counts more."""
CONFLICT_WEIGHT = 2.0
"""Unmatched parts on both sides contradict each other: they count more than their length."""
REORDER_FACTOR = 0.9
JOINED_SIMILARITY = 0.97
"""How much an unmatched part counts when the shorter name is fully matched (a missing middle name)."""
INITIAL_SIMILARITY = 0.75
INITIAL_CONFLICT_WEIGHT = 4.0
"""An initial stands for a whole name: two that disagree (William G. Frost / William W. Frost, middle initials
that tell namesakes apart) contradict as two names of a few letters do, not as two letters."""
MIN_SPLIT_SIMILARITY = 0.85
"""A split part must match its joined partner closely (at most a typo in a long part)."""
KINSHIP_SWAP_FACTOR = 0.75
"""Father and son swapped around bin/ibn (``OMAR BIN ABDULLAH`` / ``ABDULLAH BIN OMAR``): another person."""
MIN_PART_SIMILARITY = 0.5
SKELETON_SIMILARITY = 0.95
NICKNAME_SIMILARITY = 0.9
"""A nickname for its full name (Ted / Theodore): the same name as people use it, a little less sure than a
spelling."""
TYPO_COST = 1.0
NUMBER_CONFLICT = 0.6
NUMBER_MISSING = 0.9


def edit_budget(length: int, same_initial: bool = True) -> int:
    """Typos tolerated in a name part of this length: none in short parts (Ali / Ari are different names), one in
    four letters, two from five when the first letter agrees (Merkur / Merkel, Schulze / Scholz: names misheard or
    misspelt by a customer), two from eight otherwise. Misspellings rarely touch a name's first letter, so two
    changes that include it make another name (Maria / Garcia, Tammy / Larry) rather than a typo."""
    if length < 4:
        return 0
    if length < 5 or (length < 8 and not same_initial):
        return 1
    if length < 13:
        return 2
    return 3


def token_similarity(a: str, b: str, skel_a: str, skel_b: str) -> float:
    """0..1 for two name parts: equal, equal once romanisation variants are folded (by letter rules, or as
    spellings of one Arabic or Korean name), or within a typo budget.

    Beyond the budget two parts are different names (0), however many letters they share: Pedro Sancho is not
    Pedro Sánchez. That strictness is what keeps common given names from producing alerts.
    """
    if a == b:
        return 1.0
    if skel_a == skel_b:
        return SKELETON_SIMILARITY
    group = VARIANTS.get(a)
    if group is not None and group == VARIANTS.get(b):  # Yusuf / Youssef, Pak / Park: one name, two spellings
        return SKELETON_SIMILARITY
    if is_nickname_of(a, b):  # Ted / Theodore, Ben / Benjamin
        return NICKNAME_SIMILARITY
    if same_chinese_name(a, b):  # Hsi / Xi, Tsetung / Zedong: Wade-Giles and Pinyin
        return SKELETON_SIMILARITY
    len_a, len_b = len(a), len(b)
    budget = edit_budget(len_a if len_a < len_b else len_b, a[0] == b[0])
    if abs(len_a - len_b) > budget + 1:
        return 0.0
    best = OSA.distance(a, b, score_cutoff=budget + 1)
    if best and (skel_a is not a or skel_b is not b):  # most parts are their own skeleton: nothing to add
        skel_distance = OSA.distance(skel_a, skel_b, score_cutoff=budget + 1)
        if skel_distance < best:
            best = skel_distance
    if best > budget:
        return 0.0
    if baltic_form(skel_a, skel_b):  # Lavrovs / Lavrov: a Latvian or Lithuanian nominative ending, not a typo
        return SKELETON_SIMILARITY
    if is_patronymic_of(a, b):  # Sancho / Sanchez: a given name and the surname made from it, not a typo
        return 0.0
    return 1.0 - TYPO_COST * best / (len_a if len_a > len_b else len_b)


_NUMBER = Part.NUMBER
_INITIAL = Part.INITIAL
_NAME = Part.NAME
_PARTICLE = Part.PARTICLE
_LEGAL_FORM = Part.LEGAL_FORM
_SIMILARITY_ROWS: dict[str, dict[str, float]] = {}
"""Name parts repeat endlessly (Mohammed, Ali, Ivan): their pairwise similarity is computed once per process. One
row per first part, so that a query part looks its row up once and then each list part by its string alone (no
pair tuple to build and hash per comparison)."""
_CACHE_LIMIT = 500_000
_cached = 0
"""Similarities held in the rows; all rows are dropped when it reaches the limit."""


def _similarity_row(a: str) -> dict[str, float]:
    row = _SIMILARITY_ROWS.get(a)
    if row is None:
        row = _SIMILARITY_ROWS[a] = {}
    return row


def _remember(row: dict[str, float], b: str, sim: float) -> None:
    global _cached
    if _cached >= _CACHE_LIMIT:
        for other in _SIMILARITY_ROWS.values():
            other.clear()
        _cached = 0
    row[b] = sim
    _cached += 1


def _weight(form: NameForm, i: int) -> float:
    return form.weights[i]


class NameScore(NamedTuple):  # immutable, and cheaper to create than a frozen dataclass (one per comparison)
    score: float
    method: str
    pairs: tuple[tuple[str, str, float], ...]


def align(q: NameForm, c: NameForm) -> NameScore:
    """Greedy best-first alignment of parts; score = matched weight over total weight (length-weighted).

    The hottest function of screening (every retrieved slot, every query name): the per-pair similarity is
    written out here rather than called, and the rarer steps (split parts, order, kinship) run only when they
    can apply."""
    q_tokens, c_tokens = q.tokens, c.tokens
    q_parts, c_parts = q.parts, c.parts
    q_weights, c_weights = q.weights, c.weights
    c_range = range(len(c_tokens))
    c_plain = _INITIAL not in c_parts and _NUMBER not in c_parts
    candidates: list[tuple[float, int, int]] = []
    for i, a in enumerate(q_tokens):
        qp = q_parts[i]
        if qp is _NUMBER:  # numbers are compared exactly
            for j in c_range:
                if c_tokens[j] == a:
                    candidates.append((1.0, i, j))
            continue
        if qp is _INITIAL:
            for j in c_range:
                b = c_tokens[j]
                if c_parts[j] is _NUMBER:
                    if b == a:
                        candidates.append((1.0, i, j))
                elif b[0] == a[0]:
                    candidates.append((INITIAL_SIMILARITY, i, j))
            continue
        row = _SIMILARITY_ROWS.get(a)
        if row is None:
            row = _SIMILARITY_ROWS[a] = {}
        if c_plain:  # the usual list name: words only, no initial or number to treat apart
            for j, b in enumerate(c_tokens):
                if a == b:
                    candidates.append((1.0, i, j))
                    continue
                sim = row.get(b)
                if sim is None:
                    sim = token_similarity(a, b, q.skeletons[i], c.skeletons[j])
                    _remember(row, b, sim)
                if sim >= MIN_PART_SIMILARITY:
                    candidates.append((sim, i, j))
            continue
        for j in c_range:
            b = c_tokens[j]
            cp = c_parts[j]
            if cp is _NUMBER:
                if a == b:
                    candidates.append((1.0, i, j))
            elif cp is _INITIAL:
                if a[0] == b[0]:
                    candidates.append((INITIAL_SIMILARITY, i, j))
            elif a == b:
                candidates.append((1.0, i, j))
            else:
                sim = row.get(b)
                if sim is None:
                    sim = token_similarity(a, b, q.skeletons[i], c.skeletons[j])
                    _remember(row, b, sim)
                if sim >= MIN_PART_SIMILARITY:
                    candidates.append((sim, i, j))
    candidates.sort(reverse=True)
    used_q: dict[int, int] = {}
    used_c: set[int] = set()
    matched = 0.0
    total = 0.0
    pairs: list[tuple[str, str, float]] = []
    for sim, i, j in candidates:
        if i in used_q or j in used_c:
            continue
        used_q[i] = j
        used_c.add(j)
        wq, wc = q_weights[i], c_weights[j]
        if q_parts[i] is _INITIAL or c_parts[j] is _INITIAL:
            wq = wc = min(wq, wc)
        matched += sim * (wq + wc)
        total += wq + wc
        pairs.append((q_tokens[i], c_tokens[j], round(sim, 3)))
    if len(used_q) == len(q_tokens):
        q_left: list[int] = []
    else:
        q_left = [i for i in range(len(q_tokens)) if i not in used_q]
    if len(used_c) == len(c_tokens):
        c_left: list[int] = []
    else:
        c_left = [j for j in c_range if j not in used_c]
    if q_left and c_left and (len(q_left) > 1 or len(c_left) > 1):
        for form, left, other, other_left, is_q in ((q, q_left, c, c_left, True), (c, c_left, q, q_left, False)):
            if not _adjacent_names(form.parts, left):  # a split part is two neighbouring unmatched names
                continue
            for k, j, sim in _split_parts(form, left, other, other_left):
                left.remove(k)
                left.remove(k + 1)
                other_left.remove(j)
                w = form.weights[k] + form.weights[k + 1] + other.weights[j]
                matched += sim * w
                total += w
                if is_q:
                    used_q[k] = j
                else:
                    used_q[j] = k
                joined = form.tokens[k] + " " + form.tokens[k + 1]
                pairs.append(
                    (joined, other.tokens[j], round(sim, 3)) if is_q else (other.tokens[j], joined, round(sim, 3))
                )
    if q_left or c_left:
        # Both sides keep a real part: a different name, not a missing one (an unmatched "al" or "LLC" is neither).
        conflict = False
        if q_left and c_left:
            for i in q_left:
                part = q_parts[i]
                if part is not _PARTICLE and part is not _LEGAL_FORM:
                    for j in c_left:
                        part = c_parts[j]
                        if part is not _PARTICLE and part is not _LEGAL_FORM:
                            conflict = True
                            break
                    break
        named = 0
        for i in used_q:
            part = q_parts[i]
            if part is _NAME or part is _INITIAL:
                named += 1
        missing = MISSING_PART_WEIGHT if q.is_person else MISSING_ORG_WORD_WEIGHT
        total += _unmatched_weight(q, q_left, conflict, named, missing)
        total += _unmatched_weight(c, c_left, conflict, named, missing)
    score = matched / total if total else 0.0
    method = "parts"
    if q.is_person and score > ONE_PART_CAP and _one_part_against_more(q, q_left, c, c_left):
        score = ONE_PART_CAP
        method = "parts+one-part"
    if len(used_q) >= 3 and not _in_order(q, used_q):
        score *= REORDER_FACTOR
    if _kinship_swapped(q, c, used_q):
        score *= KINSHIP_SWAP_FACTOR
    return NameScore(score, method, tuple(pairs))


def _adjacent_names(parts: tuple[Part, ...], left: list[int]) -> bool:
    """Two neighbouring name parts in an (ascending) list of unmatched parts: all that a split part can be."""
    previous = -2
    for k in left:
        if k == previous + 1 and parts[k] is _NAME and parts[previous] is _NAME:
            return True
        previous = k
    return False


def _split_parts(
    form: NameForm, left: list[int], other: NameForm, other_left: list[int]
) -> list[tuple[int, int, float]]:
    """A name part split in two on one side (``Patr ushev`` / ``Patrushev``, ``MOHAMMAD HASNI`` /
    ``MOHAMMADHASNI``): two adjacent unmatched parts, joined, are compared with one unmatched part of the other
    name, with the usual typo budget of the joined length, starting with the same letter."""
    found: list[tuple[int, int, float]] = []
    taken: set[int] = set()
    partners: set[int] = set()
    for k in left:
        if k + 1 not in left or k in taken or form.parts[k] is not _NAME or form.parts[k + 1] is not _NAME:
            continue
        joined = form.tokens[k] + form.tokens[k + 1]
        romanised_initials = CHINESE_INITIALS.get(joined[0], "")
        for j in other_left:
            target = other.tokens[j]
            if target[0] != joined[0]:  # the usual miss; unless a romanisation of Chinese: Jinping / Chin-ping
                if target[0] not in romanised_initials or not same_chinese_name(target, joined):
                    continue
            elif len(target) == 2 and form.is_person and target[1] == form.tokens[k + 1][0] and target.isalpha():
                if j not in partners and other.parts[j] is _NAME:  # JC / Jean-Claude: a compound's initials
                    found.append((k, j, INITIAL_SIMILARITY))
                    taken.update((k, k + 1))
                    partners.add(j)
                    break
                continue
            if abs(len(target) - len(joined)) > 2 or j in partners or other.parts[j] is not _NAME:
                continue
            row = _similarity_row(joined)
            sim = row.get(target)
            if sim is None:
                sim = token_similarity(joined, target, skeleton(joined), other.skeletons[j])
                _remember(row, target, sim)
            if sim >= MIN_SPLIT_SIMILARITY:
                found.append((k, j, sim * JOINED_SIMILARITY))
                taken.update((k, k + 1))
                partners.add(j)
                break
    return found


KINSHIP = frozenset({"bin", "ibn", "ben", "bint", "binti", "bte", "ould", "uld"})
"""Arabic and Maghrebi kinship particles: ``OMAR BIN ABDULLAH`` is Omar, son of Abdullah."""


def _kinship_swapped(q: NameForm, c: NameForm, mapping: dict[int, int]) -> bool:
    """``ABDULLAH BIN OMAR`` against ``OMAR BIN ABDULLAH``: the names on both sides of a kinship particle
    swapped places, so the query names the father of the listed person (or his son), not him."""
    if KINSHIP.isdisjoint(q.tokens) or KINSHIP.isdisjoint(c.tokens):  # nearly every pair: no set-up at all
        return False
    for i, token in enumerate(q.tokens):
        if token not in KINSHIP:
            continue
        before = _named_neighbour(q, i, -1)
        after = _named_neighbour(q, i, 1)
        if before is None or after is None or before not in mapping or after not in mapping:
            continue
        if mapping[before] > mapping[after]:
            return True
    return False


def _named_neighbour(form: NameForm, i: int, step: int) -> int | None:
    k = i + step
    while 0 <= k < len(form.tokens):
        if form.parts[k] is _NAME:
            return k
        if form.tokens[k] in KINSHIP:
            return None
        k += step
    return None


def _has_real_part(form: NameForm, indexes: list[int]) -> bool:
    return any(form.parts[i] in _REAL_PARTS for i in indexes)


_REAL_PARTS = (Part.NAME, Part.INITIAL, Part.NUMBER)


def _unmatched_weight(form: NameForm, left: list[int], conflict: bool, matched_count: int, missing: float) -> float:
    """Unmatched parts count fully when they contradict; the extra parts of a name whose every real part on the
    other side found a partner (middle names, a second family name) are missing, not contradicting."""
    weight = 0.0
    for i in left:
        w = form.weights[i]
        part = form.parts[i]
        if part is _NUMBER:
            weight += w * 2  # numbers in names are compared exactly: "Vessel 7" is not "Vessel 8"
        elif part is _PARTICLE or part is _LEGAL_FORM:
            weight += w
        elif conflict:
            weight += (INITIAL_CONFLICT_WEIGHT if part is _INITIAL else w) * CONFLICT_WEIGHT
        elif matched_count >= 2:
            weight += w * missing
        else:
            weight += w
    return weight


def _in_order(q: NameForm, mapping: dict[int, int]) -> bool:
    """Matched parts in the same order, or rotated (``SALEK, Abdulhai``): lists print names both ways, but a
    shuffled order (given name and patronym swapped) is weaker evidence."""
    order = [mapping[i] for i in sorted(mapping) if q.parts[i] in (_NAME, _INITIAL)]
    if len(order) < 3:
        return True
    ranks = sorted(order)
    position = {value: rank for rank, value in enumerate(ranks)}
    sequence = [position[v] for v in order]
    start = sequence[0]
    n = len(sequence)
    return all(sequence[k] == (start + k) % n for k in range(n))


def compare_names(q: NameForm, c: NameForm) -> NameScore:
    """The name score of a pair: part alignment, or the spaceless form for joined/split parts."""
    abjad: NameForm | None = None
    if not q.original.isascii() or not c.original.isascii():  # the common case, two Latin names, costs nothing
        if not q.original.isascii() and not c.original.isascii():
            syllables = _same_syllabic_script(q.original, c.original)
            if syllables is not None:
                return syllables
        if q.is_person:
            if _scripts(q.original) == _ARABIC and (c.original.isascii() or _scripts(c.original) <= _LATIN):
                abjad = q
            elif _scripts(c.original) == _ARABIC and (q.original.isascii() or _scripts(q.original) <= _LATIN):
                abjad = c
    aligned = align(q, c)
    if abjad is not None:
        as_latin = read_as_latin(abjad, c if abjad is q else q)
        if as_latin is not None:
            read = align(as_latin, c) if abjad is q else align(q, as_latin)
            if read.score * ABJAD_FACTOR > aligned.score:
                aligned = NameScore(read.score * ABJAD_FACTOR, "abjad", read.pairs)
    if q.numbers != c.numbers:
        # Numbers are compared exactly ("Vessel 7" is not "Vessel 8"); one side without a number is weaker.
        factor = _number_factor(q, c)
        return NameScore(aligned.score * factor, aligned.method + "+numbers", aligned.pairs)
    if aligned.score < JOINED_SIMILARITY and q.compact and c.compact:
        joined = _joined(q.compact, c.compact)
        if joined > aligned.score:
            return NameScore(joined, "joined", ((q.compact, c.compact, round(joined, 3)),))
    if (
        aligned.score < ACRONYM_SCORE
        and not q.is_person
        and (len(q.tokens) == 1 or len(c.tokens) == 1)
        and (_given_acronym(q, c) or _given_acronym(c, q))
    ):
        return NameScore(ACRONYM_SCORE, "acronym", ((q.compact, c.compact, ACRONYM_SCORE),))
    return aligned


def _number_factor(q: NameForm, c: NameForm) -> float:
    """Different numbers contradict; a number on one side only is weaker evidence, except in an organisation
    name, where it numbers a later member of a series (Fund II is not Fund, the first one)."""
    if q.numbers and c.numbers:
        return NUMBER_CONFLICT if not q.numbers & c.numbers else NUMBER_MISSING
    if not q.is_person and later_in_series(q.numbers or c.numbers):
        return NUMBER_CONFLICT
    return NUMBER_MISSING


ACRONYM_SCORE = 0.9
"""An acronym the list gives for the name (``SHAHID SAYYADE SHIRAZI INDUSTRIES (SSSI)``) counts as a weak alias."""
_PARENTHESISED = re.compile(r"\(([^()]{3,12})\)")


def _given_acronym(short: NameForm, full: NameForm) -> bool:
    """``short`` is one distinctive part (not a generic word such as NGO or LLC) that ``full`` gives in
    parentheses, written in capitals as acronyms are."""
    if len(short.tokens) != 1 or short.parts[0] is not _NAME or "(" not in full.original:
        return False
    token = short.tokens[0]
    return len(token) >= 3 and token in _acronyms(full.original)


@lru_cache(maxsize=65536)
def _acronyms(original: str) -> frozenset[str]:
    found = (m.group(1).strip() for m in _PARENTHESISED.finditer(original))
    return frozenset(
        "".join(ch for ch in text.casefold() if ch.isalnum())
        for text in found
        if text.upper() == text and " " not in text and any(ch.isalpha() for ch in text)
    )


ABJAD_FACTOR = 0.9
"""An Arabic-script name read as a Latin one (see ``normalize.arabic_reading``): short vowels unknown, less sure."""


_ARABIC = frozenset({"Arabic"})
"""Arabic, Persian, Urdu and Pashto names."""
_LATIN = frozenset({"Latin"})


@lru_cache(maxsize=65536)
def _scripts(text: str) -> frozenset[str]:
    return frozenset(text_scripts(text))


SYLLABIC_SCRIPTS = frozenset({"Han", "Hangul"})
"""Scripts whose characters are whole syllables of a name: 习近平, 이재명."""


def written_reading(original: str) -> object:
    """What ``compare_names`` reads of a name as written, beyond its normalised form: None for a name in the Latin
    script (read only through its parts); the words and abjad readings of an Arabic-script name; the characters
    of a name in Chinese characters or Hangul; "other" for any other script (never read as an abjad's Latin
    partner). Two names of one normalised form compare alike with every query exactly when these agree, so the
    engine compares a listed form once per distinct reading, not once per form: "Abu Banat" and "Абу Банат"
    normalise alike, but an Arabic query reads only the first."""
    if original.isascii():
        return None
    scripts = _scripts(original)
    if scripts <= _LATIN:
        return None
    if scripts == _ARABIC:
        words = arabic_words(original)
        return ("abjad", tuple((folded, part, pattern and pattern.pattern) for folded, part, pattern in words))
    letters, syllabic = _syllables(original)
    if len(syllabic) == 1 and syllabic <= SYLLABIC_SCRIPTS:
        return ("syllables", letters)
    return "other"


@lru_cache(maxsize=65536)
def _syllables(text: str) -> tuple[str, frozenset[str]]:
    """The name's letters (punctuation and spaces dropped) and its scripts."""
    letters = "".join(ch for ch in text if ch.isalpha())
    return letters, frozenset(text_scripts(letters))


def _same_syllabic_script(a: str, b: str) -> NameScore | None:
    """Two names both written in Chinese characters, or both in Hangul, are compared character by character.

    Romanisation merges different characters (石 and 市 are both *shi*; 명 and 형 differ by one letter), so
    the transliterated forms would match names that differ by a whole syllable: 高石早苗 is not 高市早苗.
    Each character is one syllable of the name; the score is the share of syllables both names have.
    """
    letters_a, scripts_a = _syllables(a)
    letters_b, scripts_b = _syllables(b)
    if scripts_a != scripts_b or len(scripts_a) != 1 or not scripts_a <= SYLLABIC_SCRIPTS:
        return None
    common = sum((Counter(letters_a) & Counter(letters_b)).values())
    score = 2 * common / (len(letters_a) + len(letters_b))
    return NameScore(score, "syllables", ((letters_a, letters_b, round(score, 3)),))


ONE_PART_CAP = 0.75
"""The most a one-part person name (``Elizabeth``, ``Sarah``) scores against a name of two or more parts."""


def _one_part_against_more(q: NameForm, q_left: list[int], c: NameForm, c_left: list[int]) -> bool:
    """A single given name or surname on one side only confirms one part of a fuller name on the other: it cannot
    tell ``Elizabeth`` the PEP from every customer called Elizabeth, so it never alerts on its own. (A fuller
    name whose parts all found a partner, ``RamiMakhlouf`` / ``Rami Makhlouf``, is not capped.)"""
    if _real_name_parts(q) == 1:
        return _has_real_part(c, c_left)
    if _real_name_parts(c) == 1:
        return _has_real_part(q, q_left)
    return False


def _real_name_parts(form: NameForm) -> int:
    return sum(1 for p in form.parts if p is _NAME or p is _INITIAL)


def _joined(a: str, b: str) -> float:
    """Spaces moved, dropped or added (Al Tikriti / Altikriti, LAUREN TNKUNDA): the spaceless forms are
    compared with a tight typo budget, since a whole-string ratio would also accept different names."""
    longest = max(len(a), len(b))
    budget = 1 if min(len(a), len(b)) >= 8 else 0
    distance = OSA.distance(a, b, score_cutoff=budget + 1)
    if distance > budget:
        return 0.0
    return JOINED_SIMILARITY * (1.0 - distance / longest)


# ---- qualifiers --------------------------------------------------------------------------------------------


APPROXIMATE_YEARS = 3
"""A birth date listed as approximate ("approx. 1970", "circa") agrees with queries this many years either side;
beyond, it contradicts them like any other date."""
FAR_YEARS = 10
"""Birth dates this many years apart are another person (a relative, a namesake), not a typo or a guess."""


def _date_relation(query: str, listed: PartialDate) -> str:
    """'exact', 'partial', 'approximate', 'near' or 'mismatch' for one listed birth date."""
    if listed.end is not None:
        low, high = listed.date[:4], listed.end[:4]
        return "partial" if low <= query[:4] <= high else ("near" if _years_apart(query, listed) <= 1 else "mismatch")
    n = min(len(query), len(listed.date))
    if query[:n] == listed.date[:n]:
        return "exact" if len(query) == len(listed.date) == 10 and not listed.approximate else "partial"
    if listed.approximate:
        return "approximate" if _years_apart(query, listed) <= APPROXIMATE_YEARS else "mismatch"
    if query[:4] == listed.date[:4]:
        return "near" if n == 10 and query[:7] == listed.date[:7] else "mismatch"
    if _years_apart(query, listed) <= 1:
        return "near"
    return "mismatch"


def _years_apart(query: str, listed: PartialDate) -> int:
    year = int(query[:4])
    low = int(listed.date[:4])
    high = int(listed.end[:4]) if listed.end else low
    return 0 if low <= year <= high else min(abs(year - low), abs(year - high))


_DATE_RANK = {"exact": 0, "partial": 1, "approximate": 2, "near": 3, "mismatch": 4}


def birth_date_feature(query: Query, entry: Entry, weights: FeatureWeights) -> tuple[float, str] | None:
    """The closest listed birth date decides: lists give several dates for one person, any of which may be his.
    A contradiction of ``FAR_YEARS`` or more costs more than one of a few years (a wrong year in a document)."""
    if not query.birth_date or not entry.birth_dates:
        return None
    relations = [(_date_relation(query.birth_date, d), d) for d in entry.birth_dates]
    best = min(relations, key=lambda pair: _DATE_RANK[pair[0]])[0]
    if best == "mismatch":
        years = min(_years_apart(query.birth_date, d) for _r, d in relations)
        return (weights.birth_date_far if years >= FAR_YEARS else weights.birth_date_mismatch), best
    value = {
        "exact": weights.birth_date_exact,
        "partial": weights.birth_date_partial,
        "approximate": 0.0,
        "near": weights.birth_date_near,
    }[best]
    return value, best


def nationality_feature(query: Query, entry: Entry, weights: FeatureWeights) -> tuple[float, str] | None:
    if query.nationality is None:
        return None
    listed = set(entry.nationalities)
    if query.nationality in listed:
        return weights.nationality_match, "match"
    if query.nationality in entry.countries:
        return weights.country_match, "country"
    if listed:
        return weights.nationality_mismatch, "mismatch"
    return None


def country_feature(query: Query, entry: Entry, weights: FeatureWeights) -> tuple[float, str] | None:
    if not query.countries:
        return None
    listed = set(entry.countries) | set(entry.nationalities)
    if listed & set(query.countries):
        return weights.country_match, "match"
    return None


def normalise_identifier(value: str) -> str:
    """Document numbers are printed with spaces, dashes and dots, national numbers in variants: one key each."""
    return identifier_key(value)


def identifier_feature(query: Query, entry: Entry, weights: FeatureWeights) -> tuple[float, str] | None:
    if not query.identifiers or not entry.identifiers:
        return None
    found = matching_identifier(query.identifiers, [(i.type, i.number) for i in entry.identifiers])
    if found is None:
        return None
    return weights.identifier_match, f"{found} match"


def gender_feature(query: Query, entry: Entry, weights: FeatureWeights) -> tuple[float, str] | None:
    if query.gender is None or entry.gender is None:
        return None
    if query.gender != entry.gender:
        return weights.gender_mismatch, "mismatch"
    return 0.0, "match"


FEATURES = (
    ("birth_date", birth_date_feature),
    ("nationality", nationality_feature),
    ("country", country_feature),
    ("identifier", identifier_feature),
    ("gender", gender_feature),
)

_COMPATIBLE: dict[str, frozenset[str]] = {
    "Person": frozenset({"Person", "LegalEntity"}),
    "Organization": frozenset({"Organization", "LegalEntity"}),
    "LegalEntity": frozenset({"Person", "Organization", "LegalEntity"}),
    "Vessel": frozenset({"Vessel"}),
    "Aircraft": frozenset({"Aircraft"}),
}


def schema_compatible(query_schema: str, entry_schema: str) -> bool:
    """A person never matches a vessel; an unspecified legal entity may be a person or an organisation."""
    return entry_schema in _COMPATIBLE.get(query_schema, frozenset({query_schema}))
