"""Log lines go to the current stderr and never carry a full personal identity code.

Covered: nested structured values, exception messages and tracebacks (no local variables shown), and stdlib
records from uvicorn and celery loggers — through the root logger's handlers and through uvicorn's own
non-propagating access logger with its real formatter.
"""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import structlog
from uvicorn.logging import AccessFormatter

from kyc.logs import RedactingFilter, _StderrHandler, configure

HETU = "131052-308T"
OTHER = "010594Y9032"
LOCAL = "170580-123L"


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """Undo what ``configure`` installs, so other test modules see logging as they left it."""
    factory = logging.getLogRecordFactory()
    structlog.reset_defaults()
    yield
    logging.setLogRecordFactory(factory)
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, _StderrHandler):
            root.removeHandler(handler)
        for found in [f for f in handler.filters if isinstance(f, RedactingFilter)]:
            handler.removeFilter(found)
    structlog.reset_defaults()


def _fails() -> None:
    code = "".join(["170580", "-", "123L"])  # only in a local variable: a traceback with locals would show it
    raise ValueError(f"no match for {HETU}; {len(code)}")


def test_personal_ids_are_masked_and_stderr_is_looked_up_when_writing(monkeypatch: pytest.MonkeyPatch) -> None:
    configure()
    first, second = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "stderr", first)
    structlog.get_logger("t").info("party.screened", note=f"hetu {HETU} given")
    monkeypatch.setattr(sys, "stderr", second)
    first.close()  # a closed earlier stream must not break later log lines
    structlog.get_logger("t").warning("again", value=OTHER)
    line = second.getvalue()
    assert "again" in line and OTHER not in line and "010594" in line


def test_nested_structured_values_are_masked(capsys: pytest.CaptureFixture[str]) -> None:
    configure()
    structlog.get_logger("t").info(
        "submitted", persons=[{"personal_id": HETU, "ids": (OTHER,)}], by_code={HETU: {"seen": [OTHER]}}
    )
    line = capsys.readouterr().err
    assert "submitted" in line and HETU not in line and OTHER not in line
    assert "131052-****" in line and "010594Y****" in line


@pytest.mark.parametrize("as_json", [False, True])
def test_exception_text_and_traceback_are_masked_without_locals(
    capsys: pytest.CaptureFixture[str], as_json: bool
) -> None:
    configure(json=as_json)
    try:
        _fails()
    except ValueError:
        structlog.get_logger("t").exception("screening.failed", job="j1")
    out = capsys.readouterr().err
    text = json.loads(out)["exception"] if as_json else out
    assert "Traceback (most recent call last)" in text and "_fails" in text  # the traceback is still there
    assert "ValueError: no match for 131052-****" in text
    assert HETU not in out
    assert LOCAL not in out and "170580-****" not in out  # local variables are never rendered


def test_stdlib_records_through_the_root_handlers_are_masked(capsys: pytest.CaptureFixture[str]) -> None:
    """Celery's loggers propagate to the root (``worker_hijack_root_logger=False``): its handlers must mask."""
    root = logging.getLogger()
    saved = list(root.handlers)
    root.handlers = []  # as in a deployed process: nobody configured the root logger
    try:
        configure()
        configure()  # idempotent: one handler, one filter
        assert [type(h) for h in root.handlers] == [_StderrHandler]
        assert sum(isinstance(f, RedactingFilter) for f in root.handlers[0].filters) == 1
        logging.getLogger("celery.app.trace").error("Task %s raised: %r", "t-1", ValueError(f"party {HETU}"))
        try:
            _fails()
        except ValueError:
            logging.getLogger("uvicorn.error").exception("Exception in ASGI application for %s", OTHER)
    finally:
        root.handlers = saved
    out = capsys.readouterr().err
    assert "Task t-1 raised: ValueError('party 131052-****')" in out
    assert "Exception in ASGI application for 010594Y****" in out and "ValueError: no match for 131052-****" in out
    assert HETU not in out and OTHER not in out


def test_the_filter_masks_a_record_made_without_the_factory() -> None:
    """``makeLogRecord`` (e.g. records received from another process) bypasses the factory; the filter is enough."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter())
    try:
        _fails()
    except ValueError:
        info = sys.exc_info()
    record = logging.makeLogRecord(
        {"msg": "party %(code)s", "args": {"code": HETU}, "exc_info": info, "stack_info": f"stack {OTHER}"}
    )
    handler.handle(record)
    out = stream.getvalue()
    assert "party 131052-****" in out and "ValueError: no match for 131052-****" in out and "stack 010594Y****" in out
    assert HETU not in out and OTHER not in out


def test_uvicorn_access_log_with_its_own_handler_is_masked() -> None:
    """uvicorn.access has its own handler and does not propagate; its formatter unpacks the arguments."""
    configure()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(AccessFormatter('%(client_addr)s - "%(request_line)s" %(status_code)s', use_colors=False))
    access = logging.getLogger("test.uvicorn.access")
    access.addHandler(handler)
    access.propagate = False
    access.setLevel(logging.INFO)
    try:
        access.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", f"/v1/x?pid={HETU}", "1.1", 200)
    finally:
        access.removeHandler(handler)
    assert stream.getvalue().strip() == '127.0.0.1:5000 - "GET /v1/x?pid=131052-**** HTTP/1.1" 200 OK'


@pytest.mark.parametrize(
    "query",
    ["source=170580-123l", "source=170580%2D123L", "source=170580%2d123l", "q=x%20170580-123L%26y", "pid=010594y9032"],
)
def test_access_log_masks_lower_case_and_url_encoded_codes(query: str) -> None:
    """A code in a query string reached the access log in clear when lower-case or URL-encoded."""
    configure()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(AccessFormatter('"%(request_line)s" %(status_code)s', use_colors=False))
    access = logging.getLogger("test.uvicorn.access.encoded")
    access.addHandler(handler)
    access.propagate = False
    access.setLevel(logging.INFO)
    try:
        access.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", f"/v1/hits?{query}", "1.1", 200)
    finally:
        access.removeHandler(handler)
    line = stream.getvalue()
    assert "****" in line
    for secret in ("123l", "123L", "9032"):
        assert secret not in line, line


NAME, BIRTH = "Maija Meikäläinen-Testinen", "1977-03-04"


def _database_errors(db_url: str) -> list[BaseException]:
    """Real driver errors carrying personal data: a party insert that fails (its name and birth date are the
    statement's parameters) and a unique violation on a person's name (PostgreSQL quotes the key in DETAIL)."""
    from sqlalchemy import insert
    from sqlalchemy.exc import DBAPIError

    from kyc.storage.access import User
    from kyc.storage.db import get_engine
    from kyc.storage.jobs import Party

    errors: list[BaseException] = []
    engine = get_engine(db_url)
    party = {"id": "p-1", "job_id": "no-such-job", "position": 1, "role": "representative", "schema": "Person"}
    for statement in (
        insert(Party).values(**party, name=NAME, birth_date=BIRTH, personal_id_masked=HETU, declared_pep=False),
        insert(User).values(id="u-2", name=NAME, role="analyst", created_at=datetime.now(UTC)),
    ):
        try:
            with engine.begin() as conn:
                if statement.table.name == "users":
                    conn.execute(insert(User).values(id="u-1", name=NAME, role="analyst", created_at=datetime.now(UTC)))
                conn.execute(statement)
        except DBAPIError as exc:
            errors.append(exc)
    assert len(errors) == 2
    return errors


def test_database_errors_reach_no_log_with_personal_data(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    """A party's name and birth date appeared in a worker error log inside the SQL parameters of an exception."""
    configure()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    handler.addFilter(RedactingFilter())
    task_log = logging.getLogger("test.celery.app.trace")
    task_log.addHandler(handler)
    task_log.propagate = False
    try:
        for exc in _database_errors(db_url):
            assert NAME not in str(exc) or "DETAIL" in str(exc)  # the engine hides parameters; PostgreSQL's DETAIL
            try:
                raise RuntimeError("screening failed") from exc
            except RuntimeError as outer:
                structlog.get_logger("worker").exception("screening.failed", error=exc)
                task_log.error("Task kyc.screen_job raised unexpected: %r", outer.__cause__, exc_info=True)
                task_log.error("Task failed: %s", repr(exc))  # a repr already turned into text (Celery does that)
    finally:
        task_log.removeHandler(handler)
    output = capsys.readouterr().err + stream.getvalue()
    for secret in (NAME, "Meikäläinen", BIRTH, "123L"):
        assert secret not in output, output
    assert "IntegrityError" in output and "Traceback (most recent call last)" in output
    assert "[SQL: INSERT INTO screening_parties" in output and "message hidden" in output
    if db_url.startswith("postgresql"):
        assert "sqlstate=23503" in output and "constraint_name=" in output  # enough for an operator to act on


def test_access_log_hides_api_keys_and_searched_names() -> None:
    """yente clients send the token as ``api_key=`` and a name as ``/search/…?q=``: neither reaches the log."""
    configure()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(AccessFormatter('"%(request_line)s" %(status_code)s', use_colors=False))
    access = logging.getLogger("test.uvicorn.access.yente")
    access.addHandler(handler)
    access.propagate = False
    access.setLevel(logging.INFO)
    path = "/opensanctions/search/default?limit=5&q=Maija%20Meik%C3%A4l%C3%A4inen&api_key=kyc_secret-token"
    try:
        access.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", path, "1.1", 200)
    finally:
        access.removeHandler(handler)
    line = stream.getvalue()
    assert "limit=5&q=(hidden)&api_key=(hidden)" in line, line
    assert "Maija" not in line and "secret" not in line
