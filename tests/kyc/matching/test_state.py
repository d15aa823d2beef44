"""A matcher exported to plain columns and restored screens exactly as the one that was built."""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache

import numpy as np
import pytest

from kyc.entry import Entry
from kyc.matching import MatchConfig, Matcher, Query
from kyc.matching.state import STATE_FORMAT, StateMismatch, export, restore
from kyc.versions import RawFile
from lists.registry import get_adapter
from tests.support.env import list_file

FILES = {
    "un_sc": "un_sc/2026-02-27_watchman/UN_consolidated.xml",
    "opensanctions": "pep/opensanctions_ftm/wikidata_sa_peps_usercrawl/entities.ftm.json",
}
QUERIES = [
    {"name": "Saddam Hussein Al-Tikriti", "schema": "Person", "birth_date": "1937"},
    {"name": "Emraan Ali", "schema": "Person"},
    {"name": "Абу Банат", "schema": "Person"},
    {"name": "حسن غول", "schema": "Person"},
    {"name": "Al-Qaida", "schema": "Organization"},
    {"name": "Muhammad bin Salman", "schema": "Person", "nationality": "SA"},
    {"name": "Nobody Inparticular", "schema": "Person"},
    {"name": "Rim Bank", "schema": "LegalEntity"},
]


@cache
def entries() -> list[tuple[int, Entry]]:
    out: list[tuple[int, Entry]] = []
    for version_id, (source, relative) in enumerate(FILES.items(), start=1):
        path = list_file(relative)
        parsed = get_adapter(source).parse([RawFile(path.name, path.read_bytes())]).entries
        out.extend((version_id, e) for e in parsed)
    return out


def _hits(matcher: Matcher, query: Mapping[str, object]) -> str:
    matches = matcher.screen(Query.model_validate(query), threshold=0.5, limit=50)
    return json.dumps(
        [[m.source, m.source_ref, m.version_id, m.score, m.matched_name, m.explanation, m.entry.to_data()]
         for m in matches], ensure_ascii=False, sort_keys=True)  # fmt: skip


def test_restored_matcher_screens_exactly_as_the_built_one() -> None:
    config = MatchConfig(threshold=0.75, schema_thresholds={"Person": 0.78})
    built = Matcher.build(entries(), config)
    restored = restore(export(built))
    assert restored.entry_count == built.entry_count and restored.name_count == built.name_count
    assert restored.version_ids == built.version_ids == {"un_sc": 1, "opensanctions": 2}
    assert restored.config == built.config
    found = 0
    for query in QUERIES:
        assert _hits(restored, query) == _hits(built, query), query["name"]
        found += bool(json.loads(_hits(built, query)))
    assert found >= 5  # the comparison is over real hits, not empty lists
    for name_id in range(0, built.name_count, 97):
        assert restored._forms[name_id] == built._forms[name_id]
    assert restored._forms[-1] == built._forms[-1] and restored.entries[-1] == built.entries[-1]
    assert list(restored.entries) == list(built.entries)  # iterated as a sequence (the compatible API does)


def test_exported_columns_hold_no_objects() -> None:
    state = export(Matcher.build(entries()[:50]))
    assert all(isinstance(a, np.ndarray) and a.dtype != object for a in state.arrays.values())
    json.dumps(state.meta)  # JSON-able throughout
    assert all(isinstance(b, bytes) for b in state.blobs.values())


def test_another_format_is_refused() -> None:
    state = export(Matcher.build(entries()[:10]))
    state.meta["format"] = STATE_FORMAT + 1
    with pytest.raises(StateMismatch):
        restore(state)


def test_a_restored_matcher_keeps_a_bounded_number_of_forms_and_entries(monkeypatch: pytest.MonkeyPatch) -> None:
    from kyc.matching import state as state_module

    monkeypatch.setattr(state_module, "FORMS_KEPT", 10)
    monkeypatch.setattr(state_module, "ENTRIES_KEPT", 5)
    built = Matcher.build(entries())
    restored = restore(export(built))
    for query in QUERIES:  # far more than 10 forms and 5 entries touched: dropped and made again, same hits
        assert _hits(restored, query) == _hits(built, query)
    forms, stored_entries = restored._forms, restored._entries
    assert sum(f is not None for f in forms._made) <= 10  # type: ignore[attr-defined]
    assert sum(e is not None for e in stored_entries._made) <= 5  # type: ignore[attr-defined]
