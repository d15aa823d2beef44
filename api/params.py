"""Annotated parameter and field types shared by routers.

``DbId``: a database row id in a path. Python integers are unbounded but database integers are not: an id beyond 64
bits overflowed in the SQLite driver (``OverflowError``, a 500) and one beyond 32 bits is out of range for
PostgreSQL's ``integer`` columns the ids live in. Bounded here, such an id is a 422 naming the parameter; any id in
range that matches no row is the router's ordinary 404.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path
from pydantic import AfterValidator

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
