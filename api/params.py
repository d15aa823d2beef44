"""Annotated parameter types shared by routers.

``DbId``: a database row id in a path. Python integers are unbounded but database integers are not: an id beyond 64
bits overflowed in the driver (``OverflowError``, a 500). Bounded here, such an id is a 422 naming the parameter;
any id in range that matches no row is the router's ordinary 404.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

MAX_DB_ID = 2**63 - 1
"""The largest signed 64-bit integer: what both SQLite and PostgreSQL can bind."""

DbId = Annotated[int, Path(ge=1, le=MAX_DB_ID, description="A record id (1 to 2^63 - 1).")]
