"""The declarative base shared by every model, and the column types that behave the same on SQLite and
PostgreSQL: JSON for structured payloads, timezone-aware timestamps stored as UTC, random string ids where ids
leave the system. Every table is created by an Alembic migration in ``migrations/versions``."""

from __future__ import annotations

import importlib
import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    DateTime,
    TypeDecorator,
    event,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapper


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware datetimes on both backends (SQLite drops the zone; we put UTC back)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime, dict[str, Any]: JSON}


MODEL_MODULES = ("access", "cases", "hits", "jobs", "lists", "logins", "monitoring", "subjects")
"""Every module of ``kyc.storage`` that declares models."""


def register_models() -> type[Base]:
    """Import every model module, so that ``Base.metadata`` holds the whole schema (Alembic compares against it)
    and every relationship's target is declared. Runs by itself before the first mapper is configured."""
    for name in MODEL_MODULES:
        importlib.import_module(f"kyc.storage.{name}")
    return Base


event.listen(Mapper, "before_configured", register_models)


def new_id() -> str:
    return str(uuid.uuid4())
