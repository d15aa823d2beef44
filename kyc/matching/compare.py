"""Scoring: how similar two prepared names are, and what the other facts of a query say about an entry.

Names are compared part by part, not as strings: lists print the same person as ``SALEK, Abdulhai``,
``Abdulhai Salek`` or ``A. Salek``, so the score aligns each query part with its best list part (order-insensitive),
lets initials stand for names, forgives a missing middle name more than a wrong one, and falls back to the
spaceless form for joined and split parts (Al-Tikriti / Altikriti).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from rapidfuzz.distance import OSA

from kyc.entry import Entry, PartialDate
from kyc.matching.model import FeatureWeights, Query
from kyc.matching.normalize import NameForm, Part

MISSING_PART_WEIGHT = 0.2
MISSING_ORG_WORD_WEIGHT = 0.7
"""Organisations: an extra word is often another company (Siemens / Siemens Healthineers), so it counts more."""
CONFLICT_WEIGHT = 2.0
"""Unmatched parts on both sides contradict each other: they count more than their length."""
REORDER_FACTOR = 0.9
JOINED_SIMILARITY = 0.97
"""How much an unmatched part counts when the shorter name is fully matched (a missing middle name)."""
INITIAL_SIMILARITY = 0.75
MIN_PART_SIMILARITY = 0.5
SKELETON_SIMILARITY = 0.95
TYPO_COST = 1.0
NUMBER_CONFLICT = 0.6
NUMBER_MISSING = 0.9


def edit_budget(length: int) -> int:
    """Typos tolerated in a name part of this length: none in short parts (Ali / Ari are different names)."""
    if length < 4:
        return 0
    if length < 8:
        return 1
    if length < 13:
        return 2
    return 3


def token_similarity(a: str, b: str, skel_a: str, skel_b: str) -> float:
    """0..1 for two name parts: equal, equal once romanisation variants are folded, or within a typo budget.

    Beyond the budget two parts are different names (0), however many letters they share: Pedro Sancho is not
    Pedro Sánchez. That strictness is what keeps common given names from producing alerts.
    """
    if a == b:
        return 1.0
    if skel_a == skel_b:
        return SKELETON_SIMILARITY
    longest = max(len(a), len(b))
    budget = edit_budget(min(len(a), len(b)))
    if abs(len(a) - len(b)) > budget + 1:
        return 0.0
    distance = OSA.distance(a, b, score_cutoff=budget + 1)
    skel_distance = OSA.distance(skel_a, skel_b, score_cutoff=budget + 1)
    best = min(distance, skel_distance)
    if best > budget:
        return 0.0
    return 1.0 - TYPO_COST * best / longest


_NUMBER = Part.NUMBER
_INITIAL = Part.INITIAL
_SIMILARITY_CACHE: dict[tuple[str, str], float] = {}
_CACHE_LIMIT = 500_000
"""Name parts repeat endlessly (Mohammed, Ali, Ivan): their pairwise similarity is computed once per process."""


def _pair_similarity(q: NameForm, i: int, c: NameForm, j: int) -> float:
    qp, cp = q.parts[i], c.parts[j]
    a, b = q.tokens[i], c.tokens[j]
    if qp is _NUMBER or cp is _NUMBER:
        return 1.0 if a == b else 0.0
    if qp is _INITIAL or cp is _INITIAL:
        return INITIAL_SIMILARITY if a[0] == b[0] else 0.0
    if a == b:
        return 1.0
    key = (a, b)
    sim = _SIMILARITY_CACHE.get(key)
    if sim is None:
        if len(_SIMILARITY_CACHE) >= _CACHE_LIMIT:
            _SIMILARITY_CACHE.clear()
        sim = _SIMILARITY_CACHE[key] = token_similarity(a, b, q.skeletons[i], c.skeletons[j])
    return sim


def _weight(form: NameForm, i: int) -> float:
    return form.weights[i]


@dataclass(frozen=True, slots=True)
class NameScore:
    score: float
    method: str
    pairs: tuple[tuple[str, str, float], ...]


def align(q: NameForm, c: NameForm) -> NameScore:
    """Greedy best-first alignment of parts; score = matched weight over total weight (length-weighted)."""
    candidates: list[tuple[float, int, int]] = []
    for i in range(len(q.tokens)):
        for j in range(len(c.tokens)):
            sim = _pair_similarity(q, i, c, j)
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
        wq, wc = q.weights[i], c.weights[j]
        if q.parts[i] is _INITIAL or c.parts[j] is _INITIAL:
            wq = wc = min(wq, wc)
        matched += sim * (wq + wc)
        total += wq + wc
        pairs.append((q.tokens[i], c.tokens[j], round(sim, 3)))
    q_left = _unmatched(q, used_q.keys())
    c_left = _unmatched(c, used_c)
    # Both sides keep a real part: a different name, not a missing one (an unmatched "al" or "LLC" is neither).
    conflict = _has_real_part(q, q_left) and _has_real_part(c, c_left)
    named = sum(1 for i in used_q if q.parts[i] in (Part.NAME, Part.INITIAL))
    missing = MISSING_PART_WEIGHT if q.is_person else MISSING_ORG_WORD_WEIGHT
    total += _unmatched_weight(q, q_left, conflict, named, missing)
    total += _unmatched_weight(c, c_left, conflict, named, missing)
    score = matched / total if total else 0.0
    if not _in_order(q, used_q):
        score *= REORDER_FACTOR
    return NameScore(score, "parts", tuple(pairs))


def _has_real_part(form: NameForm, indexes: list[int]) -> bool:
    return any(form.parts[i] in _REAL_PARTS for i in indexes)


_REAL_PARTS = (Part.NAME, Part.INITIAL, Part.NUMBER)


def _unmatched(form: NameForm, used: Iterable[int]) -> list[int]:
    taken = set(used)
    return [i for i in range(len(form.tokens)) if i not in taken]


def _unmatched_weight(form: NameForm, left: list[int], conflict: bool, matched_count: int, missing: float) -> float:
    """Unmatched parts count fully when they contradict; the extra parts of a name whose every real part on the
    other side found a partner (middle names, a second family name) are missing, not contradicting."""
    weight = 0.0
    for i in left:
        w = form.weights[i]
        part = form.parts[i]
        if part is Part.NUMBER:
            weight += w * 2  # numbers in names are compared exactly: "Vessel 7" is not "Vessel 8"
        elif part in (Part.PARTICLE, Part.LEGAL_FORM):
            weight += w
        elif conflict:
            weight += w * CONFLICT_WEIGHT
        elif matched_count >= 2:
            weight += w * missing
        else:
            weight += w
    return weight


def _in_order(q: NameForm, mapping: dict[int, int]) -> bool:
    """Matched parts in the same order, or rotated (``SALEK, Abdulhai``): lists print names both ways, but a
    shuffled order (given name and patronym swapped) is weaker evidence."""
    order = [mapping[i] for i in sorted(mapping) if q.parts[i] in (Part.NAME, Part.INITIAL)]
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
    aligned = align(q, c)
    if q.numbers != c.numbers:
        # Numbers are compared exactly ("Vessel 7" is not "Vessel 8"); one side without a number is weaker.
        factor = NUMBER_CONFLICT if q.numbers and c.numbers and not q.numbers & c.numbers else NUMBER_MISSING
        return NameScore(aligned.score * factor, aligned.method + "+numbers", aligned.pairs)
    if aligned.score < JOINED_SIMILARITY and q.compact and c.compact:
        joined = _joined(q.compact, c.compact)
        if joined > aligned.score:
            return NameScore(joined, "joined", ((q.compact, c.compact, round(joined, 3)),))
    return aligned


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


def _date_relation(query: str, listed: PartialDate) -> str:
    """'exact', 'partial', 'near' or 'mismatch' for one listed birth date."""
    if listed.end is not None:
        low, high = listed.date[:4], listed.end[:4]
        return "partial" if low <= query[:4] <= high else ("near" if _years_apart(query, listed) <= 1 else "mismatch")
    n = min(len(query), len(listed.date))
    if query[:n] == listed.date[:n]:
        return "exact" if len(query) == len(listed.date) == 10 else "partial"
    if query[:4] == listed.date[:4]:
        return "near" if n == 10 and query[:7] == listed.date[:7] else "mismatch"
    if listed.approximate or _years_apart(query, listed) <= 1:
        return "near"
    return "mismatch"


def _years_apart(query: str, listed: PartialDate) -> int:
    year = int(query[:4])
    low = int(listed.date[:4])
    high = int(listed.end[:4]) if listed.end else low
    return 0 if low <= year <= high else min(abs(year - low), abs(year - high))


_DATE_RANK = {"exact": 0, "partial": 1, "near": 2, "mismatch": 3}


def birth_date_feature(query: Query, entry: Entry, weights: FeatureWeights) -> tuple[float, str] | None:
    if not query.birth_date or not entry.birth_dates:
        return None
    best = min((_date_relation(query.birth_date, d) for d in entry.birth_dates), key=_DATE_RANK.__getitem__)
    value = {
        "exact": weights.birth_date_exact,
        "partial": weights.birth_date_partial,
        "near": weights.birth_date_near,
        "mismatch": weights.birth_date_mismatch,
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
    """Document numbers are printed with spaces, dashes and dots; compare only letters and digits."""
    return "".join(ch for ch in value.upper() if ch.isalnum())


def identifier_feature(query: Query, entry: Entry, weights: FeatureWeights) -> tuple[float, str] | None:
    if not query.identifiers or not entry.identifiers:
        return None
    wanted = {normalise_identifier(v) for v in query.identifiers} - {""}
    for ident in entry.identifiers:
        number = normalise_identifier(ident.number)
        if len(number) >= 6 and number in wanted:
            return weights.identifier_match, f"{ident.type} match"
    return None


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
