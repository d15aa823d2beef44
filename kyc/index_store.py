"""Built matchers kept on disk, one directory per index key, shared by every process on the machine.

A key names what a matcher was built from: the active list versions (id, file digest, parser), the engine's
configuration, and the engine itself (its version, a digest of its code, the normalisation library's version).
Whoever needs a matcher for a key reads the directory when it exists and otherwise builds it and writes it, so the
command line and the workers build each list version once, not once per process and call.

Written safely: into a private temporary directory, then renamed into place in one step, so a reader sees a
complete index or none. Read safely: ``.npy`` arrays without pickled objects (``allow_pickle=False``), JSON and
UTF-8 text; arrays and texts are memory-mapped, so processes reading one index share its pages.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import mmap
import os
import shutil
import tempfile
import time
from collections.abc import Iterator, Sequence
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import structlog

from kyc.countries import COUNTRY_NAMES_FILE
from kyc.matching import MatchConfig, Matcher
from kyc.matching.state import STATE_FORMAT, MatcherState, StateMismatch, export, restore

log = structlog.get_logger(__name__)

KEEP = 3
"""Index directories kept besides the one just written (older ones may still be mapped by a running process)."""
_META = "meta.json"
_NAME = "index-"


@lru_cache(maxsize=1)
def engine_digest() -> str:
    """The engine's code, the entry model's, the country names it reads and the normalisation libraries'
    versions: a change to any may change every name form or how a stored entry reads back."""
    digest = hashlib.sha256()
    here = Path(__file__).resolve().parent
    # The engine, the entry model the stored entries are read back with, and the country names behind genitives.
    for path in [*sorted((here / "matching").glob("*.py")), here / "entry.py", COUNTRY_NAMES_FILE]:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    for library in ("rigour", "rapidfuzz"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            digest.update(f"{library}={metadata.version(library)}".encode())
    return digest.hexdigest()


def index_key(versions: dict[str, tuple[int, str, str]], config: MatchConfig) -> str:
    """The key of the matcher over ``versions`` (source -> version id, sha256, parser version) under ``config``."""
    payload = {
        "format": STATE_FORMAT,
        "engine": Matcher.engine_version,
        "code": engine_digest(),
        "config": config.config_hash(),
        "versions": sorted([source, *stamp] for source, stamp in versions.items()),
    }
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def _directory(root: Path, key: str) -> Path:
    return root / f"{_NAME}{key}"


def read(root: Path, key: str) -> Matcher | None:
    """The stored matcher for ``key``, or None when there is none (or it is unreadable: then it is rebuilt)."""
    directory = _directory(root, key)
    try:
        meta = json.loads((directory / _META).read_text(encoding="utf-8"))
        if meta.get("key") != key:
            return None
        state = MatcherState(meta=meta["state"])
        for name in meta["arrays"]:
            # A plain array over the mapped file: slicing a ``np.memmap`` runs Python code on every slice.
            mapped = np.load(directory / f"{name}.npy", mmap_mode="r", allow_pickle=False)
            state.arrays[name] = np.asarray(mapped)
        for name in meta["blobs"]:
            state.blobs[name] = _map(directory / f"{name}.txt")
        matcher = restore(state)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError, StateMismatch) as exc:
        log.warning("index.unreadable", key=key, error=type(exc).__name__)
        return None
    with contextlib.suppress(OSError):
        os.utime(directory)  # recently used: pruned last
    return matcher


def _map(path: Path) -> bytes | mmap.mmap:
    with path.open("rb") as handle:
        if os.fstat(handle.fileno()).st_size == 0:
            return b""
        return mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)


def write(
    root: Path,
    key: str,
    matcher: Matcher,
    about: dict[str, Any] | None = None,
    entry_texts: Sequence[str] | None = None,
) -> Path:
    """Store ``matcher`` under ``key``; atomic (a complete directory appears or nothing does). ``entry_texts``:
    the entries' JSON when the caller has it (``kyc.matching.state.export``)."""
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    state = export(matcher, entry_texts)
    target = _directory(root, key)
    temporary = Path(tempfile.mkdtemp(prefix=".building-", dir=root))
    try:
        for name, array in state.arrays.items():
            np.save(temporary / f"{name}.npy", np.ascontiguousarray(array), allow_pickle=False)
        for name, blob in state.blobs.items():
            (temporary / f"{name}.txt").write_bytes(blob)
        meta = {
            "key": key,
            "about": about or {},
            "written_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "arrays": sorted(state.arrays),
            "blobs": sorted(state.blobs),
            "state": state.meta,
        }
        (temporary / _META).write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
        for path in temporary.iterdir():
            with path.open("rb") as handle:
                os.fsync(handle.fileno())
        try:
            os.rename(temporary, target)
        except OSError:
            if not (target / _META).is_file():  # not "another process stored the same key first"
                raise
    finally:
        shutil.rmtree(temporary, ignore_errors=True)
    prune(root, keep=key)
    return target


def prune(root: Path, keep: str) -> None:
    """Remove all but the ``KEEP`` most recently used index directories besides ``keep`` (and stale temporary
    ones). A process still mapping a removed index keeps reading it: the files live on until it lets go."""
    try:
        stored = [p for p in root.iterdir() if p.name.startswith(_NAME) and p != _directory(root, keep)]
    except FileNotFoundError:
        return
    stored.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    for old in stored[KEEP:]:
        shutil.rmtree(old, ignore_errors=True)
    for leftover in root.glob(".building-*"):
        with contextlib.suppress(OSError):
            if time.time() - leftover.stat().st_mtime > 3600:
                shutil.rmtree(leftover, ignore_errors=True)


@contextlib.contextmanager
def building(root: Path) -> Iterator[None]:
    """One builder at a time on this machine: the others wait, then read what it wrote."""
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    with (root / ".build.lock").open("a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
