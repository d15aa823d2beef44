# Over 400 lines: storing, diffing, approving and reporting versions share one transaction model and its locks.
"""List versions: store a parsed file as a new version with its diff, in one transaction.

The rules a supervisor relies on live here, not in the adapters: identical bytes create nothing new; an
empty, duplicate-keyed or suspiciously shrunk list is rejected and the previous version stays active; a list never
goes back in time (a file published before the active version is rejected unless an operator allows it after
checking by hand — otherwise an old file would "remove" designations made since); every attempt is logged, and a
source is stale when its last attempt failed or its publication is older than the source's age limit.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from kyc import cases, designations
from kyc.access import Permission, Principal, Role, can
from kyc.entry import Entry, data_hash
from kyc.errors import Conflict, Invalid, NotFound, Refused
from kyc.settings import Settings, get_settings
from kyc.storage.access import User
from kyc.storage.base import utcnow
from kyc.storage.lists import FetchLog, ListChange, ListEntry, ListSource, ListVersion, ListVersionFile


@dataclass(frozen=True)
class RawFile:
    """One downloaded or local file, exactly as received."""

    name: str
    data: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


@dataclass
class ParsedList:
    """What an adapter makes of a file set."""

    entries: list[Entry]
    file_format: str
    published_at: datetime | None = None
    warnings: list[str] = field(default_factory=list)
    dated_by_file: bool = True
    """``published_at`` is the file's own stamp (UN ``dateGenerated``, EU ``generationDate``…). False when it is
    derived from the entries (the newest listing or decision date): delisting the newest entry then makes a newer
    file look older, so such dates are not used to refuse a file as going back in time."""


class ListRejected(Invalid):
    """A file that must not become active. The message names the source and the reason."""

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"{source}: rejected: {reason}")
        self.source = source
        self.reason = reason


Outcome = Literal["stored", "pending", "unchanged"]


@dataclass(frozen=True)
class IngestResult:
    source: str
    outcome: Outcome
    version_id: int
    entry_count: int
    added: int = 0
    removed: int = 0
    changed: int = 0


def combined_sha256(files: Sequence[RawFile]) -> str:
    """The version's fingerprint: a single file's own sha256, or a hash over a file set's hashes by name."""
    if len(files) == 1:
        return files[0].sha256
    digest = hashlib.sha256()
    for raw in sorted(files, key=lambda f: (f.name, f.sha256)):
        digest.update(f"{raw.name}\0{raw.sha256}\n".encode())
    return digest.hexdigest()


@dataclass(frozen=True)
class Diff:
    added: list[str]
    removed: list[str]
    changed: list[str]


def diff_hashes(old: dict[str, str], new: dict[str, str]) -> Diff:
    """Entries compared by ``source_ref`` and content hash."""
    added = sorted(ref for ref in new if ref not in old)
    removed = sorted(ref for ref in old if ref not in new)
    changed = sorted(ref for ref in new if ref in old and old[ref] != new[ref])
    return Diff(added, removed, changed)


def _lock_source(session: Session, source: str) -> ListSource:
    """Serialise ingestions of one source (row lock on PostgreSQL; SQLite serialises writers anyway)."""
    row = session.execute(select(ListSource).where(ListSource.name == source).with_for_update()).scalar_one_or_none()
    if row is None:
        row = ListSource(name=source)
        session.add(row)
        session.flush()
    return row


def active_version(session: Session, source: str) -> ListVersion | None:
    row = session.get(ListSource, source)
    if row is None or row.active_version_id is None:
        return None
    return session.get(ListVersion, row.active_version_id)


def version_hashes(session: Session, version_id: int) -> dict[str, str]:
    rows = session.execute(
        select(ListEntry.source_ref, ListEntry.content_hash).where(ListEntry.version_id == version_id)
    )
    return {ref: digest for ref, digest in rows}


def _check(source: str, parsed: ParsedList, previous_count: int | None, shrink_threshold: float) -> None:
    if not parsed.entries:
        raise ListRejected(source, "the file holds no entries")
    refs = [entry.source_ref for entry in parsed.entries]
    if len(set(refs)) != len(refs):
        seen: set[str] = set()
        duplicates = sorted({ref for ref in refs if ref in seen or seen.add(ref)})  # type: ignore[func-returns-value]
        raise ListRejected(source, f"duplicate source_ref values: {', '.join(duplicates[:5])}")
    wrong = [entry.source_ref for entry in parsed.entries if entry.source != source]
    if wrong:
        raise ListRejected(source, f"entries of another source: {', '.join(wrong[:5])}")
    if previous_count:
        floor = previous_count * (1 - shrink_threshold)
        if len(parsed.entries) < floor:
            share = 1 - len(parsed.entries) / previous_count
            raise ListRejected(
                source,
                f"suspicious shrink: {len(parsed.entries)} entries against {previous_count} in the active version "
                f"({share:.0%} fewer; the limit is {shrink_threshold:.0%})",
            )


def _check_not_older(source: str, published_at: datetime | None, current: ListVersion | None) -> None:
    """Refuse a file published before the active version (both dates known): replaying an old file would drop every
    designation made since, and delta screening would then mark those hits delisted."""
    if published_at is None or current is None or current.published_at is None:
        return
    if _as_utc(published_at) < _as_utc(current.published_at):
        raise ListRejected(
            source,
            f"the file was published {published_at.date().isoformat()}, before the active version {current.id} "
            f"(published {current.published_at.date().isoformat()}): a list never goes back in time; if this "
            "older file really must become active, check it by hand and ingest it with --allow-older",
        )


def _as_utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def store_version(
    session: Session,
    *,
    source: str,
    files: Sequence[RawFile],
    parsed: ParsedList,
    parser_version: str,
    origin: str,
    shrink_threshold: float = 0.30,
    allow_shrink: bool = False,
    allow_older: bool = False,
    require_approval: bool = False,
    created_by: str | None = None,
    etag: str | None = None,
    last_modified: str | None = None,
) -> IngestResult:
    """Store ``parsed`` as the new active version of ``source`` (or ``pending`` when it needs approval).

    The same bytes are "unchanged" only under the same ``parser_version``: a parser that reads more out of a file
    (names split into their spellings) makes re-ingesting it a new version, whose diff shows what the parser changed.

    Runs inside the caller's transaction: on :class:`ListRejected` or any error the caller rolls back and
    nothing of the attempt remains except what :func:`record_attempt` writes separately.
    """
    state = _lock_source(session, source)
    now = utcnow()
    sha = combined_sha256(files)
    current = session.get(ListVersion, state.active_version_id) if state.active_version_id else None
    state.last_checked_at = now
    state.etag, state.last_modified = etag or state.etag, last_modified or state.last_modified
    if current is not None and current.sha256 == sha and current.parser_version == parser_version:
        state.last_success_at, state.last_outcome = now, "unchanged"
        session.add(FetchLog(source=source, outcome="unchanged", origin=origin, version_id=current.id))
        return IngestResult(source, "unchanged", current.id, current.entry_count)
    pending = _pending_with_sha(session, source, sha) if require_approval else None
    if pending is not None:
        return IngestResult(source, "pending", pending.id, pending.entry_count)

    if not allow_older and parsed.dated_by_file:
        _check_not_older(source, parsed.published_at, current)
    _check(source, parsed, None if allow_shrink or current is None else current.entry_count, shrink_threshold)
    dumped = {entry.source_ref: entry.to_data() for entry in parsed.entries}
    new_hashes = {ref: data_hash(data) for ref, data in dumped.items()}
    old_hashes = version_hashes(session, current.id) if current else {}
    diff = diff_hashes(old_hashes, new_hashes)

    version = ListVersion(
        source=source,
        status="pending" if require_approval else "active",
        sha256=sha,
        fetched_at=now,
        published_at=parsed.published_at,
        activated_at=None if require_approval else now,
        entry_count=len(parsed.entries),
        parser_version=parser_version,
        file_format=parsed.file_format,
        origin=origin,
        previous_version_id=current.id if current else None,
        added_count=len(diff.added),
        removed_count=len(diff.removed),
        changed_count=len(diff.changed),
        created_by=created_by,
    )
    version.files = [
        ListVersionFile(
            name=raw.name, sha256=raw.sha256, size=len(raw.data), compression="zlib", data=zlib.compress(raw.data, 6)
        )
        for raw in files
    ]
    session.add(version)
    session.flush()
    _insert_entries(session, version.id, parsed.entries, dumped, new_hashes)
    designations.store_keys(session, version.id, parsed.entries)
    _insert_changes(session, version.id, diff, old_hashes, new_hashes)
    outcome: Outcome = "pending" if require_approval else "stored"
    if not require_approval:
        _activate(session, state, version, current)
    state.last_success_at, state.last_outcome = now, outcome
    session.add(
        FetchLog(source=source, outcome=outcome, origin=origin, version_id=version.id, message=_summary(version))
    )
    return IngestResult(
        source, outcome, version.id, version.entry_count, len(diff.added), len(diff.removed), len(diff.changed)
    )


def _summary(version: ListVersion) -> str:
    return f"{version.entry_count} entries; +{version.added_count} -{version.removed_count} ~{version.changed_count}"


def _pending_with_sha(session: Session, source: str, sha: str) -> ListVersion | None:
    return session.execute(
        select(ListVersion).where(
            ListVersion.source == source, ListVersion.sha256 == sha, ListVersion.status == "pending"
        )
    ).scalar_one_or_none()


def _activate(session: Session, state: ListSource, version: ListVersion, current: ListVersion | None) -> None:
    if current is not None:
        current.status = "superseded"
    version.status = "active"
    version.activated_at = utcnow()
    state.active_version_id = version.id
    session.flush()
    cases.follow_versions(session)  # the links are a function of the active versions: recompute them now


def _insert_entries(
    session: Session,
    version_id: int,
    entries: Iterable[Entry],
    dumped: dict[str, dict[str, object]],
    hashes: dict[str, str],
) -> None:
    rows = [
        {
            "version_id": version_id,
            "source_ref": entry.source_ref,
            "schema": entry.schema_.value,
            "content_hash": hashes[entry.source_ref],
            "data": dumped[entry.source_ref],
        }
        for entry in entries
    ]
    session.execute(insert(ListEntry), rows)


def _insert_changes(session: Session, version_id: int, diff: Diff, old: dict[str, str], new: dict[str, str]) -> None:
    rows = (
        [
            {"version_id": version_id, "source_ref": ref, "change": "added", "old_hash": None, "new_hash": new[ref]}
            for ref in diff.added
        ]
        + [
            {"version_id": version_id, "source_ref": ref, "change": "removed", "old_hash": old[ref], "new_hash": None}
            for ref in diff.removed
        ]
        + [
            {
                "version_id": version_id,
                "source_ref": ref,
                "change": "changed",
                "old_hash": old[ref],
                "new_hash": new[ref],
            }
            for ref in diff.changed
        ]
    )
    if rows:
        session.execute(insert(ListChange), rows)


def approving_user(session: Session, name: str, action: str = "approve") -> Principal:
    """The user behind a name given at the console (``kyc lists approve --user NAME``, and the importer of
    ``kyc lists ingest --user NAME``, whom the approver is compared with).

    A typed name proves nothing, so four eyes only hold when it names a real user: one that exists, is not
    disabled, and whose role may manage lists (the same permission the API's approval endpoint requires). Raises
    :class:`~kyc.errors.NotFound` for an unknown name and :class:`~kyc.errors.Refused` for a disabled user or a
    role that may not approve.
    """
    user = session.execute(select(User).where(User.name == name)).scalar_one_or_none()
    if user is None:
        raise NotFound(f"--user {name!r}: no such user (create it with kyc users create)")
    if user.disabled_at is not None:
        raise Refused(f"--user {name!r}: the user is disabled")
    role = Role(user.role)
    if not can(role, Permission.MANAGE_LISTS):
        raise Refused(
            f"--user {name!r}: role {role.value} may not {action} list versions ({Permission.MANAGE_LISTS.value})"
        )
    return Principal(user.id, user.name, role)


def approve_version(session: Session, version_id: int, approver: str, *, approver_id: str | None = None) -> ListVersion:
    """Activate a pending version; the approver must not be the user who imported it (four eyes).

    ``approver`` is the name recorded as ``approved_by``; the importer is compared with it and with ``approver_id``
    (the user id, when the caller verified one), since an import may record either."""
    version = session.get(ListVersion, version_id, with_for_update=True)
    if version is None:
        raise NotFound(f"list version {version_id} not found")
    if version.created_by is not None and version.created_by in {approver, approver_id}:
        raise Refused("the user who imported a list version cannot also approve it")
    if version.status != "pending":
        raise Conflict(f"list version {version_id} is {version.status}, not pending")
    state = _lock_source(session, version.source)
    current = session.get(ListVersion, state.active_version_id) if state.active_version_id else None
    # The diff was computed against the version active at import time; recompute against today's.
    old = version_hashes(session, current.id) if current else {}
    new = version_hashes(session, version.id)
    diff = diff_hashes(old, new)
    session.query(ListChange).filter(ListChange.version_id == version.id).delete()
    _insert_changes(session, version.id, diff, old, new)
    version.previous_version_id = current.id if current else None
    version.added_count, version.removed_count, version.changed_count = (
        len(diff.added),
        len(diff.removed),
        len(diff.changed),
    )
    version.approved_by, version.approved_at = approver, utcnow()
    _activate(session, state, version, current)
    session.add(
        FetchLog(source=version.source, outcome="approved", version_id=version.id, message=f"approved by {approver}")
    )
    return version


def list_versions(
    session: Session, *, status: str | None = None, source: str | None = None, limit: int = 100
) -> Sequence[ListVersion]:
    """Versions newest first; ``status="pending"`` is the approval queue of manual imports."""
    query = select(ListVersion).order_by(ListVersion.id.desc()).limit(limit)
    if status:
        query = query.where(ListVersion.status == status)
    if source:
        query = query.where(ListVersion.source == source)
    return session.execute(query).scalars().all()


def record_attempt(session: Session, source: str, outcome: str, message: str, origin: str | None = None) -> None:
    """Log a failed or rejected attempt in its own transaction; the active version is left alone."""
    state = _lock_source(session, source)
    now = utcnow()
    state.last_checked_at, state.last_outcome = now, outcome
    if outcome in ("failed", "rejected"):
        state.last_error, state.last_error_at = message, now
    elif outcome == "not_modified":
        state.last_success_at = now
    session.add(FetchLog(source=source, outcome=outcome, origin=origin, message=message))


def raw_files(session: Session, version_id: int) -> list[RawFile]:
    """The exact bytes a version was parsed from, to replay a screening or re-parse with a newer parser."""
    rows = session.execute(
        select(ListVersionFile).where(ListVersionFile.version_id == version_id).order_by(ListVersionFile.id)
    ).scalars()
    return [RawFile(row.name, zlib.decompress(row.data)) for row in rows]


def load_entries(session: Session, version_id: int) -> list[Entry]:
    rows = session.execute(select(ListEntry.data).where(ListEntry.version_id == version_id)).scalars()
    return [Entry.from_data(data) for data in rows]


def active_version_ids(session: Session) -> dict[str, int]:
    rows = session.execute(
        select(ListSource.name, ListSource.active_version_id).where(ListSource.active_version_id.is_not(None))
    )
    return {name: version_id for name, version_id in rows if version_id is not None}


@dataclass(frozen=True)
class SourceStatus:
    source: str
    version_id: int | None
    published_at: datetime | None
    sha256: str | None
    entry_count: int | None
    fetched_at: datetime | None
    last_checked_at: datetime | None
    last_outcome: str | None
    last_error: str | None
    last_error_at: datetime | None
    pending_versions: int
    max_age_days: int = 30
    """The source's age limit (``KYC_LIST_MAX_AGE_DAYS``, per source ``KYC_LIST_MAX_AGE_DAYS_BY_SOURCE``)."""
    age_days: float | None = None
    """Days since publication — or since the fetch, for files that carry no publication date (``age_basis``)."""
    age_basis: str | None = None

    @property
    def failed_since(self) -> bool:
        """The last attempt failed after the last success: the active version may be out of date."""
        return (
            self.last_error_at is not None
            and (self.fetched_at is None or self.last_error_at > self.fetched_at)
            and self.last_outcome in ("failed", "rejected")
        )

    @property
    def too_old(self) -> bool:
        return self.age_days is not None and self.age_days > self.max_age_days

    @property
    def stale(self) -> bool:
        return self.failed_since or self.too_old

    @property
    def stale_reason(self) -> str | None:
        reasons = []
        if self.too_old and self.age_days is not None:
            reasons.append(
                f"{self.age_basis} {self.age_days:.0f} days ago, more than the {self.max_age_days}-day limit"
            )
        if self.failed_since:
            reasons.append(f"last attempt {self.last_outcome}: {self.last_error or ''}".rstrip(": "))
        return "; ".join(reasons) or None


def max_age_days(source: str, settings: Settings) -> int:
    return settings.list_max_age_days_by_source.get(source, settings.list_max_age_days)


def status(session: Session, settings: Settings | None = None, now: datetime | None = None) -> list[SourceStatus]:
    config = settings or get_settings()
    moment = now or utcnow()
    pending = dict(
        session.execute(
            select(ListVersion.source, func.count()).where(ListVersion.status == "pending").group_by(ListVersion.source)
        ).all()
    )
    result = []
    for state in session.execute(select(ListSource).order_by(ListSource.name)).scalars():
        version = session.get(ListVersion, state.active_version_id) if state.active_version_id else None
        age, basis = _age(version, moment)
        result.append(
            SourceStatus(
                source=state.name,
                version_id=version.id if version else None,
                published_at=version.published_at if version else None,
                sha256=version.sha256 if version else None,
                entry_count=version.entry_count if version else None,
                fetched_at=version.fetched_at if version else None,
                last_checked_at=state.last_checked_at,
                last_outcome=state.last_outcome,
                last_error=state.last_error,
                last_error_at=state.last_error_at,
                pending_versions=int(pending.get(state.name, 0)),
                max_age_days=max_age_days(state.name, config),
                age_days=age,
                age_basis=basis,
            )
        )
    return result


def _age(version: ListVersion | None, now: datetime) -> tuple[float | None, str | None]:
    if version is None:
        return None, None
    moment, basis = (version.published_at, "published") if version.published_at else (version.fetched_at, "fetched")
    return (now - _as_utc(moment)).total_seconds() / 86400, basis


@dataclass(frozen=True)
class NamedChange:
    change: str
    source_ref: str
    name: str | None
    """The entry's primary name: in this version for added and changed entries, in the previous one for removed."""


def named_changes(session: Session, version: ListVersion) -> list[NamedChange]:
    """The version's diff with the names officers recognise, not only the source's ids."""
    rows = changes(session, version.id)
    current = _primary_names(session, version.id, [r.source_ref for r in rows if r.change != "removed"])
    removed = [r.source_ref for r in rows if r.change == "removed"]
    previous = _primary_names(session, version.previous_version_id, removed) if version.previous_version_id else {}
    return [
        NamedChange(r.change, r.source_ref, (previous if r.change == "removed" else current).get(r.source_ref))
        for r in rows
    ]


def _primary_names(session: Session, version_id: int, refs: Sequence[str]) -> dict[str, str]:
    names: dict[str, str] = {}
    for start in range(0, len(refs), 500):
        batch = refs[start : start + 500]
        rows = session.execute(
            select(ListEntry.source_ref, ListEntry.data).where(
                ListEntry.version_id == version_id, ListEntry.source_ref.in_(batch)
            )
        )
        for ref, data in rows:
            names[ref] = Entry.from_data(data).primary_name
    return names


def changes(session: Session, version_id: int) -> list[ListChange]:
    return list(
        session.execute(
            select(ListChange)
            .where(ListChange.version_id == version_id)
            .order_by(ListChange.change, ListChange.source_ref)
        ).scalars()
    )
