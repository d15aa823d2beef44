# Over 400 lines: appending, sealing and verifying the chain share one hashing and key model; apart they would drift.
"""The audit trail: who did what to which record, when and for which purpose — tamper-evident.

**The chain.** Every row carries ``prev_hash`` and ``row_hash = HMAC-SHA256(audit key, prev_hash + canonical JSON
of its fields)``; ids are contiguous from 1 and the newest id and hash are kept in ``audit_head``. A modified row
breaks its own MAC, a deleted row leaves a gap or a broken link, a deleted tail no longer matches the head. The
key (``KYC_AUDIT_KEY``) never enters the database, so whoever can only write to the database cannot recompute the
chain after changing it: a plain SHA-256 chain would let a database administrator rewrite an entry and every hash
after it, and delete the tail together with the head. What the key cannot prevent — deleting the newest entries and
moving the head back, or replacing the whole chain — is caught by the signed checkpoints written outside the
database (``kyc.checkpoints``), against which :func:`verify` compares the chain.

**Keys and the legacy part.** ``KYC_AUDIT_KEY`` lists keys newest first: the first signs new entries, the others
only verify older ones; along the chain a key is never followed by an older one. Entries written before the chain
was keyed are plain SHA-256; their count is fixed in ``audit_head.legacy_until`` when the schema is upgraded (a
trigger refuses to change it, and every checkpoint repeats it), and the first keyed entry covers the last plain
hash, so the legacy part cannot be rewritten either without breaking a MAC.

**Appends** are serialised so concurrent writers never fork the chain: the first statement of an append is an
``UPDATE`` of the head row that claims the next id and returns the previous hash (``RETURNING``), which takes the
head's row lock on PostgreSQL and the database write lock on SQLite until the transaction ends; a concurrent
appender waits on that row, then reads the committed head. A rolled-back transaction gives its claimed id back with
everything else, so ids stay contiguous. Then one more statement writes the row and the new head hash (PostgreSQL:
one ``WITH ... INSERT`` statement; SQLite: two). Callers append last, just before committing, so the head is held as
briefly as possible. With the head row missing while entries exist nothing is appended: the trail is unavailable
until the head is restored from a verified chain (:func:`restore_head`).

Details must not contain personal data: the log outlives case data (it is evidence of who accessed what), so it
names records by id only. ``record`` refuses well-known personal keys and masks identity codes in every string.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from functools import lru_cache
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Connection, Executable, RowMapping, Table, bindparam, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from kyc import crypto
from kyc.errors import Invalid, Unavailable
from kyc.settings import Settings, get_settings
from kyc.storage.access import AuditHead, AuditLog
from kyc.storage.base import utcnow

if TYPE_CHECKING:
    from kyc.access import Principal

GENESIS = "0" * 64
DEFAULT_PURPOSE = "aml_cdd"
MIN_KEY_LENGTH = 32
_HEAD_ID = 1
_KEY_ID_INFO = b"kyc audit key id v1"
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


class PersonalDataInAudit(Invalid):
    pass


class AuditKeyError(crypto.CryptoConfigError):
    """``KYC_AUDIT_KEY`` is missing, too short, or not the key the chain was written with: do not start."""


class AuditUnavailable(Unavailable):
    """Nothing can be audited now (the chain head is missing): refuse the action rather than leave no trace."""

    code = "audit_unavailable"


class Verdict(StrEnum):
    """What :func:`verify` concluded; each has its own exit code in ``kyc audit verify``."""

    INTACT = "intact"
    MODIFIED = "modified"
    """An entry does not match its MAC: its content was changed (or the MAC made with another key)."""
    REWRITTEN = "rewritten"
    """The MACs hold together but not with the past: a broken link, an entry hashed without the key or with a
    retired one, or an entry that differs from a signed checkpoint."""
    DELETED = "deleted"
    """Entries are missing from the middle of the chain."""
    TRUNCATED = "truncated"
    """The newest entries were deleted: the chain ends before its head or before a checkpoint."""
    HEAD_MISSING = "head_missing"
    HEAD_ALTERED = "head_altered"
    CHECKPOINT_INVALID = "checkpoint_invalid"
    """A checkpoint file cannot be trusted (bad signature, unknown key, unreadable): nothing to compare with."""


@dataclass(frozen=True)
class AuditKeys:
    """The configured audit keys, newest first: the first signs, all verify."""

    keys: tuple[bytes, ...]

    @property
    def current(self) -> bytes:
        return self.keys[0]

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(key_id(key) for key in self.keys)

    def by_id(self, wanted: str) -> bytes | None:
        return next((key for key in self.keys if hmac.compare_digest(key_id(key), wanted)), None)


def key_id(key: bytes) -> str:
    """A public name for a key (for checkpoints and error messages); reveals nothing about the key."""
    return hmac.new(key, _KEY_ID_INFO, hashlib.sha256).hexdigest()[:16]


def load_audit_keys(settings: Settings) -> AuditKeys:
    """The keys from ``KYC_AUDIT_KEY``; outside production a generated local key when none is configured."""
    configured = settings.audit_key.get_secret_value() if settings.audit_key is not None else ""
    parts = [part.strip() for part in configured.split(",") if part.strip()]
    if not parts:
        if settings.env.lower() == "production":
            raise AuditKeyError(
                "KYC_AUDIT_KEY is required when KYC_ENV=production: the audit chain is keyed with it so that "
                "whoever can write to the database cannot rewrite the trail (keep it out of the database)"
            )
        parts = [crypto.local_secret(settings.audit_key_file, lambda: secrets.token_hex(32), "KYC_AUDIT_KEY")]
    short = [index + 1 for index, part in enumerate(parts) if len(part) < MIN_KEY_LENGTH]
    if short:
        raise AuditKeyError(
            f"KYC_AUDIT_KEY: key {', '.join(map(str, short))} is shorter than {MIN_KEY_LENGTH} characters "
            "(generate one with `python -c 'import secrets; print(secrets.token_hex(32))'`)"
        )
    return AuditKeys(tuple(part.encode("utf-8") for part in parts))


@lru_cache(maxsize=1)
def get_audit_keys() -> AuditKeys:
    """The process-wide keys from ``get_settings()``; clear with ``get_audit_keys.cache_clear()`` after changes."""
    return load_audit_keys(get_settings())


@dataclass(frozen=True)
class Anchor:
    """A point of the chain known from outside the database (a verified checkpoint): entry id and its hash."""

    entry_id: int
    chain_hash: str
    legacy_until: int
    at: datetime


@dataclass(frozen=True)
class AuditVerification:
    ok: bool
    checked: int
    first_bad_id: int | None = None
    reason: str | None = None
    head_hash: str | None = None
    """The newest row hash when the chain holds."""
    verdict: Verdict = Verdict.INTACT
    last_id: int = 0
    anchor: Anchor | None = None
    """The newest checkpoint the chain was compared with (None: no checkpoint was given)."""


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
    key = get_audit_keys().current
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
        "object_id": crypto.redact(str(object_id)),
        "purpose": purpose,
        "details": payload,
        "prev_hash": prev_hash,
    }
    row["row_hash"] = compute_hash(prev_hash, row, key=key)
    params = {f"log_{name}": value for name, value in row.items()}
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

    The head row is created by the first append into an empty log (``ON CONFLICT DO NOTHING``, so two first
    appenders cannot both create it). A missing head over existing entries is never recreated here: that would
    start a second chain at id 1 (or bless a truncated one).
    """
    head = connection.execute(_CLAIM).first()
    if head is None and connection.execute(select(func.max(_LOG.c.id))).scalar() is not None:
        head = connection.execute(_CLAIM).first()  # a first appender may have committed head and entry meanwhile
        if head is None:
            raise AuditUnavailable(
                "the audit chain head is missing, so nothing can be audited: run `kyc audit verify`, then "
                "`kyc audit restore-head` once the chain is found intact",
                retry_after=300,
            )
    if head is None:
        connection.execute(_create_head(connection.dialect.name))
        head = connection.execute(_CLAIM).one()
    return int(head.last_id), str(head.last_hash)


def _create_head(dialect: str) -> Executable:
    values = {"id": _HEAD_ID, "last_id": 0, "last_hash": GENESIS, "legacy_until": 0}
    if dialect == "postgresql":
        return postgresql.insert(_HEAD).values(values).on_conflict_do_nothing(index_elements=["id"])
    if dialect == "sqlite":
        return sqlite.insert(_HEAD).values(values).on_conflict_do_nothing(index_elements=["id"])
    return insert(_HEAD).values(values)


def _checked_details(details: dict[str, Any]) -> dict[str, Any]:
    found = sorted(_personal_keys(details))
    if found:
        raise PersonalDataInAudit(f"audit details must not carry personal data: keys {', '.join(found)}")
    # Round-trip now, so the hashed form is exactly what the JSON column gives back at verification time. Identity
    # codes are masked wherever a caller let one through (a query filter, a reference typed by a client).
    dumped = json.loads(json.dumps(details, sort_keys=True, default=_refuse))
    return cast(dict[str, Any], crypto.redact_value(dumped))


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


def compute_hash(prev_hash: str, fields: Mapping[Any, Any], *, key: bytes | None) -> str:
    """HMAC-SHA256 under ``key`` (plain SHA-256 for ``None``: entries written before the chain was keyed) over the
    previous hash and the canonical JSON (sorted keys, no spaces, UTF-8) of the fields."""
    data = {name: _iso(fields[name]) if name == "at" else fields[name] for name in _HASHED}
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    message = (prev_hash + canonical).encode("utf-8")
    if key is None:
        return hashlib.sha256(message).hexdigest()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def row_hash(row: AuditLog, *, key: bytes | None) -> str:
    return compute_hash(row.prev_hash, {name: getattr(row, name) for name in _HASHED}, key=key)


@dataclass(frozen=True)
class Head:
    last_id: int
    last_hash: str
    legacy_until: int


def read_head(session: Session) -> Head | None:
    row = session.execute(
        select(_HEAD.c.last_id, _HEAD.c.last_hash, _HEAD.c.legacy_until).where(_HEAD.c.id == _HEAD_ID)
    ).one_or_none()
    return None if row is None else Head(int(row.last_id), str(row.last_hash), int(row.legacy_until))


@dataclass
class _Walk:
    """State of one pass along the chain."""

    keys: AuditKeys
    legacy_until: int | None
    """Entries up to this id are plain SHA-256; None when unknown (no head, no checkpoint): inferred."""
    expected_id: int = 1
    prev_hash: str = GENESIS
    phase: int = -1
    """Index of the key the previous entry verified with (-1: none yet); a later entry may not use an older one."""
    checked: int = 0

    def check(self, row: RowMapping, *, link: bool = True) -> tuple[Verdict, str] | None:
        if row["id"] != self.expected_id:
            return Verdict.DELETED, f"entries {self.expected_id}..{row['id'] - 1} are missing (deleted)"
        if link and row["prev_hash"] != self.prev_hash:
            return Verdict.REWRITTEN, (
                "prev_hash does not match the previous entry's hash (the chain was rewritten here)"
            )
        return self._check_mac(row)

    def _check_mac(self, row: RowMapping) -> tuple[Verdict, str] | None:
        actual = str(row["row_hash"])
        plain_ok = hmac.compare_digest(compute_hash(row["prev_hash"], row, key=None), actual)
        if self._is_legacy(int(row["id"]), plain_ok):
            if plain_ok:
                return None
            return Verdict.MODIFIED, "row_hash does not match the entry's content (the entry was modified)"
        if plain_ok:
            return Verdict.REWRITTEN, (
                "the entry is hashed without the audit key although the chain was keyed before it: the chain was "
                "recomputed by someone who does not hold the key"
            )
        oldest_allowed = len(self.keys.keys) - 1 if self.phase < 0 else self.phase
        for index in range(oldest_allowed, -1, -1):
            if hmac.compare_digest(compute_hash(row["prev_hash"], row, key=self.keys.keys[index]), actual):
                self.phase = index
                return None
        for index in range(oldest_allowed + 1, len(self.keys.keys)):
            if hmac.compare_digest(compute_hash(row["prev_hash"], row, key=self.keys.keys[index]), actual):
                return Verdict.REWRITTEN, (
                    "the entry is signed with a retired audit key after entries signed with a newer one"
                )
        return Verdict.MODIFIED, (
            "row_hash does not match the entry's content under any configured audit key (the entry was modified, "
            "or KYC_AUDIT_KEY lacks the key it was written with)"
        )

    def _is_legacy(self, entry_id: int, plain_ok: bool) -> bool:
        if self.legacy_until is not None:
            return entry_id <= self.legacy_until
        return plain_ok and self.phase < 0  # inferred: a plain prefix before the first keyed entry

    def advance(self, row: RowMapping) -> None:
        self.checked += 1
        self.expected_id, self.prev_hash = int(row["id"]) + 1, str(row["row_hash"])


def verify(
    session: Session,
    *,
    keys: AuditKeys | None = None,
    anchors: Sequence[Anchor] = (),
    start: Anchor | None = None,
    batch_size: int = 1000,
) -> AuditVerification:
    """Walk the chain in id order (all of it, or from ``start`` on) and compare it with its head and ``anchors``.

    Stops at the first entry that does not hold; the verdict says what kind of tampering the evidence shows.
    """
    keys = keys or get_audit_keys()
    head = read_head(session)
    newest = max(anchors, key=lambda a: a.entry_id) if anchors else None
    if newest is not None and head is not None and head.legacy_until != newest.legacy_until:
        return AuditVerification(
            False,
            0,
            1,
            "audit_head.legacy_until differs from the signed checkpoints: the head was altered to pass "
            "keyed entries off as legacy ones",
            verdict=Verdict.REWRITTEN,
            anchor=newest,
        )
    legacy = newest.legacy_until if newest is not None else (head.legacy_until if head is not None else None)
    walk = _Walk(keys, legacy)
    if start is not None:
        walk.expected_id = start.entry_id
    seen: dict[int, str] = {}
    wanted = {a.entry_id for a in anchors}
    first = start is not None
    while True:
        rows = (
            session.execute(select(_LOG).where(_LOG.c.id >= walk.expected_id).order_by(_LOG.c.id).limit(batch_size))
            .mappings()
            .all()
        )
        if not rows:
            break
        for row in rows:
            problem = walk.check(row, link=not first)
            if problem is None and first and start is not None and row["row_hash"] != start.chain_hash:
                problem = Verdict.REWRITTEN, "the entry differs from the checkpoint the verification started from"
            first = False
            if problem is not None:
                verdict, reason = problem
                return AuditVerification(False, walk.checked, int(row["id"]), reason, verdict=verdict, anchor=newest)
            if row["id"] in wanted:
                seen[int(row["id"])] = str(row["row_hash"])
            walk.advance(row)
    last_id = walk.expected_id - 1
    if start is not None and last_id < start.entry_id:
        return _truncated_at(walk, start, newest)
    found = _check_anchors(walk, last_id, seen, anchors, newest)
    return found or _check_head(head, walk, last_id, newest)


def _truncated_at(walk: _Walk, anchor: Anchor, newest: Anchor | None) -> AuditVerification:
    return AuditVerification(
        False,
        walk.checked,
        walk.expected_id,
        f"the chain ends at entry {walk.expected_id - 1} but the checkpoint of {anchor.at.isoformat()} recorded entry "
        f"{anchor.entry_id}: the newest entries were deleted",
        verdict=Verdict.TRUNCATED,
        last_id=walk.expected_id - 1,
        anchor=newest,
    )


def _check_anchors(
    walk: _Walk, last_id: int, seen: dict[int, str], anchors: Sequence[Anchor], newest: Anchor | None
) -> AuditVerification | None:
    for anchor in sorted(anchors, key=lambda a: a.entry_id):
        if anchor.entry_id > last_id:
            return _truncated_at(walk, anchor, newest)
        if anchor.entry_id in seen and seen[anchor.entry_id] != anchor.chain_hash:
            return AuditVerification(
                False,
                walk.checked,
                anchor.entry_id,
                f"entry {anchor.entry_id} differs from the checkpoint of {anchor.at.isoformat()}: the chain was "
                "rewritten (or replaced) up to there",
                verdict=Verdict.REWRITTEN,
                last_id=last_id,
                anchor=newest,
            )
    return None


def _check_head(head: Head | None, walk: _Walk, last_id: int, newest: Anchor | None) -> AuditVerification:
    def broken(verdict: Verdict, first_bad: int | None, reason: str) -> AuditVerification:
        return AuditVerification(
            False, walk.checked, first_bad, reason, verdict=verdict, last_id=last_id, anchor=newest
        )

    if head is None:
        if last_id:
            return broken(Verdict.HEAD_MISSING, None, "the chain head record (audit_head) is missing")
        return AuditVerification(True, 0, head_hash=GENESIS, anchor=newest)
    if head.last_id > last_id:
        return broken(
            Verdict.TRUNCATED,
            last_id + 1,
            f"the chain ends at entry {last_id} but its head records entry {head.last_id}: newest entries deleted",
        )
    if head.last_id != last_id or head.last_hash != walk.prev_hash:
        return broken(
            Verdict.HEAD_ALTERED,
            head.last_id,
            f"the chain ends at entry {last_id} but its head records entry {head.last_id} with another hash: the "
            "head was altered",
        )
    return AuditVerification(True, walk.checked, head_hash=walk.prev_hash, last_id=last_id, anchor=newest)


def check_key(session: Session, keys: AuditKeys | None = None) -> None:
    """Refuse to start with an audit key that did not write the chain (checked on the newest entry only).

    Without this a mistyped or swapped key would silently sign new entries that verification rejects later.
    """
    keys = keys or get_audit_keys()
    head = read_head(session)
    row = session.execute(select(_LOG).order_by(_LOG.c.id.desc()).limit(1)).mappings().first()
    if row is None or (head is not None and row["id"] <= head.legacy_until):
        return
    actual = str(row["row_hash"])
    if any(hmac.compare_digest(compute_hash(row["prev_hash"], row, key=k), actual) for k in keys.keys):
        return
    raise AuditKeyError(
        f"KYC_AUDIT_KEY does not verify the newest audit entry ({row['id']}): it is not the key the chain was written "
        f"with (configured key ids: {', '.join(keys.ids)}). Configure the chain's key (when rotating: the new key "
        "first, then the old one) or investigate with `kyc audit verify`."
    )


def restore_head(session: Session, *, keys: AuditKeys | None = None, anchors: Sequence[Anchor] = ()) -> Head:
    """Recreate a deleted ``audit_head`` from the chain itself, once the chain is otherwise intact.

    The legacy boundary comes from the newest checkpoint when there is one; without one it is inferred from the
    entries (their plain prefix), which only the checkpoints could contradict.
    """
    result = verify(session, keys=keys, anchors=anchors)
    if result.verdict is not Verdict.HEAD_MISSING:
        raise AuditUnavailable(
            "the head is present" if result.ok else f"the chain is not intact apart from its head: {result.reason}",
        )
    newest = max(anchors, key=lambda a: a.entry_id) if anchors else None
    legacy = newest.legacy_until if newest is not None else _plain_prefix(session)
    last = session.execute(select(_LOG.c.id, _LOG.c.row_hash).order_by(_LOG.c.id.desc()).limit(1)).one()
    head = Head(int(last.id), str(last.row_hash), legacy)
    session.execute(
        insert(_HEAD).values(id=_HEAD_ID, last_id=head.last_id, last_hash=head.last_hash, legacy_until=legacy)
    )
    return head


def _plain_prefix(session: Session, batch_size: int = 1000) -> int:
    last_plain, after = 0, 0
    while True:
        rows = session.execute(select(_LOG).where(_LOG.c.id > after).order_by(_LOG.c.id).limit(batch_size))
        batch = rows.mappings().all()
        if not batch:
            return last_plain
        for row in batch:
            if compute_hash(row["prev_hash"], row, key=None) != row["row_hash"]:
                return last_plain
            last_plain = after = int(row["id"])


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
