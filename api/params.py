"""Annotated parameter and field types shared by routers.

``DbId``: a database row id in a path. Python integers are unbounded but database integers are not: an id beyond 64
bits overflowed in the SQLite driver (``OverflowError``, a 500) and one beyond 32 bits is out of range for
PostgreSQL's ``integer`` columns the ids live in. Bounded here, such an id is a 422 naming the parameter; any id in
range that matches no row is the router's ordinary 404.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from fastapi import Path
from pydantic import AfterValidator, BeforeValidator

from kyc.text import refuse_forbidden

MAX_DB_ID = 2**31 - 1
"""The largest value of an ``Integer`` id column on PostgreSQL (signed 32 bits)."""

DbId = Annotated[int, Path(ge=1, le=MAX_DB_ID, description="A record id (1 to 2^31 - 1).")]


def _single_line(value: str) -> str:
    return refuse_forbidden(value)


def _multi_line(value: str) -> str:
    return refuse_forbidden(value, multiline=True)


SingleLineText = Annotated[str, AfterValidator(_single_line)]
"""References and identifiers typed by people or clients: no control, format (bidi, zero-width) or separator
characters, so what is stored is what every reader sees (``kyc.text``). 422 names the field."""
FreeText = Annotated[str, AfterValidator(_multi_line)]
"""Reasons and comments: like :data:`SingleLineText`, but line breaks and tabs are allowed."""


_ISO_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}([Tt ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?)?([Zz]|[+-]\d{2}:?\d{2})?$")


def _iso_only(value: Any) -> Any:
    """Only ISO 8601 text: pydantic would also read ``8023509674908`` as milliseconds since 1970 (the year 2224),
    which the documented ``date-time`` format does not allow and no client means."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _ISO_DATE_TIME.match(value):
        raise ValueError("must be an ISO 8601 date or date-time, e.g. 2026-03-01T12:00:00Z")
    return value


IsoDateTime = Annotated[datetime, BeforeValidator(_iso_only)]
"""A ``date-time`` query parameter given as ISO 8601 text (a date alone means its midnight)."""
