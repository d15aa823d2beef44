"""Matchers over the active list versions, and a process-wide cache that swaps in a new one when a list changes.

Building takes seconds on large lists. A process asks the index store (``kyc.index_store``) first: a matcher for
the same versions and configuration built by any process on the machine is read in a fraction of that. When the
versions change under a process that already screens, the new matcher is made beside the old one in the background
and swapped in when complete; screening goes on with the old one meanwhile, so it never waits for a rebuild (a
process with no matcher at all waits for its first one). Callers holding the old reference finish with it.
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import threading
import time
import weakref
from pathlib import Path
from typing import TYPE_CHECKING

import structlog
from sqlalchemy import Connection, select, text

from kyc import index_store
from kyc.entry import Entry
from kyc.errors import Unavailable
from kyc.matching import MatchConfig, Matcher
from kyc.matching.engine import collector_paused
from kyc.settings import Settings, get_settings
from kyc.storage.db import get_engine, transaction

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

log = structlog.get_logger(__name__)


def _active_entries(session: Session, version_ids: dict[str, int]) -> list[tuple[int, Entry]]:
    from kyc.versions import load_entries  # only when building: screening from a stored index needs none of it

    return [
        (version_id, entry)
        for _source, version_id in sorted(version_ids.items())
        for entry in load_entries(session, version_id)
    ]


def config_from_settings(settings: Settings) -> MatchConfig:
    """The operator's thresholds (``KYC_MATCH_THRESHOLD``, ``KYC_MATCH_SCHEMA_THRESHOLDS``) over the defaults."""
    return MatchConfig(threshold=settings.match_threshold, schema_thresholds=dict(settings.match_schema_thresholds))


def active_versions(session: Session | Connection) -> dict[str, tuple[int, str, str]]:
    """Per source with an active version: its id, the digest of its files and the parser that read them."""
    # Plain SQL: asked before every screening, and the first ORM query of a process (a ``kyc screen`` call) costs
    # more to compile than to run.
    rows = session.execute(_ACTIVE_VERSIONS)
    return {name: (version_id, sha, parser) for name, version_id, sha, parser in rows}


def _versions_now(database_url: str) -> dict[str, tuple[int, str, str]]:
    """``active_versions`` on a connection of its own: no ORM session (nor its import) for one read."""
    with get_engine(database_url).connect() as connection:
        return active_versions(connection)


_ACTIVE_VERSIONS = text(
    "SELECT s.name, v.id, v.sha256, v.parser_version FROM list_sources s "
    "JOIN list_versions v ON v.id = s.active_version_id"
)
"""The tables of ``kyc.storage.lists.ListSource`` and ``ListVersion``, named rather than imported: the models'
module would cost a ``kyc screen`` call more than the query."""


def load_matcher(session: Session, config: MatchConfig | None = None) -> Matcher:
    """A matcher over every ACTIVE list version (sources without an active version are simply absent)."""
    from kyc.versions import active_version_ids

    version_ids = active_version_ids(session)
    matcher = Matcher.build(_active_entries(session, version_ids), config)
    matcher.version_ids = dict(version_ids)
    return matcher


def build_and_store(database_url: str, config: MatchConfig, index_dir: Path) -> str:
    """Build the matcher over the active versions and write it to the store; returns its key. The caller holds
    ``index_store.building``."""
    from kyc.storage.lists import ListEntry

    with collector_paused():  # as in Matcher.build: many objects, no cycles
        with transaction(database_url) as session:
            versions = active_versions(session)
            key = index_store.index_key(versions, config)
            rows = [
                (version_id, data)
                for _source, (version_id, _sha, _parser) in sorted(versions.items())
                for data in session.execute(select(ListEntry.data).where(ListEntry.version_id == version_id)).scalars()
            ]
        built = Matcher.build([(version_id, Entry.from_data(data)) for version_id, data in rows], config)
        built.version_ids = {source: stamp[0] for source, stamp in versions.items()}
        about = {"versions": {s: list(v) for s, v in versions.items()}, "config_hash": config.config_hash()}
        # The stored rows are each entry's canonical JSON already: written as they are, not dumped again.
        texts = [json.dumps(data, ensure_ascii=False, separators=(",", ":")) for _v, data in rows]
        del rows
        index_store.write(index_dir, key, built, about, texts)
    return key


def _build_in_child(database_url: str, config: MatchConfig, index_dir: Path) -> str:
    """``build_and_store`` in a child process (``python -m kyc.matcher_cache``): the build's memory is never the
    serving process's, and its CPU time does not compete with screening for the interpreter lock. The request goes
    on stdin, never on the command line, since a database URL may hold a password."""
    request = {"database_url": database_url, "config": config.model_dump(mode="json"), "index_dir": str(index_dir)}
    done = subprocess.run(
        [sys.executable, "-m", "kyc.matcher_cache"],
        input=json.dumps(request),
        stdout=subprocess.PIPE,
        text=True,
        check=False,
        timeout=3600,
    )
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        raise Unavailable(f"building the matcher index failed (exit {done.returncode})")
    return lines[-1]


def stored_matcher(
    database_url: str, config: MatchConfig, index_dir: Path, *, in_child: bool = False
) -> tuple[str, Matcher]:
    """The matcher over the active versions, read from the index store or built, written and read back
    (``in_child``: built by a child process). When the store cannot be written (a read-only or full disk), the
    matcher is built here and only kept in memory: screening does not depend on the store."""
    versions = _versions_now(database_url)
    key = index_store.index_key(versions, config)
    matcher = index_store.read(index_dir, key)
    if matcher is not None:
        return key, matcher
    try:
        with index_store.building(index_dir):
            matcher = index_store.read(index_dir, key)  # another process may have built it while this one waited
            if matcher is not None:
                return key, matcher
            build = _build_in_child if in_child else build_and_store
            key = build(database_url, config, index_dir)
    except OSError as exc:
        log.warning("index.store_unwritable", error=type(exc).__name__)
        return _built_here(database_url, config)
    matcher = index_store.read(index_dir, key)
    if matcher is None:
        raise Unavailable("the matcher index just stored cannot be read")
    return key, matcher


def _built_here(database_url: str, config: MatchConfig) -> tuple[str, Matcher]:
    with collector_paused(), transaction(database_url) as session:
        key = index_store.index_key(active_versions(session), config)
        return key, load_matcher(session, config)


RETRY_SECONDS = 30.0
"""After a failed background refresh, the next one is tried no sooner than this."""

_CACHES: weakref.WeakSet[MatcherCache] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for cache_ in list(_CACHES):
        cache_._after_fork()


os.register_at_fork(after_in_child=_after_fork_in_child)


class MatcherCache:
    """One matcher per database URL, replaced when the active versions (or the configuration) differ from those
    it was built from. ``background``: a process that already screens keeps doing so with its matcher while the
    one over new list versions is made (``wait=True`` on a call waits for the new one instead)."""

    def __init__(self, config: MatchConfig | None = None, *, background: bool = True) -> None:
        self._config = config
        self._background = background
        self._matchers: dict[str, tuple[str, Matcher]] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self._refreshing: dict[str, threading.Thread] = {}
        self._failed_at: dict[str, float] = {}
        _CACHES.add(self)

    def _after_fork(self) -> None:
        # A forked child has none of the parent's threads: its locks and "refresh under way" marks are the parent's.
        self._guard = threading.Lock()
        self._locks = {}
        self._refreshing = {}

    def _lock(self, database_url: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(database_url, threading.Lock())

    def get(
        self,
        database_url: str,
        config: MatchConfig | None = None,
        *,
        index_dir: Path | None = None,
        wait: bool = False,
    ) -> Matcher:
        """The matcher over the active versions. When they changed: with no matcher yet (or none over any list),
        or with ``wait``, the new one; otherwise the current one while the new one is made in the background. A
        changed configuration is always waited for."""
        wanted = config or self._config or MatchConfig()
        root = index_dir if index_dir is not None else get_settings().index_dir
        key = index_store.index_key(_versions_now(database_url), wanted)
        held = self._matchers.get(database_url)
        if held is not None and held[0] == key:
            return held[1]
        # Only a new list version is worth screening on with the old matcher for a few seconds more: a new
        # configuration changes what alerts, and a matcher over no list cannot screen at all.
        if held is not None and self._background and not wait and held[1].config == wanted and held[1].entry_count:
            self._refresh_in_background(database_url, wanted, root)
            return held[1]
        with self._lock(database_url):  # one build at a time per database; others wait, then reuse it
            held = self._matchers.get(database_url)
            if held is not None and held[0] == key:
                return held[1]
            return self._swap(database_url, *stored_matcher(database_url, wanted, root))

    def _swap(self, database_url: str, key: str, matcher: Matcher) -> Matcher:
        self._matchers[database_url] = (key, matcher)  # atomic reference swap
        # The index is many long-lived objects: keep the cyclic collector from rescanning them on every
        # collection (that is what made p99 latency spiky). Replaced matchers are still freed by reference counting.
        gc.freeze()
        log.debug("matcher.ready", versions=matcher.version_ids, names=matcher.name_count)
        return matcher

    def _refresh_in_background(self, database_url: str, config: MatchConfig, root: Path) -> None:
        with self._guard:
            running = self._refreshing.get(database_url)
            if running is not None and running.is_alive():
                return
            if time.monotonic() - self._failed_at.get(database_url, -RETRY_SECONDS) < RETRY_SECONDS:
                return  # failed a moment ago: not a new attempt (and a child process) per screening
            thread = threading.Thread(
                target=self._refresh, args=(database_url, config, root), name="matcher-refresh", daemon=True
            )
            self._refreshing[database_url] = thread
        thread.start()

    def _refresh(self, database_url: str, config: MatchConfig, root: Path) -> None:
        try:
            with self._lock(database_url):
                try:
                    fresh = stored_matcher(database_url, config, root, in_child=True)
                except Unavailable:  # the child could not build it: here, then (slower screening meanwhile)
                    fresh = stored_matcher(database_url, config, root)
                self._swap(database_url, *fresh)
        except Exception as exc:  # the old matcher keeps serving; a later call tries again
            self._failed_at[database_url] = time.monotonic()
            log.error("matcher.refresh_failed", error=type(exc).__name__)

    def current(self, database_url: str, config: MatchConfig | None = None) -> Matcher | None:
        """The matcher when one is held over the active versions (and configuration), else None: a readiness
        check that never builds."""
        wanted = config or self._config or MatchConfig()
        key = index_store.index_key(_versions_now(database_url), wanted)
        held = self._matchers.get(database_url)
        return held[1] if held is not None and held[0] == key else None

    def build_in_background(
        self, database_url: str, config: MatchConfig | None = None, *, index_dir: Path | None = None
    ) -> None:
        """Start reading or building the matcher in a daemon thread unless that is under way already (what a
        readiness probe asks for, so that the first real request does not wait for it)."""
        wanted = config or self._config or MatchConfig()
        root = index_dir if index_dir is not None else get_settings().index_dir
        if self._lock(database_url).locked() or self.refreshing(database_url) is not None:
            return
        with self._guard:
            thread = threading.Thread(
                target=self._refresh, args=(database_url, wanted, root), name="matcher-build", daemon=True
            )
            self._refreshing[database_url] = thread
        thread.start()

    def refreshing(self, database_url: str) -> threading.Thread | None:
        """The background refresh under way for ``database_url``, if any (for readiness checks and tests)."""
        thread = self._refreshing.get(database_url)
        return thread if thread is not None and thread.is_alive() else None

    def clear(self) -> None:
        with self._guard:
            self._matchers.clear()


matcher_cache = MatcherCache()
"""The process-wide cache the API and workers share."""


def matcher_for(settings: Settings, *, wait: bool = False) -> Matcher:
    """The process's matcher for these settings' database, configuration and index store."""
    return matcher_cache.get(
        settings.database_url, config_from_settings(settings), index_dir=settings.index_dir, wait=wait
    )


if __name__ == "__main__":  # the child of ``_build_in_child``: prints the key of the index it stored
    from kyc.logs import configure

    configure()
    order = json.loads(sys.stdin.read())
    print(build_and_store(order["database_url"], MatchConfig.model_validate(order["config"]), Path(order["index_dir"])))
