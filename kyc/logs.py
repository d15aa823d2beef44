"""Structured logging to stderr, so that command output on stdout (JSON lines) stays machine-readable.

No log line may carry a full personal identity code, whatever a caller put into it:

* structlog events: ``format_exc_info`` turns a traceback into text first, then ``kyc.crypto.redact_processor``
  masks every string, nested ones included; the console renderer prints that text as is (``plain_traceback``),
  never a rich traceback with local variables, which would show values redaction has not seen.
* stdlib records (uvicorn, celery, httpx, SQLAlchemy): a ``RedactingFilter`` on every handler of the root logger
  (one writing to stderr is added when there is none), and the same masking when a record is created, because
  uvicorn's own loggers write through handlers of their own that do not propagate to the root.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Mapping
from typing import Any, TextIO

import structlog

from kyc.crypto import redact, redact_processor, redact_value

_STDLIB_FORMAT = "%(asctime)s [%(levelname)s] %(name)s: %(message)s"
_FACTORY_MARK = "kyc_redacting"


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


class _StderrHandler(logging.Handler):
    """The root logger's handler when nobody configured one: the current ``sys.stderr``, as ``_StderrLogger``."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
            sys.stderr.flush()
        except Exception:  # logging must never break the caller; Handler.handleError reports it
            self.handleError(record)


class RedactingFilter(logging.Filter):
    """Masks personal identity codes in a stdlib record's message, arguments, traceback and stack text.

    It never drops a record. The traceback is rendered here (and cached in ``exc_text``, which formatters use
    instead of rendering their own) so the text that reaches the output is the masked one.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        redact_record(record)
        return True


def redact_record(record: logging.LogRecord) -> None:
    """Mask in place; idempotent, so a record masked when created passes a handler's filter unchanged."""
    record.msg = redact(record.msg if isinstance(record.msg, str) else str(record.msg))
    if isinstance(record.args, Mapping):
        record.args = {key: _redact_arg(value) for key, value in record.args.items()}
    elif isinstance(record.args, tuple):
        record.args = tuple(_redact_arg(value) for value in record.args)
    if record.exc_info and not record.exc_text:
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = redact(record.exc_text)
    if record.stack_info:
        record.stack_info = redact(record.stack_info)


class _Masked:
    """Stands in for an argument whose text holds a code: masked for ``%s`` and for ``%r`` alike."""

    __slots__ = ("_repr", "_str")

    def __init__(self, shown: str, represented: str) -> None:
        self._str, self._repr = shown, represented

    def __str__(self) -> str:
        return self._str

    def __repr__(self) -> str:
        return self._repr


def _redact_arg(value: Any) -> Any:
    """Arguments keep their type (uvicorn's access formatter unpacks them) unless their text holds a code."""
    if isinstance(value, str | dict | list | tuple | set | frozenset):
        return redact_value(value)
    if value is None or isinstance(value, bool | int | float | _Masked):
        return value
    shown, represented = str(value), repr(value)
    masked, masked_repr = redact(shown), redact(represented)
    if masked == shown and masked_repr == represented:
        return value
    return _Masked(masked, masked_repr)


def _redacting_factory(make: Callable[..., logging.LogRecord]) -> Callable[..., logging.LogRecord]:
    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make(*args, **kwargs)
        redact_record(record)
        return record

    setattr(factory, _FACTORY_MARK, True)
    return factory


def configure_stdlib() -> None:
    """Mask personal ids in every stdlib log record; safe to call again (nothing is installed twice)."""
    root = logging.getLogger()
    if not root.handlers:
        fallback = _StderrHandler()
        fallback.setFormatter(logging.Formatter(_STDLIB_FORMAT))
        root.addHandler(fallback)
    for handler in root.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
    current = logging.getLogRecordFactory()
    if not getattr(current, _FACTORY_MARK, False):
        logging.setLogRecordFactory(_redacting_factory(current))


def configure(level: int = logging.INFO, json: bool = False) -> None:
    processors: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        redact_processor,
    ]
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer()
        if json
        else structlog.dev.ConsoleRenderer(colors=False, exception_formatter=structlog.dev.plain_traceback)
    )
    structlog.configure(
        processors=[*processors, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=_factory,
        cache_logger_on_first_use=False,
    )
    configure_stdlib()
