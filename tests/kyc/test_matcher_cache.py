"""The process-wide matcher cache follows the active list versions, reads and writes the shared index store, and
makes a new matcher beside the old one: screening never waits for a rebuild."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kyc import index_store
from kyc.logs import configure
from kyc.matcher_cache import MatcherCache, active_versions, load_matcher
from kyc.matching import MatchConfig, Matcher, Query
from kyc.settings import Settings
from kyc.storage.db import transaction
from kyc.versions import active_version_ids
from lists.ingest import ingest_files
from tests.support.env import list_file

UN_2025 = "un_sc/2025-11-20_mkweli/un_consolidated.xml"
UN_2026 = "un_sc/2026-02-27_watchman/UN_consolidated.xml"
EMRAAN = Query.model_validate({"name": "Emraan Ali", "schema": "Person"})


def test_load_matcher_and_cache_follow_the_active_versions(settings: Settings, tmp_path: Path) -> None:
    configure()  # logging to this process's stderr, whatever an earlier CLI test left bound
    cache_ = MatcherCache()
    ingest_files("un_sc", [list_file(UN_2025)], settings)
    first = cache_.get(settings.database_url, index_dir=tmp_path)
    assert first.entry_count == 1000
    assert cache_.get(settings.database_url, index_dir=tmp_path) is first  # unchanged versions: no rebuild
    ingest_files("un_sc", [list_file(UN_2026)], settings)
    second = cache_.get(settings.database_url, index_dir=tmp_path, wait=True)
    assert second is not first and second.entry_count == 1003
    with transaction(settings.database_url) as session:
        assert second.version_ids == active_version_ids(session)
        direct = load_matcher(session)
    assert direct.version_ids == second.version_ids
    assert second.screen(EMRAAN)[0].version_id == second.version_ids["un_sc"]
    other = cache_.get(settings.database_url, MatchConfig(threshold=0.9), index_dir=tmp_path, wait=True)
    assert other is not second and other.config.threshold == 0.9  # another configuration: another matcher


def test_a_screening_during_a_rebuild_uses_the_old_matcher_then_the_new_one(settings: Settings, tmp_path: Path) -> None:
    configure()
    cache_ = MatcherCache()
    ingest_files("un_sc", [list_file(UN_2025)], settings)
    old = cache_.get(settings.database_url, index_dir=tmp_path)
    old_version = old.version_ids["un_sc"]
    ingest_files("un_sc", [list_file(UN_2026)], settings)
    with index_store.building(tmp_path):  # another process is building: the refresh must wait for it
        started = time.perf_counter()
        during = cache_.get(settings.database_url, index_dir=tmp_path)
        assert time.perf_counter() - started < 1.0  # did not wait for the build
        assert during is old
        refresh = cache_.refreshing(settings.database_url)
        assert refresh is not None and refresh.is_alive()
        assert during.screen(EMRAAN)[0].version_id == old_version  # screening goes on meanwhile
        assert cache_.get(settings.database_url, index_dir=tmp_path) is old  # no second refresh, no wait
    refresh.join(timeout=120)
    assert not refresh.is_alive()
    after = cache_.get(settings.database_url, index_dir=tmp_path)
    assert after is not old and after.entry_count == 1003
    new_version = after.version_ids["un_sc"]
    assert new_version != old_version
    assert after.screen(EMRAAN)[0].version_id == new_version


def test_another_process_reads_the_stored_index_instead_of_building(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure()
    ingest_files("un_sc", [list_file(UN_2026)], settings)
    built = MatcherCache().get(settings.database_url, index_dir=tmp_path)
    with transaction(settings.database_url) as session:
        key = index_store.index_key(active_versions(session), MatchConfig())
    assert (tmp_path / f"index-{key}" / "meta.json").is_file()

    def no_build(*_args: object, **_kwargs: object) -> Matcher:
        raise AssertionError("built again although the store holds this index")

    monkeypatch.setattr(Matcher, "build", no_build)
    read = MatcherCache().get(settings.database_url, index_dir=tmp_path)  # a fresh process's cache
    assert read is not built and read.version_ids == built.version_ids
    assert [m.model_dump() for m in read.screen(EMRAAN)] == [m.model_dump() for m in built.screen(EMRAAN)]


def test_a_child_process_builds_the_index_and_a_failed_build_is_unavailable(settings: Settings, tmp_path: Path) -> None:
    from kyc.errors import Unavailable
    from kyc.matcher_cache import stored_matcher

    configure()
    ingest_files("un_sc", [list_file(UN_2026)], settings)
    key, matcher = stored_matcher(settings.database_url, MatchConfig(), tmp_path, in_child=True)
    assert (tmp_path / f"index-{key}" / "meta.json").is_file()
    assert matcher.entry_count == 1003 and matcher.screen(EMRAAN)
    missing = f"sqlite:///{tmp_path / 'nowhere' / 'none.sqlite3'}"
    with pytest.raises(Unavailable, match="building the matcher index failed"):
        from kyc.matcher_cache import _build_in_child

        _build_in_child(missing, MatchConfig(), tmp_path / "other")


def test_screening_does_not_depend_on_a_writable_store(settings: Settings, tmp_path: Path) -> None:
    configure()
    ingest_files("un_sc", [list_file(UN_2025)], settings)
    blocked = tmp_path / "a-file"
    blocked.write_text("not a directory")
    cache_ = MatcherCache()
    first = cache_.get(settings.database_url, index_dir=blocked / "index")  # cannot be created: built in memory
    assert first.entry_count == 1000 and first.screen(EMRAAN)
    ingest_files("un_sc", [list_file(UN_2026)], settings)
    assert cache_.get(settings.database_url, index_dir=blocked / "index") is first  # refreshing meanwhile
    refresh = cache_.refreshing(settings.database_url)
    if refresh is not None:
        refresh.join(timeout=120)
    after = cache_.get(settings.database_url, index_dir=blocked / "index")
    assert after.entry_count == 1003


def test_readiness_asks_without_building_and_starts_a_build(settings: Settings, tmp_path: Path) -> None:
    configure()
    ingest_files("un_sc", [list_file(UN_2026)], settings)
    cache_ = MatcherCache()
    assert cache_.current(settings.database_url) is None  # nothing held: not ready, and nothing built by asking
    assert not list(tmp_path.glob("index-*"))
    cache_.build_in_background(settings.database_url, index_dir=tmp_path)
    started = cache_.refreshing(settings.database_url)
    assert started is not None
    started.join(timeout=120)
    ready = cache_.current(settings.database_url)
    assert ready is not None and ready.entry_count == 1003
    assert len(ready.entries) == 1003 and ready.entries[0][0] == ready.version_ids["un_sc"]


_READ_PROBE = """
import json, sys
from pathlib import Path
from kyc.matcher_cache import MatcherCache
from kyc.matching import Query
matcher = MatcherCache().get(sys.argv[1], index_dir=Path(sys.argv[2]))
hits = matcher.screen(Query.model_validate({"name": "Emraan Ali", "schema": "Person"}))
loaded = sorted(m for m in sys.modules if m.startswith(("kyc.storage.", "sqlalchemy.orm")))
print(json.dumps({"hits": len(hits), "loaded": loaded}))
"""


def test_screening_from_the_store_declares_no_model(settings: Settings, tmp_path: Path) -> None:
    """A ``kyc screen`` call reads the active versions with plain SQL and the index from the store: importing the
    ORM and declaring the models would cost it more than the query (a fresh interpreter tells what it loaded)."""
    ingest_files("un_sc", [list_file(UN_2026)], settings)
    MatcherCache().get(settings.database_url, index_dir=tmp_path)  # stored
    done = subprocess.run(
        [sys.executable, "-c", _READ_PROBE, settings.database_url, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["hits"] >= 1
    assert found["loaded"] == ["kyc.storage.db"]
