"""Scoring: how similar two prepared names are, and what the other facts of a query say about an entry.

Names are compared part by part, not as strings: lists print the same person as ``SALEK, Abdulhai``,
``Abdulhai Salek`` or ``A. Salek``, so the score aligns each query part with its best list part (order-insensitive),
lets initials stand for names, forgives a missing middle name more than a wrong one, and falls back to the
spaceless form for joined and split parts (Al-Tikriti / Altikriti).
"""

from __future__ import annotations

from dataclasses import dataclass

from rapidfuzz.distance import OSA, JaroWinkler
from rapidfuzz.fuzz import ratio

from kyc.entry import Entry, PartialDate
from kyc.matching.model import FeatureWeights, Query
from kyc.matching.normalize import NameForm, Part

_PART_WEIGHT = {Part.NAME: 1.0, Part.INITIAL: 1.0, Part.PARTICLE: 0.25, Part.LEGAL_FORM: 0.3, Part.NUMBER: 1.0}
MISSING_PART_WEIGHT = 0.35
"""How much an unmatched part counts when the shorter name is fully matched (a missing middle name)."""
INITIAL_SIMILARITY = 0.75
MIN_PART_SIMILARITY = 0.55
NUMBER_CONFLICT = 0.6
NUMBER_MISSING = 0.9


def token_similarity(a: str, b: str, skel_a: str, skel_b: str) -> float:
    """0..1 for two name parts: spelling (typos, transpositions) or romanisation skeleton, whichever is closer."""
    if a == b:
        return 1.0
    if skel_a == skel_b:
        return 0.95
    spelling = (OSA.normalized_similarity(a, b) + JaroWinkler.similarity(a, b)) / 2
    if len(a) < 5 or len(b) < 5:  # short parts: one letter changes the name (Ali / Ari)
        spelling -= 0.1
    romanised = (OSA.normalized_similarity(skel_a, skel_b) + JaroWinkler.similarity(skel_a, skel_b)) / 2 - 0.05
    return max(spelling, romanised)


def _pair_similarity(q: NameForm, i: int, c: NameForm, j: int) -> float:
    qp, cp = q.parts[i], c.parts[j]
    if qp is Part.NUMBER or cp is Part.NUMBER:
        return 1.0 if q.tokens[i] == c.tokens[j] else 0.0
    if qp is Part.INITIAL or cp is Part.INITIAL:
        return INITIAL_SIMILARITY if q.tokens[i][0] == c.tokens[j][0] else 0.0
    return token_similarity(q.tokens[i], c.tokens[j], q.skeletons[i], c.skeletons[j])


def _weight(form: NameForm, i: int) -> float:
    part = form.parts[i]
    if part is Part.INITIAL:
        return 1.0
    return _PART_WEIGHT[part] * len(form.tokens[i])


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
    used_q: set[int] = set()
    used_c: set[int] = set()
    matched = 0.0
    total = 0.0
    pairs: list[tuple[str, str, float]] = []
    for sim, i, j in candidates:
        if i in used_q or j in used_c:
            continue
        used_q.add(i)
        used_c.add(j)
        wq, wc = _weight(q, i), _weight(c, j)
        if q.parts[i] is Part.INITIAL or c.parts[j] is Part.INITIAL:
            wq = wc = min(wq, wc)
        matched += sim * (wq + wc)
        total += wq + wc
        pairs.append((q.tokens[i], c.tokens[j], round(sim, 3)))
    total += _unmatched_weight(q, used_q, c, used_c)
    total += _unmatched_weight(c, used_c, q, used_q)
    score = matched / total if total else 0.0
    return NameScore(score, "parts", tuple(pairs))


def _unmatched_weight(side: NameForm, used: set[int], other: NameForm, other_used: set[int]) -> float:
    """Unmatched parts count fully, except the extra parts of a name whose every real part on the other side
    found a partner (middle names, a second family name) — those are missing, not contradicting."""
    other_complete = all(
        k in other_used or other.parts[k] in (Part.PARTICLE, Part.LEGAL_FORM) for k in range(len(other.tokens))
    )
    weight = 0.0
    for i in range(len(side.tokens)):
        if i in used:
            continue
        w = _weight(side, i)
        if side.parts[i] is Part.NUMBER:
            weight += w * 2  # numbers in names are compared exactly: "Vessel 7" is not "Vessel 8"
        elif other_complete and len(used) >= 2:
            weight += w * MISSING_PART_WEIGHT
        else:
            weight += w
    return weight


def compare_names(q: NameForm, c: NameForm) -> NameScore:
    """The name score of a pair: part alignment, or the spaceless form for joined/split parts."""
    aligned = align(q, c)
    if q.numbers != c.numbers:
        # Numbers are compared exactly ("Vessel 7" is not "Vessel 8"); one side without a number is weaker.
        factor = NUMBER_CONFLICT if q.numbers and c.numbers and not q.numbers & c.numbers else NUMBER_MISSING
        return NameScore(aligned.score * factor, aligned.method + "+numbers", aligned.pairs)
    if q.compact and c.compact and len(q.tokens) != len(c.tokens):
        joined = ratio(q.compact, c.compact) / 100 * 0.97
        if joined > aligned.score:
            return NameScore(joined, "joined", ((q.compact, c.compact, round(joined, 3)),))
    return aligned


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
        if len(number) >= 4 and number in wanted:
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
