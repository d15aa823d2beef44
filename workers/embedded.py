"""Worker and beat inside the API process, for ``make run`` / ``kyc serve`` without Redis.

The same Celery app and task code as production, consuming from the embedded filesystem broker in threads; the
worker uses a thread pool so a slow webhook does not stall screening.
"""

from __future__ import annotations

import threading
from typing import Any

import structlog
from celery import beat
from celery.utils.nodenames import anon_nodename

from workers.app import app

log = structlog.get_logger(__name__)


class EmbeddedWorkers:
    """Start with :meth:`start`, stop with :meth:`stop`; safe to stop twice."""

    def __init__(self, concurrency: int = 2, with_beat: bool = True) -> None:
        self.concurrency = concurrency
        self.with_beat = with_beat
        self._worker: Any = None
        self._thread: threading.Thread | None = None
        self._beat: Any = None

    def start(self) -> None:
        self._worker = app.WorkController(
            app=app,
            concurrency=self.concurrency,
            pool="threads",
            hostname=anon_nodename(hostname="embedded"),
            without_heartbeat=True,
            without_mingle=True,
            without_gossip=True,
            loglevel="WARNING",
        )
        self._thread = threading.Thread(target=self._worker.start, name="kyc-worker", daemon=True)
        self._thread.start()
        if self.with_beat:
            self._beat = beat.EmbeddedService(app, thread=True)
            self._beat.start()
        log.info("embedded.started", concurrency=self.concurrency, beat=self.with_beat)

    def stop(self, timeout: float = 10.0) -> None:
        if self._beat is not None:
            self._beat.stop()
            self._beat = None
        if self._worker is not None:
            self._worker.stop(in_sighandler=False, exitcode=0)
            self._worker = None
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
