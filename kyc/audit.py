"""The audit trail: who did what to which record, when and for which purpose — tamper-evident.

Every row carries ``prev_hash`` and ``row_hash = sha256(prev_hash + canonical JSON of its fields)``; ids are
contiguous from 1 and the newest id and hash are kept in ``audit_head``. A modified row breaks its own hash, a
deleted row leaves a gap or a broken link, and a deleted tail no longer matches the head. Appends are serialised so
concurrent writers never fork the chain: the first statement of an append is an ``UPDATE`` of the head row that
claims the next id and returns the previous hash (``RETURNING``), which takes the head's row lock on PostgreSQL and
the database write lock on SQLite until the transaction ends; a concurrent appender waits on that row, then reads
the committed head. A rolled-back transaction gives its claimed id back with everything else, so ids stay
contiguous. Then one more statement writes the row and the new head hash (PostgreSQL: one ``WITH ... INSERT``
statement; SQLite: two). Submissions are the hot path: two round trips where the advisory-lock design needed five,
and callers append last, just before committing, so the head is held as briefly as possible.

Details must not contain personal data: the log outlives case data (it is evidence of who accessed what), so it
names records by id only. ``record`` refuses well-known personal keys to catch mistakes early.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Connection, Executable, RowMapping, Table, bindparam, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from kyc.storage.access import AuditHead, AuditLog
from kyc.storage.base import utcnow

if TYPE_CHECKING:
    from kyc.access import Principal

GENESIS = "0" * 64
DEFAULT_PURPOSE = "aml_cdd"
_HEAD_ID = 1
_PERSONAL_KEYS = frozenset(
    {
        "name",
        "full_name",
        "first_name",
        "last_name",
        "personal_id",
        "birth_date",
        "date_of_birth",
        "address",
        "email",
        "phone",
        "nationality",
    }
)


class PersonalDataInAudit(ValueError):
    pass


@dataclass(frozen=True)
class AuditVerification:
    ok: bool
    checked: int
    first_bad_id: int | None = None
    reason: str | None = None
    head_hash: str | None = None
    """The newest row hash: publish or store it elsewhere to anchor the chain outside the database."""


def record(
    session: Session,
    *,
    actor: Principal | str,
    action: str,
    object_type: str,
    object_id: str,
    purpose: str = DEFAULT_PURPOSE,
    details: Mapping[str, Any] | None = None,
) -> None:
    """Append one row to the chain inside the caller's transaction (it commits or rolls back with the action).

    Core statements on the session's connection, not the ORM unit of work: the append is on every write path,
    and the head row stays locked from here to the caller's commit.
    """
    payload = _checked_details(dict(details or {}))
    session.flush()  # pending ORM changes first (callers may rely on their ids), before the head is locked
    connection = session.connection()
    row_id, prev_hash = _claim_next(connection)
    row: dict[str, Any] = {
        "id": row_id,
        "at": utcnow(),
        "actor": actor if isinstance(actor, str) else actor.user_id,
        "actor_name": None if isinstance(actor, str) else actor.name,
        "role": None if isinstance(actor, str) else str(actor.role),
        "action": action,
        "object_type": object_type,
        "object_id": str(object_id),
        "purpose": purpose,
        "details": payload,
        "prev_hash": prev_hash,
    }
    row["row_hash"] = compute_hash(prev_hash, row)
    params = {f"log_{key}": value for key, value in row.items()}
    if connection.dialect.name == "postgresql":
        connection.execute(_APPEND_AND_SET_HEAD, params)
    else:
        connection.execute(_APPEND, params)
        connection.execute(_SET_HEAD, {"log_row_hash": row["row_hash"]})


_LOG: Table = cast(Table, AuditLog.__table__)
_HEAD: Table = cast(Table, AuditHead.__table__)
# Built once, so an append constructs no statement. The parameters are prefixed (``log_id``...): an UPDATE given a
# parameter named like one of its table's columns would also SET that column.
_CLAIM = (
    update(_HEAD)
    .where(_HEAD.c.id == _HEAD_ID)
    .values(last_id=_HEAD.c.last_id + 1)
    .returning(_HEAD.c.last_id, _HEAD.c.last_hash)
)
_APPEND = insert(_LOG).values({column.name: bindparam(f"log_{column.name}") for column in _LOG.columns})
_SET_HEAD = update(_HEAD).where(_HEAD.c.id == _HEAD_ID).values(last_hash=bindparam("log_row_hash"))
_APPEND_AND_SET_HEAD = _SET_HEAD.add_cte(_APPEND.cte("appended"))
"""PostgreSQL: ``WITH appended AS (INSERT INTO audit_log ...) UPDATE audit_head ...`` in one round trip."""


def _claim_next(connection: Connection) -> tuple[int, str]:
    """Lock the head row, claim the next id and return it with the chain's newest hash (one statement).

    The head row is created by the first append ever (``ON CONFLICT DO NOTHING``, so two first appenders cannot
    both create it).
    """
    head = connection.execute(_CLAIM).first()
    if head is None:
        connection.execute(_create_head(connection.dialect.name))
        head = connection.execute(_CLAIM).one()
    return int(head.last_id), str(head.last_hash)


def _create_head(dialect: str) -> Executable:
    values = {"id": _HEAD_ID, "last_id": 0, "last_hash": GENESIS}
    if dialect == "postgresql":
        return postgresql.insert(_HEAD).values(values).on_conflict_do_nothing(index_elements=["id"])
    if dialect == "sqlite":
        return sqlite.insert(_HEAD).values(values).on_conflict_do_nothing(index_elements=["id"])
    return insert(_HEAD).values(values)


def _checked_details(details: dict[str, Any]) -> dict[str, Any]:
    found = sorted(_personal_keys(details))
    if found:
        raise PersonalDataInAudit(f"audit details must not carry personal data: keys {', '.join(found)}")
    # Round-trip now, so the hashed form is exactly what the JSON column gives back at verification time.
    return json.loads(json.dumps(details, sort_keys=True, default=_refuse))  # type: ignore[no-any-return]


def _personal_keys(value: Any) -> set[str]:
    if isinstance(value, Mapping):
        found = {str(k) for k in value if str(k).lower() in _PERSONAL_KEYS}
        for item in value.values():
            found |= _personal_keys(item)
        return found
    if isinstance(value, list | tuple):
        return set().union(*(_personal_keys(item) for item in value)) if value else set()
    return set()


def _refuse(value: Any) -> Any:
    raise TypeError(f"audit details must be JSON values, got {type(value).__name__}")


_HASHED = ("id", "at", "actor", "actor_name", "role", "action", "object_type", "object_id", "purpose", "details")


def _iso(value: datetime) -> str:
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat(timespec="microseconds")


def compute_hash(prev_hash: str, fields: Mapping[Any, Any]) -> str:
    """sha256 over the previous hash and the canonical JSON (sorted keys, no spaces, UTF-8) of the fields."""
    data = {key: _iso(fields[key]) if key == "at" else fields[key] for key in _HASHED}
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256((prev_hash + canonical).encode("utf-8")).hexdigest()


def row_hash(row: AuditLog) -> str:
    return compute_hash(row.prev_hash, {key: getattr(row, key) for key in _HASHED})


def verify(session: Session, batch_size: int = 1000) -> AuditVerification:
    """Walk the whole chain in id order and stop at the first entry that does not hold."""
    table = AuditLog.__table__
    expected_id, prev_hash, checked = 1, GENESIS, 0
    while True:
        rows = (
            session.execute(select(table).where(table.c.id >= expected_id).order_by(table.c.id).limit(batch_size))
            .mappings()
            .all()
        )
        if not rows:
            break
        for row in rows:
            problem = _check_row(row, expected_id, prev_hash)
            if problem:
                return AuditVerification(False, checked, int(row["id"]), problem)
            checked += 1
            expected_id, prev_hash = int(row["id"]) + 1, str(row["row_hash"])
    return _check_head(session, checked, expected_id - 1, prev_hash)


def _check_row(row: RowMapping, expected_id: int, prev_hash: str) -> str | None:
    if row["id"] != expected_id:
        return f"entries {expected_id}..{row['id'] - 1} are missing (deleted)"
    if row["prev_hash"] != prev_hash:
        return "prev_hash does not match the previous entry's hash (the chain was rewritten here)"
    if row["row_hash"] != compute_hash(row["prev_hash"], row):
        return "row_hash does not match the entry's content (the entry was modified)"
    return None


def _check_head(session: Session, checked: int, last_id: int, last_hash: str) -> AuditVerification:
    head = session.execute(select(AuditHead.last_id, AuditHead.last_hash).where(AuditHead.id == _HEAD_ID)).one_or_none()
    if head is None:
        if checked:
            return AuditVerification(False, checked, None, "the chain head record is missing")
        return AuditVerification(True, 0, head_hash=GENESIS)
    if head.last_id != last_id or head.last_hash != last_hash:
        return AuditVerification(
            False,
            checked,
            last_id + 1 if head.last_id > last_id else head.last_id,
            f"the chain ends at entry {last_id} but its head records entry {head.last_id}: newest entries deleted "
            "or the head was altered",
        )
    return AuditVerification(True, checked, head_hash=last_hash)


def entries(
    session: Session,
    *,
    after_id: int = 0,
    limit: int = 100,
    actor: str | None = None,
    action: str | None = None,
    object_type: str | None = None,
    object_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[AuditLog]:
    """A page of entries in id order (keyset pagination: pass the last id seen as ``after_id``)."""
    query = select(AuditLog).where(AuditLog.id > after_id)
    if actor:
        query = query.where(AuditLog.actor == actor)
    if action:
        query = query.where(AuditLog.action == action)
    if object_type:
        query = query.where(AuditLog.object_type == object_type)
    if object_id:
        query = query.where(AuditLog.object_id == object_id)
    if since:
        query = query.where(AuditLog.at >= since)
    if until:
        query = query.where(AuditLog.at < until)
    return list(session.scalars(query.order_by(AuditLog.id).limit(max(1, min(limit, 1000)))).all())
