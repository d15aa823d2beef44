"""Readiness (``/readyz``): the database answers, the broker answers, and this process has its matcher index.

Liveness (``/healthz``) says the process runs; readiness says it can do its work now, so a load balancer or compose
sends traffic only to replicas that can. The index is built in the background the first time readiness is asked
(and never again after that: a rebuild for a new list version swaps in beside the old index, so a replica stays
ready through list updates). An outage of either service makes the replica unready at once.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Protocol

import structlog
from sqlalchemy import text

from kyc.matcher_cache import config_from_settings, matcher_cache
from kyc.settings import Settings
from kyc.storage.db import get_engine

log = structlog.get_logger(__name__)


class Broker(Protocol):
    """What the API may ask the broker (``workers.enqueue.BrokerProbe``; ``api`` cannot import ``workers``)."""

    def ping(self) -> None: ...

    def queue_depth(self) -> int: ...


class IndexWarmup:
    """Builds this process's matcher once, in a thread, so that a readiness probe never waits for it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._built: set[str] = set()
        self._building: set[str] = set()
        self._failed: dict[str, str] = {}

    def state(self, settings: Settings) -> str:
        """``ok``, ``building`` or ``failed: <error class>`` (a failed build is tried again on the next call)."""
        url = settings.database_url
        with self._lock:
            if url in self._built:
                return "ok"
            if url in self._building:
                return "building"
            failure = self._failed.pop(url, None)
            self._building.add(url)
        threading.Thread(target=self._build, args=(settings,), name="index-warmup", daemon=True).start()
        return f"failed: {failure}" if failure else "building"

    def _build(self, settings: Settings) -> None:
        url = settings.database_url
        try:
            matcher_cache.get(url, config_from_settings(settings))
        except Exception as exc:
            log.warning("readyz.index_failed", error=type(exc).__name__)
            with self._lock:
                self._building.discard(url)
                self._failed[url] = type(exc).__name__
            return
        with self._lock:
            self._building.discard(url)
            self._built.add(url)


@dataclass(frozen=True)
class Readiness:
    database: str
    broker: str
    index: str

    @property
    def ready(self) -> bool:
        return self.database == "ok" and self.broker in ("ok", "embedded") and self.index == "ok"


def check(settings: Settings, broker: Broker | None, warmup: IndexWarmup) -> Readiness:
    try:
        with get_engine(settings.database_url).connect() as connection:
            connection.execute(text("SELECT 1"))
        database = "ok"
    except Exception as exc:
        log.warning("readyz.database", error=type(exc).__name__)
        database = "unreachable"
    if broker is None:
        broker_state = "embedded"  # no external broker: the embedded worker reads the jobs itself
    else:
        try:
            broker.ping()
            broker_state = "ok"
        except Exception as exc:
            log.warning("readyz.broker", error=type(exc).__name__)
            broker_state = "unreachable"
    index = warmup.state(settings) if database == "ok" else "waiting for the database"
    return Readiness(database, broker_state, index)
