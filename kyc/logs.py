"""Structured logging to stderr, so that command output on stdout (JSON lines) stays machine-readable.

Every event passes through ``kyc.crypto.redact_processor`` before rendering: no log line carries a full personal
identity code, whatever a caller put into it.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, TextIO

import structlog

from kyc.crypto import redact_processor


class _StderrLogger:
    """Writes to whatever ``sys.stderr`` is at the moment of writing.

    ``PrintLoggerFactory(file=sys.stderr)`` binds the stream once; test runners and daemons swap ``sys.stderr``
    and the bound stream may be closed by the time a later line is logged.
    """

    def msg(self, message: str) -> None:
        stream: TextIO = sys.stderr
        stream.write(message + "\n")
        stream.flush()

    log = debug = info = warn = warning = error = critical = exception = fatal = msg


def _factory(*_args: Any) -> _StderrLogger:
    return _StderrLogger()


def configure(level: int = logging.INFO, json: bool = False) -> None:
    processors: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        redact_processor,
    ]
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[*processors, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=_factory,
        cache_logger_on_first_use=False,
    )
