"""Near-misses and their positive controls, generated from the real list files, ours and logic-v2 side by side.

Usage: ``.venv/bin/python -m bench.nearmiss [--per-category N] [--seed S] [--write] [--show K]``.

Every query is derived from one listed entry (its *target*) by a rule, with a seeded random generator over the
entries in a fixed order, so the set is the same on every run and for every engine, and no query is written by
hand. Near-misses are another person or organisation that an officer should not be shown: a relative (the listed
surname, another listed given name, born 20–45 years apart), a Finnish person sharing one name part with a listed
Finn, a short common name made of two parts of a four-part listed name with a contradicting birth date and another
nationality, a namesake (the exact listed name, born 15–40 years apart, another nationality), an organisation with
one distinctive word swapped for another organisation's. Positive controls are as near but *are* the listed entry:
a middle part dropped, surname first, another romanisation (generic letter alternations), a typo in a distinctive
word of an organisation, a Finnish or Swedish generic word appended or prefixed, the country's genitive before the
name, the acronym a listed name gives in parentheses — each with the listed birth date and nationality where there
is one.

A query alerts on its target when ours reports the target entry at or above the configured threshold (the engine
over every list at once; "any alert" also counts hits on other entries), and for logic-v2 when its score of the
query against the target entity (every listed name, birth date and nationality) reaches 0.70, yente's default.
``--write`` replaces the ``## Near-miss benchmark`` section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import re
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rigour.text.scripts import is_latin

from bench.matching import LOGIC_V2_THRESHOLD, ROOT, LogicV2, load_all_lists, logic_v2
from kyc.entry import Entry, PartialDate, Schema
from kyc.matching import MatchConfig, Matcher, Query

NEAR_MISSES = ("relative", "finnish_shared_part", "short_common_name", "namesake", "org_word_swapped")
CONTROLS = (
    "dropped_part", "surname_first", "other_spelling", "org_typo", "org_generic_word", "org_country_genitive",
    "org_acronym",
)  # fmt: skip

_WORD = re.compile(r"^[^\W\d_]+$")
_PARTICLES = frozenset({"al", "el", "bin", "ibn", "abu", "de", "da", "van", "von", "der", "la", "le", "y", "ul"})
_BOUND = _PARTICLES | {"abd", "abdul", "abdel"}
"""Parts that belong to the next one (``Abd al-Sattar``, ``al Saud``): never dropped or moved apart from it."""

SPELLINGS: tuple[tuple[str, str], ...] = (
    ("ou", "u"), ("oo", "u"), ("u", "ou"), ("ee", "i"), ("kh", "h"), ("q", "k"), ("ph", "f"), ("ss", "s"),
    ("mm", "m"), ("dd", "d"), ("ll", "l"), ("y", "i"), ("i", "y"), ("ei", "ey"), ("w", "v"), ("v", "w"),
    ("ed", "ad"), ("ad", "ed"), ("ie", "i"), ("dj", "j"), ("tch", "ch"), ("sh", "ch"), ("j", "y"),
)  # fmt: skip
"""Letter alternations between romanisations (French, English, German, transliteration standards): generic rules,
applied to one name part at a seeded position, never a list of names."""

FI_GENERIC = ("ryhmä", "järjestö", "yhtiö", "konserni")
SV_GENERIC = ("grupp", "gruppen", "koncern", "koncernen")
FI_COUNTRY = {
    "RU": "Venäjä", "CN": "Kiina", "IR": "Iran", "SY": "Syyria", "BY": "Valko-Venäjä", "KP": "Pohjois-Korea",
    "IQ": "Irak", "AF": "Afganistan", "LB": "Libanon", "YE": "Jemen", "VE": "Venezuela", "CU": "Kuuba",
    "LY": "Libya", "SD": "Sudan", "SO": "Somalia", "PK": "Pakistan", "TR": "Turkki", "UA": "Ukraina",
"MM": "Myanmar", "ML": "Mali", "NI": "Nicaragua", "ER": "Eritrea",
}  # fmt: skip
"""Finnish country names (nominative) of the listed organisations' countries; the genitive is made by rule."""
SV_COUNTRY = {
    "RU": "Ryssland", "CN": "Kina", "IR": "Iran", "SY": "Syrien", "BY": "Belarus", "KP": "Nordkorea", "IQ": "Irak",
    "AF": "Afghanistan", "LB": "Libanon", "YE": "Jemen", "VE": "Venezuela", "CU": "Kuba", "LY": "Libyen",
    "TR": "Turkiet", "UA": "Ukraina", "PK": "Pakistan",
}  # fmt: skip


def finnish_genitive(name: str) -> str:
    """Venäjä → Venäjän, Iran → Iranin, Turkki → Turkin, Pohjois-Korea → Pohjois-Korean."""
    if name[-1] in "aäoöuyie":
        if name.endswith("kki"):
            return name[:-3] + "kin"
        return name + "n"
    return name + "in"


@dataclass(frozen=True)
class Case:
    category: str
    positive: bool
    query: Query
    target: Entry
    rule: str


# ---- name parts of listed entries ------------------------------------------------------------------------


def person_parts(entry: Entry) -> tuple[list[str], str] | None:
    """Given names and surname of a Latin-script primary name: ``LAST, First Middle`` or ``First Middle Last``."""
    name = entry.primary_name
    if not is_latin(name) or any(ch.isdigit() for ch in name):
        return None
    if "," in name:
        last, _, first = name.partition(",")
        given, surname = first.split(), last.strip()
    else:
        words = name.split()
        given, surname = words[:-1], (words[-1] if words else "")
    if not given or not surname or not all(_WORD.match(w.replace("-", "").replace("'", "")) for w in given):
        return None
    while len(given) > 1 and given[-1].casefold() in _BOUND:  # al Saud, bin Laden, van Dijk: one surname
        surname = f"{given.pop()} {surname}"
    return given, surname


def first_date(entry: Entry) -> PartialDate | None:
    exact = [d for d in entry.birth_dates if d.end is None and not d.approximate]
    listed = exact or [d for d in entry.birth_dates if d.end is None]
    return listed[0] if listed else None


def shifted(date: PartialDate, rng: random.Random, low: int, high: int) -> str:
    years = rng.randint(low, high) * rng.choice((-1, 1))
    year = int(date.date[:4]) + years
    if year > 2008:
        year = int(date.date[:4]) - abs(years)
    return f"{year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"


def far_from_all(entry: Entry, birth: str, years: int) -> bool:
    """The query's birth year is at least ``years`` from every listed date (lists give several)."""
    year = int(birth[:4])
    for listed in entry.birth_dates:
        low, high = int(listed.date[:4]), int((listed.end or listed.date)[:4])
        if low - years < year < high + years:
            return False
    return True


def other_nationality(entry: Entry, rng: random.Random, pool: Sequence[str]) -> str:
    listed = set(entry.nationalities) | set(entry.countries)
    return rng.choice([c for c in pool if c not in listed])


def _person_query(name: str, birth: str | None, nationality: str | None) -> Query:
    return Query(name=name, schema_="Person", birth_date=birth, nationality=nationality)


def _org_query(name: str) -> Query:
    return Query(name=name, schema_="Organization")


# ---- generation -----------------------------------------------------------------------------------------


def generate(entries: Sequence[Entry], per_category: int, seed: int) -> list[Case]:
    """Every category from its own seeded generator over the entries in (source, source_ref) order."""
    ordered = sorted(entries, key=lambda e: (e.source, e.source_ref))
    persons = [(e, p) for e in ordered if e.schema_ is Schema.PERSON and (p := person_parts(e)) is not None]
    dated = [(e, p) for e, p in persons if first_date(e) is not None]
    orgs = [e for e in ordered if e.schema_ is Schema.ORGANIZATION and is_latin(e.primary_name)]
    listed_names = {_compact(n.value) for e in ordered for n in e.names}
    nationalities = sorted({c for e in ordered for c in e.nationalities})
    given_pool = sorted({g for _e, (given, _s) in persons for g in given if len(g) > 2})
    word_counts = _org_word_counts(orgs)
    generators: dict[str, Callable[[random.Random], Iterator[Case]]] = {
        "relative": lambda rng: _relatives(dated, given_pool, rng),
        "finnish_shared_part": lambda rng: _finnish(persons, rng),
        "short_common_name": lambda rng: _short_common(dated, nationalities, rng),
        "namesake": lambda rng: _namesakes(dated, nationalities, rng),
        "org_word_swapped": lambda rng: _org_swapped(orgs, word_counts, listed_names, rng),
        "dropped_part": lambda rng: _dropped(dated, rng),
        "surname_first": lambda rng: _surname_first(dated, rng),
        "other_spelling": lambda rng: _spelling(dated, listed_names, rng),
        "org_typo": lambda rng: _org_typo(orgs, word_counts, listed_names, rng),
        "org_generic_word": lambda rng: _org_generic(orgs, rng),
        "org_country_genitive": lambda rng: _org_genitive(orgs, rng),
        "org_acronym": lambda rng: _org_acronym(orgs, rng),
    }
    cases: list[Case] = []
    for k, make in enumerate(generators.values()):
        rng = random.Random(seed * 1000 + k)
        made: list[Case] = []
        seen: set[str] = set()
        for case in make(rng):
            key = case.query.name + "|" + case.target.source_ref
            if key in seen:
                continue
            seen.add(key)
            made.append(case)
            if len(made) >= per_category:
                break
        cases.extend(made)
    return cases


def _shuffled(items: Sequence[Any], rng: random.Random) -> list[Any]:
    copy = list(items)
    rng.shuffle(copy)
    return copy


def _relatives(dated: list[tuple[Entry, tuple[list[str], str]]], pool: list[str], rng: random.Random) -> Iterator[Case]:
    """Half from entries whose listed birth date is approximate, half from the others."""
    approx = [x for x in dated if any(d.approximate for d in x[0].birth_dates)]
    plain = [x for x in dated if not any(d.approximate for d in x[0].birth_dates)]
    for a, b in zip(_shuffled(approx, rng), _shuffled(plain, rng), strict=False):
        for entry, (given, surname) in (a, b):
            tokens = {t.casefold() for n in entry.names for t in re.split(r"[\s,-]+", n.value)}
            other = rng.choice(pool)
            if other.casefold() in tokens or other[0].casefold() == given[0][0].casefold():
                continue
            date = first_date(entry)
            assert date is not None
            nationality = entry.nationalities[0] if entry.nationalities else None
            birth = shifted(date, rng, 20, 45)
            if not far_from_all(entry, birth, 20):
                continue
            query = _person_query(f"{other} {surname}", birth, nationality)
            yield Case("relative", False, query, entry, f"given {given[0]} → {other}, born 20–45 years apart")


def _finnish(persons: list[tuple[Entry, tuple[list[str], str]]], rng: random.Random) -> Iterator[Case]:
    finns = [(e, p) for e, p in persons if e.source == "everypolitician" or "FI" in e.nationalities]
    surnames = sorted({s for _e, (_g, s) in finns})
    givens = sorted({g[0] for _e, (g, _s) in finns})
    for entry, (given, surname) in _shuffled(finns, rng):
        if rng.random() < 0.5:
            other = rng.choice(surnames)
            if other == surname:
                continue
            name, rule = f"{given[0]} {other}", "listed given name, another Finnish surname"
        else:
            other = rng.choice(givens)
            if other == given[0]:
                continue
            name, rule = f"{other} {surname}", "listed surname, another Finnish given name"
        birth = f"{rng.randint(1945, 2005)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        yield Case("finnish_shared_part", False, _person_query(name, birth, "FI"), entry, rule)


def _short_common(
    dated: list[tuple[Entry, tuple[list[str], str]]], pool: list[str], rng: random.Random
) -> Iterator[Case]:
    long_names = [(e, p) for e, p in dated if len([g for g in p[0] if g.casefold() not in _PARTICLES]) >= 3]
    for entry, (given, surname) in _shuffled(long_names, rng):
        date = first_date(entry)
        assert date is not None
        birth = shifted(date, rng, 10, 35)
        if not far_from_all(entry, birth, 10):
            continue
        query = _person_query(f"{given[0]} {surname}", birth, other_nationality(entry, rng, pool))
        yield Case(
            "short_common_name", False, query, entry, "first and last of four or more parts, born 10–35 years apart"
        )


def _namesakes(dated: list[tuple[Entry, tuple[list[str], str]]], pool: list[str], rng: random.Random) -> Iterator[Case]:
    for entry, _parts in _shuffled(dated, rng):
        date = first_date(entry)
        assert date is not None
        if not entry.nationalities:
            continue
        birth = shifted(date, rng, 15, 40)
        if not far_from_all(entry, birth, 15):
            continue
        query = _person_query(entry.primary_name, birth, other_nationality(entry, rng, pool))
        yield Case("namesake", False, query, entry, "exact name, born 15–40 years apart, another nationality")


def _org_word_counts(orgs: list[Entry]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for entry in orgs:
        for word in set(_words(entry.primary_name)):
            counts[word.casefold()] = counts.get(word.casefold(), 0) + 1
    return counts


_WORD_SPAN = re.compile(r"[^\s,.()\"“”]+")


def _words(name: str) -> list[str]:
    return _WORD_SPAN.findall(name)


def _replace_word(name: str, index: int, new: str) -> str:
    """The name as listed (punctuation kept) with its ``index``-th word replaced."""
    span = list(_WORD_SPAN.finditer(name))[index]
    return name[: span.start()] + new + name[span.end() :]


def _distinctive(name: str, counts: dict[str, int], total: int) -> list[int]:
    """Positions of words that are rare in organisation names (generic words such as Bank, Trading, Company and
    the legal forms are in more than one name in 300)."""
    words = _words(name)
    return [
        i for i, w in enumerate(words) if _WORD.match(w) and len(w) >= 4 and counts.get(w.casefold(), 0) * 300 < total
    ]


def _org_swapped(orgs: list[Entry], counts: dict[str, int], listed: set[str], rng: random.Random) -> Iterator[Case]:
    vocabulary = sorted(w for w, c in counts.items() if c * 300 < len(orgs) and len(w) >= 4 and _WORD.match(w))
    for entry in _shuffled(orgs, rng):
        words = _words(entry.primary_name)
        spots = _distinctive(entry.primary_name, counts, len(orgs))
        if len(words) < 3 or len(spots) < 2:
            continue
        spot = rng.choice(spots)
        old = words[spot]
        choices = [w for w in vocabulary if abs(len(w) - len(old)) <= 2 and w[0] != old[0].casefold()]
        new = rng.choice(choices)
        name = _replace_word(entry.primary_name, spot, new.upper() if old.isupper() else new.capitalize())
        if _compact(name) in listed:
            continue
        yield Case("org_word_swapped", False, _org_query(name), entry, f"{old} → {new}")


def _dropped(dated: list[tuple[Entry, tuple[list[str], str]]], rng: random.Random) -> Iterator[Case]:
    for entry, (given, surname) in _shuffled(dated, rng):
        spots = [i for i in range(1, len(given)) if given[i - 1].casefold() not in _BOUND and given[i].casefold()
                 not in _BOUND]  # fmt: skip
        if not spots:
            continue
        drop = rng.choice(spots)
        kept = [g for i, g in enumerate(given) if i != drop]
        yield _control("dropped_part", entry, " ".join([*kept, surname]), f"dropped {given[drop]}")


def _surname_first(dated: list[tuple[Entry, tuple[list[str], str]]], rng: random.Random) -> Iterator[Case]:
    for entry, (given, surname) in _shuffled(dated, rng):
        yield _control("surname_first", entry, " ".join([surname, *given]), "surname first, no comma")


def _spelling(dated: list[tuple[Entry, tuple[list[str], str]]], listed: set[str], rng: random.Random) -> Iterator[Case]:
    for entry, (given, surname) in _shuffled(dated, rng):
        parts = [*given, surname]
        order = _shuffled(range(len(parts)), rng)
        for index in order:
            part = parts[index]
            lower = part.casefold()
            rules = [(a, b) for a, b in SPELLINGS if a in lower[1:] or (a in lower and len(a) > 1)]
            if not rules or len(part) < 4:
                continue
            a, b = rng.choice(rules)
            spots = [m.start() for m in re.finditer(re.escape(a), lower)]
            at = rng.choice(spots)
            changed = lower[:at] + b + lower[at + len(a) :]
            new = changed.upper() if part.isupper() else changed.capitalize()
            name = " ".join([*parts[:index], new, *parts[index + 1 :]])
            if _compact(name) in listed:
                continue
            yield _control("other_spelling", entry, name, f"{part} → {new}")
            break


def _org_typo(orgs: list[Entry], counts: dict[str, int], listed: set[str], rng: random.Random) -> Iterator[Case]:
    for entry in _shuffled(orgs, rng):
        words = _words(entry.primary_name)
        spots = [i for i in _distinctive(entry.primary_name, counts, len(orgs)) if len(words[i]) >= 6]
        if not spots:
            continue
        spot = rng.choice(spots)
        word = words[spot]
        at = rng.randrange(1, len(word) - 1)
        if rng.random() < 0.5:
            typo = word[:at] + word[at + 1] + word[at] + word[at + 2 :]  # swapped letters
        else:
            letter = rng.choice("aeiou" if word[at].casefold() in "aeiou" else "bcdfgklmnprstv")
            typo = word[:at] + (letter.upper() if word.isupper() else letter) + word[at + 1 :]
        name = _replace_word(entry.primary_name, spot, typo)
        if typo == word or _compact(name) in listed:
            continue
        yield Case("org_typo", True, _org_query(name), entry, f"{word} → {typo}")


def _core_org_name(entry: Entry) -> str:
    return re.sub(r"\s*\(.*?\)\s*", " ", entry.primary_name).strip()


def _org_generic(orgs: list[Entry], rng: random.Random) -> Iterator[Case]:
    for entry in _shuffled(orgs, rng):
        name = _core_org_name(entry)
        if len(name.split()) > 4 or not name:
            continue
        if rng.random() < 0.5:
            word = rng.choice(FI_GENERIC)
            query = f"{name}-{word}" if rng.random() < 0.7 else f"{word.capitalize()} {name}"
        else:
            word = rng.choice(SV_GENERIC)
            query = f"{name}-{word}" if rng.random() < 0.5 else f"{name} {word}"
        yield Case("org_generic_word", True, _org_query(query), entry, f"+{word}")


def _org_genitive(orgs: list[Entry], rng: random.Random) -> Iterator[Case]:
    for entry in _shuffled(orgs, rng):
        countries = [c for c in entry.countries if c in FI_COUNTRY]
        name = _core_org_name(entry)
        if not countries or not name:
            continue
        code = rng.choice(countries)
        if rng.random() < 0.7 or code not in SV_COUNTRY:
            prefix = finnish_genitive(FI_COUNTRY[code])
        else:
            prefix = SV_COUNTRY[code] + ("" if SV_COUNTRY[code].endswith("s") else "s")
        yield Case("org_country_genitive", True, _org_query(f"{prefix} {name}"), entry, prefix)


_ACRONYM = re.compile(r"\(([A-Z][A-Z0-9&-]{2,9})\)")


def _org_acronym(orgs: list[Entry], rng: random.Random) -> Iterator[Case]:
    """The acronym a listed name gives in parentheses (``SHAHID SAYYADE SHIRAZI INDUSTRIES (SSSI)``), alone."""
    for entry in _shuffled(orgs, rng):
        found = sorted({m.group(1) for n in entry.names for m in _ACRONYM.finditer(n.value)})
        if found:
            acronym = rng.choice(found)
            yield Case("org_acronym", True, _org_query(acronym), entry, "the listed acronym")


def _control(category: str, entry: Entry, name: str, rule: str) -> Case:
    date = first_date(entry)
    nationality = entry.nationalities[0] if entry.nationalities else None
    return Case(category, True, _person_query(name, date.date if date else None, nationality), entry, rule)


def _compact(name: str) -> str:
    return "".join(ch for ch in name.casefold() if ch.isalnum())


# ---- scoring ---------------------------------------------------------------------------------------------


@dataclass
class Outcome:
    case: Case
    ours_target: bool
    ours_any: bool
    ours_score: float | None
    theirs: float | None


def run_ours(matcher: Matcher, cases: list[Case]) -> list[tuple[bool, bool, float | None]]:
    results = []
    for case in cases:
        hits = matcher.screen(case.query, limit=200)
        target = [m.score for m in hits if (m.source, m.source_ref) == (case.target.source, case.target.source_ref)]
        results.append((bool(target), bool(hits), target[0] if target else None))
    return results


def target_entity(engine: LogicV2, entry: Entry) -> Any:
    proxy = engine.entity(entry.schema_.value, [n.value for n in entry.names])
    if entry.schema_ is Schema.PERSON:
        for date in entry.birth_dates:
            proxy.add("birthDate", date.date)
        for code in entry.nationalities:
            proxy.add("nationality", code.lower())
    for code in entry.countries:
        proxy.add("country", code.lower())
    return proxy


def run_theirs(engine: LogicV2, cases: list[Case]) -> list[float]:
    scores = []
    for case in cases:
        q = case.query
        query = engine.entity(q.schema_, [q.name], q.birth_date, (q.nationality or "").lower() or None)
        scores.append(engine.score(query, target_entity(engine, case.target)))
    return scores


# ---- report ----------------------------------------------------------------------------------------------


def report(outcomes: list[Outcome], config: MatchConfig, show: int) -> list[str]:
    lines: list[str] = []
    have_theirs = all(o.theirs is not None for o in outcomes)
    lines.append("| category | kind | n | ours: target alerts | ours: any alert | logic-v2 ≥ 0.70 |")
    lines.append("|---|---|---:|---:|---:|---:|")
    totals: dict[bool, list[int]] = {False: [0, 0, 0, 0], True: [0, 0, 0, 0]}
    for category in (*NEAR_MISSES, *CONTROLS):
        items = [o for o in outcomes if o.case.category == category]
        if not items:
            continue
        positive = items[0].case.positive
        ours = sum(o.ours_target for o in items)
        anyhit = sum(o.ours_any for o in items)
        theirs = sum(1 for o in items if (o.theirs or 0) >= LOGIC_V2_THRESHOLD)
        for k, v in enumerate((len(items), ours, anyhit, theirs)):
            totals[positive][k] += v
        kind = "control (should alert)" if positive else "near-miss (should not)"
        reference = _share(theirs, len(items)) if have_theirs else "–"
        lines.append(f"| {category} | {kind} | {len(items)} | {_share(ours, len(items))} | "
                     f"{_share(anyhit, len(items))} | {reference} |")  # fmt: skip
    for positive, label in ((False, "**all near-misses** (alerts: fewer is better)"),
                            (True, "**all controls** (recall: more is better)")):  # fmt: skip
        n, ours, anyhit, theirs = totals[positive]
        lines.append(f"| {label} | | {n} | **{_share(ours, n)}** | {_share(anyhit, n)} | "
                     f"**{_share(theirs, n) if have_theirs else '–'}** |")  # fmt: skip
    lines.append("")
    if show:
        lines.append(f"Examples (first {show} per category; ours' score on the target / logic-v2's):")
        lines.append("")
        for category in (*NEAR_MISSES, *CONTROLS):
            items = [o for o in outcomes if o.case.category == category][:show]
            for o in items:
                our_text = f"{o.ours_score:.2f}" if o.ours_score is not None else "–"
                their_text = f"{o.theirs:.2f}" if o.theirs is not None else "–"
                q = o.case.query
                extra = ", ".join(x for x in (q.birth_date, q.nationality) if x)
                dates = ", ".join(d.date + ("~" if d.approximate else "") for d in o.case.target.birth_dates)
                lines.append(f"- {category}: `{q.name}` ({extra}) vs `{o.case.target.primary_name}` "
                             f"({o.case.target.source} {o.case.target.source_ref}; {dates}) "
                             f"— {o.case.rule}: ours {our_text}, logic-v2 {their_text}")  # fmt: skip
        lines.append("")
    return lines


def _share(count: int, n: int) -> str:
    return f"{count} ({count / n:.1%})" if n else "–"


def summary(outcomes: list[Outcome]) -> dict[str, float]:
    neg = [o for o in outcomes if not o.case.positive]
    pos = [o for o in outcomes if o.case.positive]
    out = {
        "ours_near_miss_alerts": sum(o.ours_target for o in neg),
        "ours_control_recall": sum(o.ours_target for o in pos) / max(len(pos), 1),
    }
    if all(o.theirs is not None for o in outcomes):
        out["logic_v2_near_miss_alerts"] = sum(1 for o in neg if (o.theirs or 0) >= LOGIC_V2_THRESHOLD)
        out["logic_v2_control_recall"] = sum(1 for o in pos if (o.theirs or 0) >= LOGIC_V2_THRESHOLD) / max(len(pos), 1)
    return out


def write_section(path: Path, body: list[str]) -> None:
    heading = "## Near-miss benchmark"
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    section = heading + "\n\n" + "\n".join(body).rstrip() + "\n"
    if heading in text:
        start = text.index(heading)
        rest = text[start + len(heading) :]
        nxt = rest.find("\n## ")
        end = start + len(heading) + nxt + 1 if nxt >= 0 else len(text)
        text = text[:start] + section + ("\n" + text[end:] if nxt >= 0 else "")
    else:
        text = text.rstrip() + "\n\n" + section
    path.write_text(text, encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--per-category", type=int, default=200)
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--show", type=int, default=0, help="Examples to list per category")
    parser.add_argument("--write", action="store_true", help="Update BENCHMARKS.md")
    args = parser.parse_args(argv)
    config = MatchConfig()
    entries, notes = load_all_lists()
    cases = generate([e for _v, e in entries], args.per_category, args.seed)
    matcher = Matcher.build(entries, config)
    ours = run_ours(matcher, cases)
    engine = logic_v2()
    theirs: list[float | None] = list(run_theirs(engine, cases)) if engine is not None else [None] * len(cases)
    outcomes = [Outcome(c, t, a, s, th) for c, (t, a, s), th in zip(cases, ours, theirs, strict=True)]
    lines = [
        f"Run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {platform.node()}: {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, engine {Matcher.engine_version}, config {config.config_hash()[:12]}, "
        f"seed {args.seed}, {args.per_category} per category. Command: `python -m bench.nearmiss "
        f"{' '.join(sys.argv[1:])}`. Lists: {'; '.join(notes)}.",
        "",
        *report(outcomes, config, args.show),
    ]
    print("\n".join(lines))
    print(summary(outcomes))
    if args.write:
        write_section(ROOT / "BENCHMARKS.md", lines)


if __name__ == "__main__":
    main()
