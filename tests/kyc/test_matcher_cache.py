"""The process-wide matcher cache follows the active list versions and rebuilds only when they change."""

from __future__ import annotations

from kyc.logs import configure
from kyc.matcher_cache import MatcherCache, load_matcher
from kyc.matching import Query
from kyc.settings import Settings
from kyc.storage.db import transaction
from kyc.versions import active_version_ids
from lists.ingest import ingest_files
from tests.support.env import list_file

UN_2025 = "un_sc/2025-11-20_mkweli/un_consolidated.xml"
UN_2026 = "un_sc/2026-02-27_watchman/UN_consolidated.xml"


def test_load_matcher_and_cache_follow_the_active_versions(settings: Settings) -> None:
    configure()  # logging to this process's stderr, whatever an earlier CLI test left bound
    cache_ = MatcherCache()
    ingest_files("un_sc", [list_file(UN_2025)], settings)
    first = cache_.get(settings.database_url)
    assert first.entry_count == 1000
    assert cache_.get(settings.database_url) is first  # unchanged versions: no rebuild
    ingest_files("un_sc", [list_file(UN_2026)], settings)
    second = cache_.get(settings.database_url)
    assert second is not first and second.entry_count == 1003
    with transaction(settings.database_url) as session:
        assert second.version_ids == active_version_ids(session)
        direct = load_matcher(session)
    assert direct.version_ids == second.version_ids
    query = Query.model_validate({"name": "Emraan Ali", "schema": "Person"})
    assert second.screen(query)[0].version_id == second.version_ids["un_sc"]
