"""Structured logging to stderr, so that command output on stdout (JSON lines) stays machine-readable.

No log line may carry personal data, whatever a caller put into it. Identity codes are masked wherever they appear;
names and birth dates have no shape to mask, so the places they leak through are closed instead: database errors.
An exception of the database driver carries the statement's parameters (hidden by the engines, ``kyc.storage.db``)
and the server's ``DETAIL`` (``Key (name)=(Matti Meikäläinen) already exists``) — so a database error is logged as
its class, SQLSTATE, constraint, table and column and the statement without parameters, never its message:

* structlog events: :func:`format_exc_info` turns a traceback into text first (database errors as above), then
  :func:`scrub_processor` removes ``DETAIL``/parameter text from strings and ``kyc.crypto.redact_processor``
  masks every string, nested ones included; the console renderer prints that text as is (``plain_traceback``),
  never a rich traceback with local variables, which would show values redaction has not seen.
* stdlib records (uvicorn, celery, httpx, SQLAlchemy): a ``RedactingFilter`` on every handler of the root logger
  (one writing to stderr is added when there is none), and the same masking when a record is created, because
  uvicorn's own loggers write through handlers of their own that do not propagate to the root.
"""

from __future__ import annotations

import logging
import re
import sys
import traceback
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from types import TracebackType
from typing import Any, TextIO

import structlog

from kyc.crypto import redact, redact_processor, redact_value

_STDLIB_FORMAT = "%(asctime)s [%(levelname)s] %(name)s: %(message)s"
_FACTORY_MARK = "kyc_redacting"


# Text a database error puts into messages and reprs (also when it reaches a log line as a string, e.g. Celery's
# "Task raised: %r"): the server's detail lines, parameter dumps, and messages quoting the rejected input.
_DB_DETAIL = re.compile(r"(DETAIL|HINT|CONTEXT|WHERE):\s.*?(?=\\n|\n|$)")  # no \b: reprs escape newlines
_DB_PARAMETERS = re.compile(r"\[parameters: .*?(?=\\n|\n|$)")
_DB_QUOTED_INPUT = re.compile(r"(invalid input (?:syntax|value)[^:\n]*|for type [a-z ]+): (\".*?\"|'.*?')")


def scrub_database_text(text: str) -> str:
    """``text`` without what database errors quote from the data (detail lines, parameters, rejected input)."""
    if "DETAIL" not in text and "parameters" not in text and "invalid input" not in text:
        return text
    text = _DB_DETAIL.sub(r"\1: (hidden)", text)
    text = _DB_PARAMETERS.sub("[parameters hidden]", text)
    return _DB_QUOTED_INPUT.sub(r"\1: (hidden)", text)


_API_KEY = re.compile(r"([?&]api_key=)[^&\s\"']*")
_SEARCH_TEXT = re.compile(r"(/search/[^?\s]*\?(?:[^\s#]*?&)?q=)[^&\s\"']*")
"""The OpenSanctions-compatible API takes a token as ``api_key=`` and a searched name as ``/search/…?q=``: both
would otherwise reach uvicorn's access log as part of the path."""


def scrub_url_secrets(text: str) -> str:
    """``text`` with the values of ``api_key=`` and of a search's ``q=`` hidden."""
    if "api_key=" in text:
        text = _API_KEY.sub(r"\1(hidden)", text)
    if "/search/" in text and "q=" in text:
        text = _SEARCH_TEXT.sub(r"\1(hidden)", text)
    return text


def _scrub_value(value: Any) -> Any:
    if isinstance(value, str):
        return scrub_url_secrets(scrub_database_text(value))
    if isinstance(value, dict):
        return {key: _scrub_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple) and not hasattr(value, "_fields"):
        return type(value)(_scrub_value(item) for item in value)
    if isinstance(value, BaseException) and _driver_error(value) is not None:
        return exception_summary(value)
    return value


def scrub_processor(_logger: object, _method: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog: database error text out of every string of the event (after :func:`format_exc_info`)."""
    for key, value in event_dict.items():
        event_dict[key] = _scrub_value(value)
    return event_dict


def _driver_error(exc: BaseException) -> BaseException | None:
    """The driver's exception behind a database error (itself when it is one), or None."""
    # Only a process that imported SQLAlchemy can hold its errors: the command line's help must not import it.
    exc_module = sys.modules.get("sqlalchemy.exc")
    if exc_module is not None and isinstance(exc, exc_module.StatementError):
        return exc.orig if isinstance(exc.orig, BaseException) else exc
    module = type(exc).__module__
    if module.startswith(("psycopg", "sqlite3")):
        return exc
    return None


def exception_summary(exc: BaseException) -> str:
    """``Type: message`` for the log — for a database error without the message, which may quote data."""
    name = f"{type(exc).__module__}.{type(exc).__qualname__}".removeprefix("builtins.")
    driver = _driver_error(exc)
    if driver is None:
        return f"{name}: {redact(str(exc))}" if str(exc) else name
    parts = [name]
    if driver is not exc:
        parts.append(f"({type(driver).__module__}.{type(driver).__qualname__})")
    diag = getattr(driver, "diag", None)
    for label in ("sqlstate", "constraint_name", "table_name", "column_name", "datatype_name"):
        value = getattr(diag, label, None) or (getattr(driver, label, None) if label == "sqlstate" else None)
        if value:
            parts.append(f"{label}={value}")
    if type(driver).__module__.startswith("sqlite3"):
        parts.append(f"message={scrub_database_text(str(driver))!r}")  # SQLite's messages name no values
    statement = getattr(exc, "statement", None)
    if statement:
        parts.append(f"[SQL: {' '.join(str(statement).split())[:500]}]")
    return " ".join(parts) + " (message hidden: it may quote data)"


def format_exception_safely(
    exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
) -> str:
    """A traceback like ``traceback.format_exception`` (frames and the cause chain, no local variables) whose
    exception lines are :func:`exception_summary`."""
    if exc is None:
        return ""
    chunks: list[str] = []
    for index, (current, link) in enumerate(_chain(exc)):
        if index:
            chunks.append(f"\n{link}\n\n")
        trace = tb if current is exc else current.__traceback__
        if trace is not None:
            chunks.append("Traceback (most recent call last):\n")
            chunks.extend(traceback.format_tb(trace))
        chunks.append(exception_summary(current) + "\n")
    return redact("".join(chunks)).rstrip("\n")


_CAUSE = "The above exception was the direct cause of the following exception:"
_CONTEXT = "During handling of the above exception, another exception occurred:"


def _chain(exc: BaseException) -> Iterator[tuple[BaseException, str]]:
    """The exception and its causes, oldest first (as Python prints them), each with the line linking it."""
    found: list[tuple[BaseException, str]] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if current.__cause__ is not None:
            link, following = _CAUSE, current.__cause__
        elif current.__context__ is not None and not current.__suppress_context__:
            link, following = _CONTEXT, current.__context__
        else:
            link, following = "", None
        found.append((current, link))
        current = following
    for index, (item, link) in enumerate(reversed(found)):
        yield item, link if index else ""


def format_exc_info(logger: object, method: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog's ``format_exc_info`` with :func:`format_exception_safely`."""
    exc_info = event_dict.pop("exc_info", None)
    if exc_info:
        if exc_info is True:
            exc_info = sys.exc_info()
        elif isinstance(exc_info, BaseException):
            exc_info = (type(exc_info), exc_info, exc_info.__traceback__)
        if isinstance(exc_info, tuple) and exc_info[1] is not None:
            event_dict["exception"] = format_exception_safely(*exc_info)
    return event_dict


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
    message = record.msg if isinstance(record.msg, str) else str(record.msg)
    record.msg = scrub_url_secrets(scrub_database_text(redact(message)))
    if isinstance(record.args, Mapping):
        record.args = {key: _redact_arg(value) for key, value in record.args.items()}
    elif isinstance(record.args, tuple):
        record.args = tuple(_redact_arg(value) for value in record.args)
    if record.exc_info and not record.exc_text:
        record.exc_text = format_exception_safely(*record.exc_info)
    if record.exc_text:
        record.exc_text = scrub_database_text(redact(record.exc_text))
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
    """Arguments keep their type (uvicorn's access formatter unpacks them) unless their text holds a code or
    database error text; a database error argument is shown as its :func:`exception_summary`."""
    if isinstance(value, BaseException) and _driver_error(value) is not None:
        summary = exception_summary(value)
        return _Masked(summary, summary)
    if isinstance(value, str | dict | list | tuple | set | frozenset):
        return _scrub_value(redact_value(value))
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
        format_exc_info,
        scrub_processor,
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
