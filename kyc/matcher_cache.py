"""Matchers over the active list versions, and a process-wide cache that swaps in a new one when a list changes.

Building takes seconds on large lists, so screening never waits for a rebuild it does not need, and a rebuild
never leaves a half-built index visible: the new matcher is built completely, then replaces the old reference
(callers holding the old one finish with it).
"""

from __future__ import annotations

import gc
import threading

from sqlalchemy.orm import Session

from kyc.entry import Entry
from kyc.matching.engine import Matcher
from kyc.matching.model import MatchConfig
from kyc.settings import Settings
from kyc.storage.db import transaction
from kyc.versions import active_version_ids, load_entries


def _active_entries(session: Session, version_ids: dict[str, int]) -> list[tuple[int, Entry]]:
    return [
        (version_id, entry)
        for _source, version_id in sorted(version_ids.items())
        for entry in load_entries(session, version_id)
    ]


def config_from_settings(settings: Settings) -> MatchConfig:
    """The operator's thresholds (``KYC_MATCH_THRESHOLD``, ``KYC_MATCH_SCHEMA_THRESHOLDS``) over the defaults."""
    return MatchConfig(threshold=settings.match_threshold, schema_thresholds=dict(settings.match_schema_thresholds))


def load_matcher(session: Session, config: MatchConfig | None = None) -> Matcher:
    """A matcher over every ACTIVE list version (sources without an active version are simply absent)."""
    version_ids = active_version_ids(session)
    matcher = Matcher.build(_active_entries(session, version_ids), config)
    matcher.version_ids = dict(version_ids)
    return matcher


class MatcherCache:
    """One matcher per database URL, rebuilt when ``active_version_ids`` differ from those it was built from."""

    def __init__(self, config: MatchConfig | None = None) -> None:
        self._config = config
        self._matchers: dict[str, Matcher] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def _lock(self, database_url: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(database_url, threading.Lock())

    def get(self, database_url: str, config: MatchConfig | None = None) -> Matcher:
        """The matcher over the active versions; rebuilt when they, or the given configuration, changed."""
        wanted = config or self._config or MatchConfig()
        with transaction(database_url) as session:
            current_ids = active_version_ids(session)
        matcher = self._matchers.get(database_url)
        if matcher is not None and matcher.version_ids == current_ids and matcher.config == wanted:
            return matcher
        with self._lock(database_url):  # one rebuild at a time per database; others wait, then reuse it
            matcher = self._matchers.get(database_url)
            if matcher is not None and matcher.version_ids == current_ids and matcher.config == wanted:
                return matcher
            with transaction(database_url) as session:
                fresh = load_matcher(session, wanted)
            self._matchers[database_url] = fresh  # atomic reference swap
            # The index is millions of long-lived objects: keep the cyclic collector from rescanning them on
            # every collection (that is what made p99 latency spiky). Replaced matchers are still freed by
            # reference counting.
            gc.collect()
            gc.freeze()
            return fresh

    def current(self, database_url: str, config: MatchConfig | None = None) -> Matcher | None:
        """The matcher when one is already built over the active versions (and configuration), else None: a
        readiness check that never builds."""
        wanted = config or self._config or MatchConfig()
        with transaction(database_url) as session:
            current_ids = active_version_ids(session)
        matcher = self._matchers.get(database_url)
        if matcher is not None and matcher.version_ids == current_ids and matcher.config == wanted:
            return matcher
        return None

    def build_in_background(self, database_url: str, config: MatchConfig | None = None) -> None:
        """Start building the matcher in a daemon thread unless a build for that database is already running
        (what a readiness probe asks for, so that the first real request does not wait for the build)."""
        if self._lock(database_url).locked():
            return
        thread = threading.Thread(target=self.get, args=(database_url, config), daemon=True, name="matcher-build")
        thread.start()

    def clear(self) -> None:
        with self._guard:
            self._matchers.clear()


matcher_cache = MatcherCache()
"""The process-wide cache the API and workers share."""
