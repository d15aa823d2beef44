# Over 400 lines: one class over one set of columns: its build, retrieval and scoring read them together.
"""The matcher: an in-memory candidate index over every name of the given list entries, and the screening call.

Screening never compares a query against every list name: each name is filed under its tokens, romanisation
skeletons and phonetic codes; a query collects the names sharing rare keys (weighted by inverse frequency), and
only the best few dozen of those are scored in full. A matcher is immutable once built, so a new one can be built
beside it and swapped in atomically when a list version changes.
"""

from __future__ import annotations

import gc
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
from rapidfuzz import fuzz, process

from kyc.entry import Entry, NameKind
from kyc.matching.compare import (
    FEATURES,
    NameScore,
    compare_names,
    normalise_identifier,
    schema_compatible,
    written_reading,
)
from kyc.matching.index import IndexBuilder, IntArray, TokenIndex, union_ids
from kyc.matching.model import ENGINE_VERSION, Match, MatchConfig, Query
from kyc.matching.normalize import NameForm, Part, name_form, part_keys

MIN_IDENTIFIER_LENGTH = 6
"""Shorter numbers collide across countries and registers too often to be evidence on their own."""

_FORM_SCHEMA = {"Person": "Person", "Organization": "Organization", "LegalEntity": "Organization"}
"""Which normalisation a schema's names get: person rules (titles) or organisation rules (legal forms)."""


_SCHEMAS = ("Person", "Organization", "LegalEntity", "Vessel", "Aircraft")


_COMPATIBLE_SCHEMAS = {q: frozenset(s for s in _SCHEMAS if schema_compatible(q, s)) for q in _SCHEMAS}
"""The entry schemas each query schema may match, worked out once rather than per query."""


def form_schema(schema: str) -> str:
    return _FORM_SCHEMA.get(schema, "Organization")


@contextmanager
def collector_paused() -> Iterator[None]:
    """The cyclic garbage collector off while an index is built: the build makes millions of objects and no
    cycles, and every collection would rescan all of them (a quarter of the build's time over all lists, more
    over a million names). Reference counting still frees everything; the collector's state is restored."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class TextAt(Protocol):
    """A text per position, read on demand (a list, or the texts of a stored index)."""

    def __getitem__(self, index: int, /) -> str: ...


@dataclass(slots=True)  # not frozen: created for every scored name, and a frozen dataclass is slower to create
class _Candidate:
    name_id: int
    query_name: str
    result: NameScore
    score: float


class _Readings:
    """``written_reading`` of each original once: most names never need it (the only name of their slot)."""

    def __init__(self) -> None:
        self._known: dict[str, object] = {}

    def __call__(self, original: str) -> object:
        if original.isascii():
            return None
        known = self._known.get(original, _UNREAD)
        if known is _UNREAD:
            known = self._known[original] = written_reading(original)
        return known


_UNREAD = object()


def _first_readings(forms: list[NameForm], offsets: list[int], sizes: list[int], reading: _Readings) -> list[int]:
    """Each name's first name id in its slot that comparison reads alike: the one compared for the group."""
    first = list(range(len(forms)))
    for slot, size in enumerate(sizes):
        if size < 2:
            continue
        seen: dict[object, int] = {}
        for name_id in range(offsets[slot], offsets[slot] + size):
            form = forms[name_id]
            first[name_id] = seen.setdefault((form.parts, form.compact, reading(form.original)), name_id)
    return first


_NAME_PART = Part.NAME


class _KeyIds:
    """The index key ids of a listed name: ``NameForm.key_groups`` filed in an ``IndexBuilder``, with the ids of
    each name part remembered by its token for the build, since a million names share a few hundred thousand
    parts (the groups themselves are made and looked up once per part, not once per name)."""

    def __init__(self, index: IndexBuilder) -> None:
        self._index = index
        self._of_token: tuple[dict[str, tuple[int, ...]], dict[str, tuple[int, ...]]] = ({}, {})
        """Organisation rules, person rules: the key ids of a token that is a name part."""

    def __call__(self, form: NameForm) -> list[int]:
        person = form.is_person
        known_ids = self._of_token[person]
        ids: list[int] = []
        for token, part in zip(form.tokens, form.parts, strict=True):
            if part is _NAME_PART:
                known = known_ids.get(token)
                if known is None:
                    group = part_keys(token, part, person)
                    known = known_ids[token] = self._index.key_ids(group) if group is not None else ()
                ids.extend(known)
            elif (group := part_keys(token, part, person)) is not None:
                ids.extend(self._index.key_ids(group))
        if not ids:  # as key_groups: a name of particles or legal forms only is found by its tokens
            for group in form.key_groups():
                ids.extend(self._index.key_ids(group))
        return ids


class Matcher:
    """Screens queries against a fixed set of ``(version_id, entry)`` pairs."""

    engine_version: str = ENGINE_VERSION

    def __init__(
        self,
        entries: Sequence[tuple[int, Entry]],
        forms: Sequence[NameForm],
        name_entry: IntArray,
        name_kind: list[NameKind],
        index: TokenIndex,
        slot_offsets: npt.NDArray[np.int64],
        name_reading: list[int],
        identifiers: Mapping[str, list[int]],
        config: MatchConfig,
        *,
        entry_schema: list[str] | None = None,
        version_ids: dict[str, int] | None = None,
        compacts: TextAt | None = None,
    ) -> None:
        """``entries`` and ``forms`` may be sequences that read their items on first use (a matcher restored from
        a stored index, ``kyc.matching.state``): then ``entry_schema`` and ``version_ids`` are given, so that
        nothing here reads every entry, and ``compacts`` (each name's ``NameForm.compact``) too; ``identifiers`` (a
        normalised number -> its entries) may also be read on first use."""
        self.config = config
        self._entries = entries
        self._forms = forms
        self._compacts: TextAt = compacts if compacts is not None else [form.compact for form in forms]
        """Each name's spaceless form, read without making its form."""
        self._name_entry = name_entry
        self._name_entry_list: list[int] = name_entry.tolist()
        self._entry_schema: list[str] = (
            entry_schema if entry_schema is not None else [entry.schema_.value for _v, entry in entries]
        )
        self._name_kind = name_kind
        self._index = index
        self._slot_offsets = slot_offsets
        self._name_reading = name_reading
        self._identifiers = identifiers
        self._config_hash = config.config_hash()
        w = config.weights
        birth = max(w.birth_date_exact, w.birth_date_partial, 0)
        self._max_bonus = birth + max(w.nationality_match, w.country_match, 0) + max(w.country_match, 0)
        if version_ids is None:
            version_ids = {}
            for version_id, entry in entries:
                version_ids.setdefault(entry.source, version_id)
        self.version_ids = version_ids

    @classmethod
    def build(cls, entries: Iterable[tuple[int, Entry]], config: MatchConfig | None = None) -> Matcher:
        """Index every name of every entry. Cheap for a handful of entries (delta screening).

        Names that normalise identically (the same person on five lists) share one index slot: retrieval ranks
        distinct name forms, so copies of a name on other lists cannot crowd out this list's entry, and every
        entry carrying a retrieved form is scored. Within a slot, names that comparison reads differently as
        written (see ``written_reading``: "Abu Banat" / "Абу Банат" for an Arabic query) are compared apart, so
        the score does not depend on which spelling was indexed first.
        """
        with collector_paused():
            return cls._build(list(entries), config)

    @classmethod
    def _build(cls, kept: list[tuple[int, Entry]], config: MatchConfig | None) -> Matcher:
        forms: list[NameForm] = []
        name_entry: list[int] = []
        name_kind: list[NameKind] = []
        name_slot: list[int] = []
        slots: dict[tuple[object, ...], int] = {}
        index = IndexBuilder()
        identifiers: defaultdict[str, list[int]] = defaultdict(list)
        # The same name is listed by several sources (a third of all names): normalised once, the form shared.
        prepared: dict[str, dict[str, NameForm]] = {"Person": {}, "Organization": {}}
        reading = _Readings()
        keys = _KeyIds(index)
        parts_slot: dict[str, int] = {}  # the entry's slots by its names' parts, when it has several names
        kept_here: dict[str, list[NameForm]] = {}  # the entry's names by parts, to drop repeats
        for entry_id, (_version, entry) in enumerate(kept):
            schema = form_schema(entry.schema_)
            prepared_here = prepared[schema]
            several = len(entry.names) > 1
            if several:
                parts_slot.clear()
                kept_here.clear()
            for name in entry.names:
                form = prepared_here.get(name.value)
                if form is None:
                    form = prepared_here[name.value] = name_form(name.value, schema)
                slot = None
                if several:
                    parts = " ".join(form.tokens)
                    same_parts = kept_here.get(parts)
                    if same_parts is None:
                        kept_here[parts] = [form]
                    else:  # the same name in two cases, or in scripts read alike: once
                        if any(reading(other.original) == reading(form.original) for other in same_parts):
                            continue
                        same_parts.append(form)
                    # The entry's name in another script, read otherwise (Абу Банат beside Abu Banat), is retrieved
                    # with the slot of its first spelling and compared as written.
                    slot = parts_slot.get(parts)
                if slot is None:
                    key = (form.tokens, form.parts, form.compact, form.is_person)  # all that retrieval reads
                    slot = slots.get(key)
                    if slot is None:
                        slot = slots[key] = len(slots)
                        index.add_ids(slot, keys(form), form.compact)
                    if several:
                        parts_slot[parts] = slot
                name_slot.append(slot)
                forms.append(form)
                name_entry.append(entry_id)
                name_kind.append(name.kind)
            for ident in entry.identifiers:
                number = normalise_identifier(ident.number)
                if len(number) >= MIN_IDENTIFIER_LENGTH:
                    identifiers[number].append(entry_id)
        del slots, prepared
        # Names renumbered slot by slot, so that slot s holds the name ids offsets[s] .. offsets[s + 1] - 1.
        slot_array = np.asarray(name_slot, dtype=np.int32)
        order = np.argsort(slot_array, kind="stable")
        sizes = np.bincount(slot_array, minlength=index.slot_count)
        offsets = np.zeros(index.slot_count + 1, dtype=np.int64)
        np.cumsum(sizes, out=offsets[1:])
        positions = order.tolist()
        ordered_forms = [forms[i] for i in positions]
        return cls(
            kept,
            ordered_forms,
            np.asarray(name_entry, dtype=np.int32)[order],
            [name_kind[i] for i in positions],
            index.freeze(),
            offsets,
            _first_readings(ordered_forms, offsets.tolist(), sizes.tolist(), reading),
            dict(identifiers),
            config or MatchConfig(),
        )

    @property
    def entry_count(self) -> int:
        return len(self._entries)

    @property
    def entries(self) -> Sequence[tuple[int, Entry]]:
        """The ``(version_id, entry)`` pairs the matcher screens against, in index order (read them, never change
        them: the index refers to them by position)."""
        return self._entries

    @property
    def name_count(self) -> int:
        return len(self._forms)

    # ---- screening -----------------------------------------------------------------------------------------

    def screen(self, query: Query, *, threshold: float | None = None, limit: int = 20) -> list[Match]:
        """Hits at or above the threshold (the configured one for the query's schema unless given), best first."""
        cutoff = self.config.threshold_for(query.schema_) if threshold is None else threshold
        best = self._best_names(query)
        id_hits = self._identifier_hits(query)
        for entry_id in id_hits:
            best.setdefault(entry_id, None)
        matches: list[Match] = []
        bonus = None if query.identifiers else self._max_bonus
        for entry_id, candidate in best.items():
            if bonus is not None and candidate is not None and candidate.score + bonus < cutoff:
                continue  # most candidates: no qualifier could lift them (as _match would find, at a call's cost)
            match = self._match(query, entry_id, candidate, cutoff)
            if match is not None:
                matches.append(match)
        matches.sort(key=lambda m: (-m.score, m.source, m.source_ref))
        return matches[:limit]

    def candidate_entries(self, query: Query, limit: int) -> list[tuple[int, Entry]]:
        """The entries the index retrieves for a query, before scoring (for benchmarks and diagnostics)."""
        forms = [f for group in self._query_forms(query).values() for f in group]
        seen: dict[int, Entry] = {}
        for first, end in self._slot_ranges(self._candidate_ids(forms, query.schema_, limit * 2)):
            for name_id in range(first, end):
                entry_id = self._name_entry_list[name_id]
                entry = self._entries[entry_id][1]
                if schema_compatible(query.schema_, entry.schema_.value):
                    seen.setdefault(entry_id, entry)
        return list(seen.items())[:limit]

    def _query_forms(self, query: Query) -> dict[str, list[NameForm]]:
        names = [query.name, *query.aliases]
        # One form per normalisation the compatible entries use: a person query is compared with listed persons
        # (person rules) and with entries of unknown kind (organisation rules, as those entries were indexed).
        wanted = {form_schema(s) for s in _SCHEMAS if schema_compatible(query.schema_, s)}
        return {schema: [name_form(n, schema) for n in names if n.strip()] for schema in wanted}

    def _candidate_ids(self, forms: Iterable[NameForm], schema: str, limit: int | None = None) -> IntArray:
        groups: set[tuple[str, ...]] = set()
        compacts: set[str] = set()
        for form in forms:
            groups.update(form.key_groups())
            compacts.add(form.compact)
        wanted = limit or self.config.candidates
        # A query that may be an organisation is found by its words alone (no birth date or given name to fall
        # back on): names its key weights cannot tell apart are ranked by spelling. A person query keeps the
        # plain ranking, which its many parts and its cost per query suit.
        found = self._index.retrieve(groups, compacts, wanted, by_spelling=schema != "Person")
        if not len(found.partial):
            return found.ranked
        return union_ids(found.ranked, self._closest_spellings(found.partial, compacts, wanted))

    def _closest_spellings(self, slots: IntArray, compacts: set[str], limit: int) -> IntArray:
        """The ``limit`` slots whose spaceless form is closest to the query's (rapidfuzz's ratio): among names
        that share only one part with the query, the ones whose other parts are spelt most like its own."""
        if len(slots) <= limit:
            return slots
        first_names = self._slot_offsets[slots].tolist()
        listed = [self._compacts[name_id] for name_id in first_names]
        scores = process.cdist(list(compacts), listed, scorer=fuzz.ratio, dtype=np.float32).max(axis=0)
        chosen: IntArray = slots[(-scores).argpartition(limit)[:limit]]
        chosen.sort()
        return chosen

    def _slot_ranges(self, slots: IntArray) -> zip[tuple[int, int]]:
        """The name ids of each retrieved slot, as (first, end) ranges: names are numbered slot by slot."""
        offsets = self._slot_offsets
        return zip(offsets[slots].tolist(), offsets[slots + 1].tolist(), strict=True)

    def _best_names(self, query: Query) -> dict[int, _Candidate | None]:
        """For each candidate entry, its best (query name, list name) pair."""
        names = [query.name, *query.aliases]
        primary = form_schema(query.schema_)
        forms_by_schema = {primary: [name_form(n, primary) for n in names]}
        compatible = _COMPATIBLE_SCHEMAS.get(query.schema_)
        if compatible is None:
            compatible = frozenset(s for s in _SCHEMAS if schema_compatible(query.schema_, s))
        if query.schema_ == "LegalEntity":  # retrieval with both normalisations: it may be a person
            forms_by_schema["Person"] = [name_form(n, "Person") for n in names]
        retrieval = [f for forms in forms_by_schema.values() for f in forms]
        best: dict[int, _Candidate | None] = {}
        weak, weak_kind = self.config.weights.weak_alias, NameKind.WEAK_ALIAS
        entry_of, entry_schema, kinds = self._name_entry_list, self._entry_schema, self._name_kind
        readings, forms = self._name_reading, self._forms
        for first, end in self._slot_ranges(self._candidate_ids(retrieval, query.schema_)):
            # Every name of a slot has the same normalised form: compared once per reading (nearly always one),
            # credited to each entry.
            scored: tuple[NameForm, NameScore] | None = None
            others: dict[int, tuple[NameForm, NameScore]] | None = None
            for name_id in range(first, end):
                entry_id = entry_of[name_id]
                if entry_schema[entry_id] not in compatible:
                    continue
                reading = readings[name_id]
                if reading == first:
                    if scored is None:
                        scored = self._compare(forms_by_schema, names, forms[name_id])
                    form, result = scored
                else:
                    if others is None:
                        others = {}
                    found = others.get(reading)
                    if found is None:
                        found = others[reading] = self._compare(forms_by_schema, names, forms[name_id])
                    form, result = found
                score = result.score * (weak if kinds[name_id] is weak_kind else 1.0)
                current = best.get(entry_id)
                if current is None or score > current.score:
                    best[entry_id] = _Candidate(name_id, form.original, result, score)
        return best

    @staticmethod
    def _compare(
        forms_by_schema: dict[str, list[NameForm]], names: list[str], listed: NameForm
    ) -> tuple[NameForm, NameScore]:
        """The query name that compares best with a listed form (the first of equals), normalised by the rules
        the listed name was indexed with."""
        which = "Person" if listed.is_person else "Organization"
        forms = forms_by_schema.get(which)
        if forms is None:  # e.g. a person query meeting an entry of unknown kind: organisation rules
            forms = forms_by_schema[which] = [name_form(n, which) for n in names]
        best: tuple[NameForm, NameScore] | None = None
        for form in forms:
            result = compare_names(form, listed)
            if best is None or result.score > best[1].score:
                best = form, result
        assert best is not None  # a query always has its name
        return best

    def _identifier_hits(self, query: Query) -> set[int]:
        hits: set[int] = set()
        for value in query.identifiers:
            for entry_id in self._identifiers.get(normalise_identifier(value), ()):
                if schema_compatible(query.schema_, self._entries[entry_id][1].schema_.value):
                    hits.add(entry_id)
        return hits

    def _match(self, query: Query, entry_id: int, candidate: _Candidate | None, cutoff: float) -> Match | None:
        version_id, entry = self._entries[entry_id]
        name_score = candidate.score if candidate else 0.0
        if candidate is not None and name_score + self._max_bonus < cutoff and not query.identifiers:
            return None  # no qualifier could lift it: skip computing them
        features: dict[str, Any] = {}
        adjustment = 0.0
        for feature, compute in FEATURES:
            outcome = compute(query, entry, self.config.weights)
            if outcome is None:
                continue
            value, detail = outcome
            features[feature] = {"contribution": round(value, 4), "detail": detail}
            adjustment += value
        has_identifier = "identifier" in features
        if name_score < self.config.min_name_score and not has_identifier:
            return None
        score = max(0.0, min(1.0, name_score + adjustment))
        if has_identifier:  # the same passport or registration number: an officer must look, whatever the name
            score = max(score, self.config.identifier_floor)
        if score < cutoff:
            return None
        matched_name = self._forms[candidate.name_id].original if candidate else entry.primary_name
        explanation: dict[str, Any] = {
            "query_name": candidate.query_name if candidate else query.name,
            "matched_name": matched_name,
            "name_kind": self._name_kind[candidate.name_id].value if candidate else None,
            "name_score": round(name_score, 4),
            "name_method": candidate.result.method if candidate else "identifier",
            "name_parts": [list(p) for p in candidate.result.pairs] if candidate else [],
            "features": features,
            "threshold": cutoff,
            "list_version": {"source": entry.source, "version_id": version_id},
            "engine_version": self.engine_version,
            "config_hash": self._config_hash,
        }
        return Match(
            source=entry.source,
            source_ref=entry.source_ref,
            version_id=version_id,
            schema_=entry.schema_.value,
            score=round(score, 4),
            matched_name=matched_name,
            query_name=explanation["query_name"],
            explanation=explanation,
            entry=entry,
        )
