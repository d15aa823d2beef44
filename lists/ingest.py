"""Ingestion: fetch or read, parse, store — one transaction per attempt, every attempt logged."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import structlog

from kyc.errors import Unavailable
from kyc.settings import Settings
from kyc.storage.db import transaction
from kyc.versions import IngestResult, ListRejected, RawFile, record_attempt, store_version
from lists.base import ParseError
from lists.fetch import FetchError, fetch, read_local
from lists.registry import get_adapter

log = structlog.get_logger(__name__)


class IngestFailed(Unavailable):
    """A download failed (the active version keeps serving); the message names the source."""


def source_url(source: str, settings: Settings) -> str:
    url = settings.source_urls.get(source) or get_adapter(source).default_url
    if not url:
        raise IngestFailed(f"{source}: no URL configured and the source has no official feed; use --file")
    return url


def ingest_files(
    source: str,
    paths: Sequence[str | Path],
    settings: Settings,
    *,
    allow_shrink: bool = False,
    allow_older: bool = False,
    user: str | None = None,
) -> IngestResult:
    try:
        files = [read_local(path) for path in paths]
    except FetchError as exc:
        _record(settings, source, "failed", str(exc), None)
        raise IngestFailed(f"{source}: {exc}") from exc
    return ingest_raw(
        source,
        files,
        settings,
        origin=", ".join(str(p) for p in paths),
        allow_shrink=allow_shrink,
        allow_older=allow_older,
        user=user,
    )


def ingest_url(
    source: str,
    settings: Settings,
    url: str | None = None,
    *,
    allow_shrink: bool = False,
    allow_older: bool = False,
) -> IngestResult | None:
    """Fetch the source's URL conditionally. Returns None when the server answered 304 Not Modified."""
    from kyc.storage.lists import ListSource

    url = url or source_url(source, settings)
    with transaction(settings.database_url) as session:
        state = session.get(ListSource, source)
        etag = state.etag if state else None
        modified = state.last_modified if state else None
    try:
        fetched = fetch(
            url,
            etag=etag,
            last_modified=modified,
            timeout=settings.fetch_timeout_seconds,
            max_bytes=settings.fetch_max_bytes,
            retries=settings.fetch_retries,
            backoff=settings.fetch_backoff_seconds,
        )
    except FetchError as exc:
        _record(settings, source, "failed", str(exc), url)
        raise IngestFailed(f"{source}: download failed: {exc}") from exc
    if fetched.file is None:
        _record(settings, source, "not_modified", "304 Not Modified", url)
        log.info("list.not_modified", source=source, url=url)
        return None
    return ingest_raw(
        source,
        [fetched.file],
        settings,
        origin=url,
        allow_shrink=allow_shrink,
        allow_older=allow_older,
        etag=fetched.etag,
        last_modified=fetched.last_modified,
    )


def ingest_raw(
    source: str,
    files: Sequence[RawFile],
    settings: Settings,
    *,
    origin: str,
    allow_shrink: bool = False,
    allow_older: bool = False,
    user: str | None = None,
    etag: str | None = None,
    last_modified: str | None = None,
) -> IngestResult:
    adapter = get_adapter(source)
    if adapter.requires_approval and not user:
        # Four eyes only mean something when the importer is known: approve_version refuses the same user.
        raise ListRejected(source, "a manual import needs the importing user (--user) so a second user can approve it")
    try:
        parsed = adapter.parse(files)
    except ParseError as exc:
        rejected = ListRejected(source, str(exc))
        _record(settings, source, "rejected", str(rejected), origin)
        raise rejected from exc
    try:
        with transaction(settings.database_url) as session:
            result = store_version(
                session,
                source=source,
                files=files,
                parsed=parsed,
                parser_version=adapter.parser_version,
                origin=origin,
                shrink_threshold=settings.shrink_threshold,
                allow_shrink=allow_shrink,
                allow_older=allow_older,
                require_approval=adapter.requires_approval,
                created_by=user,
                etag=etag,
                last_modified=last_modified,
            )
    except ListRejected as exc:
        _record(settings, source, "rejected", str(exc), origin)
        raise
    log.info(
        "list.ingested",
        source=source,
        outcome=result.outcome,
        version=result.version_id,
        entries=result.entry_count,
        added=result.added,
        removed=result.removed,
        changed=result.changed,
    )
    return result


def _record(settings: Settings, source: str, outcome: str, message: str, origin: str | None) -> None:
    with transaction(settings.database_url) as session:
        record_attempt(session, source, outcome, message, origin)
    log.warning("list.attempt", source=source, outcome=outcome, message=message)
