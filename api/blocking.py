"""Blocking work (database, broker, DNS) run off the event loop in one small, bounded thread pool per process.

The hot endpoint (``POST /v1/screenings``) is ``async`` and makes exactly one hop into this pool for its whole
transaction and publish, instead of one Starlette thread-pool hop per sync dependency. The pool is bounded below the
database connection pool (``pool_size`` 10), so a burst of requests queues here rather than opening and closing
overflow connections — each of which costs PostgreSQL a backend process.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")

THREADS = 8
"""Concurrent blocking calls per API process (each may hold one database connection)."""

_executor: ThreadPoolExecutor | None = None
_lock = threading.Lock()


def _pool() -> ThreadPoolExecutor:
    global _executor
    with _lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=THREADS, thread_name_prefix="kyc-blocking")
        return _executor


async def run_blocking(func: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """``func(*args, **kwargs)`` in the pool, with the caller's context variables (log context)."""
    call = functools.partial(contextvars.copy_context().run, func, *args, **kwargs)
    return await asyncio.get_running_loop().run_in_executor(_pool(), call)
