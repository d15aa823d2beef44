"""Attacks on the audit trail as a database administrator would make them: plain SQL with the triggers bypassed,
hashes recomputed with the code's own ``kyc.audit.compute_hash``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, cast

from sqlalchemy import Connection, Table, select, text, update

from kyc import audit
from kyc.storage.access import AuditHead, AuditLog
from kyc.storage.db import get_engine

LOG = cast(Table, AuditLog.__table__)
HEAD = cast(Table, AuditHead.__table__)
SQLITE_TRIGGERS = ("audit_log_no_update", "audit_log_no_delete", "audit_head_no_delete", "audit_head_forward_only")


@contextmanager
def tamper(db_url: str) -> Iterator[Connection]:
    """A connection on which the append-only triggers of log and head do not fire (what DBA rights allow)."""
    engine = get_engine(db_url)
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("SET LOCAL session_replication_role = replica"))
        else:
            for trigger in SQLITE_TRIGGERS:
                conn.execute(text(f"DROP TRIGGER IF EXISTS {trigger}"))
        yield conn


def rewrite(
    db_url: str,
    first_id: int,
    change: Callable[[dict[str, Any]], None],
    *,
    key: bytes | None,
    last_id: int | None = None,
) -> None:
    """Change entry ``first_id`` and recompute its hash and every later one under ``key``, then move the head to
    the new end: the forgery a plain hash chain could not detect."""
    with tamper(db_url) as conn:
        rows = [dict(row) for row in conn.execute(select(LOG).order_by(LOG.c.id)).mappings()]
        prev = audit.GENESIS
        for row in rows:
            if last_id is not None and row["id"] > last_id:
                break
            if row["id"] < first_id:
                prev = row["row_hash"]
                continue
            if row["id"] == first_id:
                change(row)
            row["prev_hash"] = prev
            row["row_hash"] = audit.compute_hash(prev, row, key=key)
            conn.execute(update(LOG).where(LOG.c.id == row["id"]).values(**{k: v for k, v in row.items() if k != "id"}))
            prev = row["row_hash"]
        conn.execute(update(HEAD).values(last_hash=prev))


def truncate_tail(db_url: str, keep: int) -> None:
    """Delete every entry after ``keep`` and move the head back onto the new end."""
    with tamper(db_url) as conn:
        conn.execute(LOG.delete().where(LOG.c.id > keep))
        last = conn.execute(select(LOG.c.row_hash).where(LOG.c.id == keep)).scalar_one()
        conn.execute(update(HEAD).values(last_id=keep, last_hash=last))


def delete_head(db_url: str) -> None:
    with tamper(db_url) as conn:
        conn.execute(HEAD.delete())
