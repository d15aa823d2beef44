"""Signed checkpoints of the audit chain, written outside the database.

The keyed chain (``kyc.audit``) stops anyone without ``KYC_AUDIT_KEY`` from rewriting entries, but not from deleting
the newest ones together with the head, or from swapping in an older copy of the whole table. A checkpoint records,
at one moment, the newest entry id, its chain hash and the legacy boundary, signed with the audit key (HMAC): it is
appended to ``audit-checkpoints.jsonl`` in ``KYC_AUDIT_CHECKPOINT_DIR`` (opened ``O_APPEND``, one ``write`` per line,
fsynced) and optionally sent to syslog. That directory must be one the database role and its administrators cannot
write (another host's mount, a file with the append-only attribute); then every entry up to the newest checkpoint
is pinned and :func:`verify` tells a truncation or a replaced chain apart from an intact one.

A checkpoint is only written for a chain that verifies (from the previous checkpoint on): a forged chain is never
blessed. Written on a schedule (beat, ``KYC_AUDIT_CHECKPOINT_MINUTES``) and on demand (``kyc audit checkpoint``).
One directory per database: checkpoints of another chain look like a rewrite.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import logging.handlers
import os
import socket
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import structlog
from sqlalchemy.orm import Session

from kyc import audit
from kyc.audit import Anchor, AuditKeys, AuditVerification, Verdict
from kyc.errors import KycError
from kyc.settings import Settings
from kyc.storage.base import utcnow

log = structlog.get_logger(__name__)

FILE_NAME = "audit-checkpoints.jsonl"
FORMAT_VERSION = 1
_MAC_CONTEXT = b"kyc audit checkpoint v1\n"


class CheckpointError(KycError):
    """A checkpoint file that cannot be trusted, or a chain that must not be checkpointed."""

    code = "checkpoint_invalid"


class ChainNotIntact(KycError):
    """The chain does not verify: no checkpoint is written for it."""

    code = "audit_chain_broken"

    def __init__(self, result: AuditVerification) -> None:
        super().__init__(f"the audit chain is not intact ({result.verdict.value}): {result.reason}")
        self.result = result


@dataclass(frozen=True)
class Checkpoint:
    entry_id: int
    chain_hash: str
    legacy_until: int
    at: datetime
    key_id: str
    mac: str

    def anchor(self) -> Anchor:
        return Anchor(self.entry_id, self.chain_hash, self.legacy_until, self.at)

    def line(self) -> str:
        fields = asdict(self)
        fields["at"] = self.at.isoformat()
        return json.dumps({"v": FORMAT_VERSION, **fields}, sort_keys=True, separators=(",", ":"))


def _signed_part(entry_id: int, chain_hash: str, legacy_until: int, at: datetime, key_id: str) -> bytes:
    fields = {
        "v": FORMAT_VERSION,
        "entry_id": entry_id,
        "chain_hash": chain_hash,
        "legacy_until": legacy_until,
        "at": at.isoformat(),
        "key_id": key_id,
    }
    return _MAC_CONTEXT + json.dumps(fields, sort_keys=True, separators=(",", ":")).encode("utf-8")


def sign(entry_id: int, chain_hash: str, legacy_until: int, at: datetime, key: bytes) -> Checkpoint:
    kid = audit.key_id(key)
    mac = hmac.new(key, _signed_part(entry_id, chain_hash, legacy_until, at, kid), hashlib.sha256).hexdigest()
    return Checkpoint(entry_id, chain_hash, legacy_until, at, kid, mac)


def path_of(settings: Settings) -> Path:
    return settings.audit_checkpoint_dir / FILE_NAME


def read(settings: Settings, keys: AuditKeys) -> list[Checkpoint]:
    """Every checkpoint in the directory, each checked against its signature; none when there is no file yet."""
    path = path_of(settings)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot be read ({exc.strerror})") from exc
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            found.append(_parse(line, keys, f"{path} line {number}"))
    return found


def _parse(line: str, keys: AuditKeys, where: str) -> Checkpoint:
    try:
        data: dict[str, Any] = json.loads(line)
        if data.get("v") != FORMAT_VERSION:
            raise CheckpointError(f"{where}: unknown checkpoint format {data.get('v')!r}")
        checkpoint = Checkpoint(
            entry_id=int(data["entry_id"]),
            chain_hash=str(data["chain_hash"]),
            legacy_until=int(data["legacy_until"]),
            at=datetime.fromisoformat(str(data["at"])),
            key_id=str(data["key_id"]),
            mac=str(data["mac"]),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise CheckpointError(f"{where}: not a checkpoint line ({type(exc).__name__})") from exc
    key = keys.by_id(checkpoint.key_id)
    if key is None:
        raise CheckpointError(
            f"{where}: signed with audit key {checkpoint.key_id}, which is not configured (KYC_AUDIT_KEY must keep "
            "retired keys after the current one to verify what they signed)"
        )
    expected = sign(checkpoint.entry_id, checkpoint.chain_hash, checkpoint.legacy_until, checkpoint.at, key).mac
    if not hmac.compare_digest(expected, checkpoint.mac):
        raise CheckpointError(f"{where}: the signature does not verify: the checkpoint file was altered")
    return checkpoint


def newest(checkpoints: list[Checkpoint]) -> Checkpoint | None:
    return max(checkpoints, key=lambda c: (c.entry_id, c.at)) if checkpoints else None


def verify(session: Session, settings: Settings, keys: AuditKeys | None = None) -> AuditVerification:
    """The whole chain against its head and every checkpoint (``kyc audit verify``, ``GET /v1/audit/verify``)."""
    keys = keys or audit.get_audit_keys()
    try:
        found = read(settings, keys)
    except CheckpointError as exc:
        return AuditVerification(False, 0, None, exc.message, verdict=Verdict.CHECKPOINT_INVALID)
    return audit.verify(session, keys=keys, anchors=[c.anchor() for c in found])


def take(
    session: Session, settings: Settings, keys: AuditKeys | None = None, now: datetime | None = None
) -> Checkpoint | None:
    """Verify the chain from the newest checkpoint on and, when it holds, append a new checkpoint of its end.

    None when the chain is still empty (nothing to pin). Raises :class:`ChainNotIntact` or
    :class:`CheckpointError` instead of checkpointing a chain that does not hold.
    """
    keys = keys or audit.get_audit_keys()
    found = read(settings, keys)
    previous = newest(found)
    result = audit.verify(
        session, keys=keys, anchors=[c.anchor() for c in found], start=previous.anchor() if previous else None
    )
    if not result.ok:
        raise ChainNotIntact(result)
    head = audit.read_head(session)
    if head is None or result.last_id == 0 or result.head_hash is None:
        return None
    checkpoint = sign(result.last_id, result.head_hash, head.legacy_until, now or utcnow(), keys.current)
    write(settings, checkpoint)
    return checkpoint


def write(settings: Settings, checkpoint: Checkpoint) -> Path:
    """Append one line (``O_APPEND``: never overwrites, one ``write`` so lines never interleave) and fsync it."""
    path = path_of(settings)
    path.parent.mkdir(mode=0o750, parents=True, exist_ok=True)
    data = (checkpoint.line() + "\n").encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        written = os.write(fd, data)
        if written != len(data):
            raise CheckpointError(f"{path}: short write ({written} of {len(data)} bytes)")
        os.fsync(fd)
    finally:
        os.close(fd)
    if settings.audit_syslog:
        _to_syslog(settings.audit_syslog, checkpoint)
    log.info("audit.checkpoint", entry_id=checkpoint.entry_id, path=str(path))
    return path


def _to_syslog(target: str, checkpoint: Checkpoint) -> None:
    """A copy to syslog (another machine's log, out of reach of this host's database); failures only warn."""
    try:
        handler = _syslog_handler(target)
    except (OSError, ValueError) as exc:
        log.warning("audit.checkpoint.syslog_failed", target=target, error=type(exc).__name__)
        return
    try:
        record = logging.LogRecord("kyc.audit", logging.INFO, __file__, 0, "%s", (checkpoint.line(),), None)
        handler.ident = "kyc-audit-checkpoint: "
        handler.emit(record)
    finally:
        handler.close()


def _syslog_handler(target: str) -> logging.handlers.SysLogHandler:
    facility = logging.handlers.SysLogHandler.LOG_AUTH
    if target.startswith("udp://"):
        parts = urlsplit(target)
        if not parts.hostname or not parts.port:
            raise ValueError("KYC_AUDIT_SYSLOG: udp://host:port")
        return logging.handlers.SysLogHandler((parts.hostname, parts.port), facility, socket.SOCK_DGRAM)
    return logging.handlers.SysLogHandler(target, facility)


def age_seconds(settings: Settings, keys: AuditKeys | None = None, now: datetime | None = None) -> float | None:
    """Seconds since the newest checkpoint (None when there is none): for monitoring."""
    latest = newest(read(settings, keys or audit.get_audit_keys()))
    if latest is None:
        return None
    return ((now or utcnow()) - latest.at).total_seconds()
