"""The on-disk index store: what a key names, atomic and safe files, unreadable indexes rebuilt, old ones pruned."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import numpy as np
import pytest

from kyc import index_store
from kyc.countries import COUNTRY_NAMES_FILE
from kyc.entry import Entry
from kyc.matching import MatchConfig, Matcher, Query
from kyc.versions import RawFile
from lists.un_sc import UnScAdapter
from tests.support.env import list_file

UN_2026 = "un_sc/2026-02-27_watchman/UN_consolidated.xml"
VERSIONS = {"un_sc": (7, "ab" * 32, "un_sc/3")}
EMRAAN = Query.model_validate({"name": "Emraan Ali", "schema": "Person"})


@cache
def un_matcher() -> Matcher:
    path = list_file(UN_2026)
    entries: list[Entry] = UnScAdapter().parse([RawFile(path.name, path.read_bytes())]).entries
    return Matcher.build([(7, e) for e in entries])


def test_the_key_names_versions_digests_parsers_and_configuration() -> None:
    key = index_store.index_key(VERSIONS, MatchConfig())
    assert key == index_store.index_key(dict(VERSIONS), MatchConfig())
    assert key != index_store.index_key({"un_sc": (8, "ab" * 32, "un_sc/3")}, MatchConfig())
    assert key != index_store.index_key({"un_sc": (7, "cd" * 32, "un_sc/3")}, MatchConfig())
    assert key != index_store.index_key({"un_sc": (7, "ab" * 32, "un_sc/4")}, MatchConfig())
    assert key != index_store.index_key(VERSIONS, MatchConfig(threshold=0.9))
    assert key != index_store.index_key({**VERSIONS, "eu_fsf": (9, "ef" * 32, "eu/1")}, MatchConfig())


def test_written_then_read_screens_alike_and_holds_only_data_files(tmp_path: Path) -> None:
    built = un_matcher()
    key = index_store.index_key(VERSIONS, built.config)
    directory = index_store.write(tmp_path, key, built)
    assert sorted({p.suffix for p in directory.iterdir()}) == [".json", ".npy", ".txt"]
    assert not list(tmp_path.glob(".building-*"))  # the temporary directory was renamed into place
    read = index_store.read(tmp_path, key)
    assert read is not None
    assert [m.model_dump() for m in read.screen(EMRAAN)] == [m.model_dump() for m in built.screen(EMRAAN)]
    assert read.screen(EMRAAN)[0].version_id == 7
    index_store.write(tmp_path, key, built)  # written again (another process raced): the stored one stays


def test_an_index_that_is_missing_damaged_or_pickled_is_not_read(tmp_path: Path) -> None:
    key = index_store.index_key(VERSIONS, MatchConfig())
    assert index_store.read(tmp_path, key) is None
    directory = index_store.write(tmp_path, key, un_matcher())
    # An object array is stored with pickle: loading it could run code, so it is refused.
    np.save(directory / "name_entry.npy", np.array([object()], dtype=object), allow_pickle=True)
    assert index_store.read(tmp_path, key) is None
    directory = index_store.write(tmp_path, "other", un_matcher())
    meta = json.loads((directory / "meta.json").read_text(encoding="utf-8"))
    (directory / "meta.json").write_text(json.dumps({**meta, "key": "third"}), encoding="utf-8")
    assert index_store.read(tmp_path, "other") is None  # a directory holding another key's index
    (directory / "meta.json").write_text("{not json", encoding="utf-8")
    assert index_store.read(tmp_path, "other") is None


def test_old_indexes_are_pruned(tmp_path: Path) -> None:
    matcher = Matcher.build(list((7, e) for _v, e in un_matcher()._entries)[:20])
    for n in range(index_store.KEEP + 3):
        index_store.write(tmp_path, f"k{n}", matcher)
    kept = sorted(p.name for p in tmp_path.glob("index-*"))
    assert len(kept) == index_store.KEEP + 1
    assert f"index-k{index_store.KEEP + 2}" in kept  # the one just written


def test_new_country_names_make_a_new_index_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The genitive rule reads ``kyc/country_names.tsv``: a file written again from a newer countrynames changes
    name forms, so an index built with the old one must not be read."""
    before = index_store.index_key({"un_sc": (1, "sha", "1")}, MatchConfig())
    changed = tmp_path / "country_names.tsv"
    changed.write_text(COUNTRY_NAMES_FILE.read_text(encoding="utf-8") + "atlantis\tXA\n", encoding="utf-8")
    monkeypatch.setattr("kyc.index_store.COUNTRY_NAMES_FILE", changed)
    index_store.engine_digest.cache_clear()
    try:
        assert index_store.index_key({"un_sc": (1, "sha", "1")}, MatchConfig()) != before
    finally:
        monkeypatch.undo()
        index_store.engine_digest.cache_clear()
    assert index_store.index_key({"un_sc": (1, "sha", "1")}, MatchConfig()) == before
