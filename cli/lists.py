"""``kyc lists …``: ingest official files, show what is active, show what changed."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.orm import Session

from cli.common import fail, is_terminal, settings
from cli.users import cli_actor
from kyc import audit, cases, ftm, screening_api
from kyc.access import Principal, authenticate
from kyc.errors import KycError
from kyc.storage.db import transaction
from kyc.storage.lists import ListVersion
from kyc.versions import (
    IngestResult,
    ListRejected,
    SourceStatus,
    active_version,
    active_version_ids,
    approve_version,
    approving_user,
    load_entries,
    named_changes,
    status,
)
from lists.ingest import IngestFailed, ingest_files, ingest_url
from lists.registry import SOURCES, UnknownSource, get_adapter

app = typer.Typer(help="Official sanctions, asset-freeze and PEP lists.", no_args_is_help=True)


@app.command("sources")
def sources_command() -> None:
    """List the known sources and their official URLs."""
    for name in SOURCES:
        adapter = get_adapter(name)
        typer.echo(f"{name:16} {adapter.title}  [{adapter.default_url or 'manual import only'}]")


@app.command("ingest")
def ingest_command(
    source: Annotated[str, typer.Argument(help=f"One of: {', '.join(SOURCES)}")],
    file: Annotated[list[Path] | None, typer.Option("--file", help="A local file; repeat for file sets.")] = None,
    url: Annotated[str | None, typer.Option("--url", help="Fetch from this URL instead of the default.")] = None,
    allow_shrink: Annotated[bool, typer.Option(help="Accept a list much smaller than the active one.")] = False,
    allow_older: Annotated[
        bool, typer.Option(help="Accept a file published before the active version (after checking it by hand).")
    ] = False,
    user: Annotated[
        str | None,
        typer.Option(help="Who imports (needed for fi_national): an active admin; their token in KYC_TOKEN."),
    ] = None,
) -> None:
    """Ingest one source from files or a URL. Exit 0 when stored or unchanged, 2 when rejected."""
    if source not in SOURCES:
        fail(str(UnknownSource(source)))
    if file and url:
        fail("give either --file or --url, not both")
    config = settings()
    if user is not None:
        user = _verified_importer(config.database_url, user)
    result: IngestResult | None
    try:
        if file:
            result = ingest_files(source, file, config, allow_shrink=allow_shrink, allow_older=allow_older, user=user)
        else:
            result = ingest_url(source, config, url, allow_shrink=allow_shrink, allow_older=allow_older)
    except ListRejected as exc:
        fail(str(exc))
    except IngestFailed as exc:
        fail(str(exc))
    if result is None:
        typer.echo(f"{source}: not modified (HTTP 304); the active version stays")
        return
    if result.outcome == "unchanged":
        typer.echo(f"{source}: unchanged (version {result.version_id}, {result.entry_count} entries)")
        return
    verb = "stored, awaiting approval by a second user" if result.outcome == "pending" else "stored"
    typer.echo(
        f"{source}: {verb} version {result.version_id}: {result.entry_count} entries, "
        f"+{result.added} added, -{result.removed} removed, ~{result.changed} changed"
    )


TOKEN_VARIABLE = "KYC_TOKEN"  # noqa: S105 - the name of the variable, not a secret


def _console_user(session: Session, name: str, action: str) -> Principal:
    """The user a console operator acts as, for four eyes: NAME must be backed by NAME's own bearer token
    (``KYC_TOKEN``, or a hidden prompt on a terminal). A typed name alone would let one operator act as two
    admins; with the token, importing and approving take two people's credentials, as over the API."""
    user = approving_user(session, name, action=action)  # exists, active, allowed: named reasons first
    token = os.environ.get(TOKEN_VARIABLE) or (
        typer.prompt(f"{name}'s bearer token", hide_input=True, err=True) if is_terminal() else None
    )
    if not token:
        fail(f"--user {name!r}: give that user's bearer token in {TOKEN_VARIABLE} (it proves who acts)")
    principal = authenticate(session, token.strip())
    if principal is None or principal.user_id != user.user_id:
        fail(f"--user {name!r}: the token in {TOKEN_VARIABLE} is not a valid token of this user")
    return user


def _verified_importer(database_url: str, name: str) -> str:
    """The importer's name only counts for four eyes if it is a real user: the approver is compared with it, so an
    invented name would let one person import and approve."""
    name = name.strip()
    if not name or len(name) > 128:
        fail("--user: give the importing user's name (1-128 characters)")
    try:
        with transaction(database_url) as session:
            return _console_user(session, name, "import").name
    except KycError as exc:
        fail(str(exc))


@app.command("approve")
def approve_command(
    version_id: Annotated[int, typer.Argument(help="The pending version to activate.")],
    user: Annotated[
        str,
        typer.Option(help="The approving user: an active admin; their bearer token in KYC_TOKEN (or prompted)."),
    ],
) -> None:
    """Activate a pending manual import (four eyes); the approval is audited under the verified user."""
    user = user.strip()
    if not user or len(user) > 128:
        fail("--user: give the approving user's name (1-128 characters)")
    config = settings()
    try:
        with transaction(config.database_url) as session:
            approver = _console_user(session, user, "approve")
            version = approve_version(session, version_id, approver.name, approver_id=approver.user_id)
            _audit_approval(session, version.id, version.source, approver)
            typer.echo(f"{version.source}: version {version.id} approved by {approver.name} and active")
    except (KycError, ValueError) as exc:
        fail(str(exc))


def _audit_approval(session: Session, version_id: int, source: str, approver: Principal) -> None:
    """Record a console approval like the API's ``list_version.approve``: under the verified user (id, name and
    role, checked by ``kyc.versions.approving_user``), with the channel and the operating-system account that ran
    the command next to it."""
    audit.record(
        session,
        actor=approver,
        action="list_version.approve",
        object_type="list_version",
        object_id=str(version_id),
        purpose="list_management",
        details={"source": source, "channel": "cli", "os_account": cli_actor()},
    )


@app.command("relink")
def relink_command() -> None:
    """Recompute the designated subjects over the active versions (done at every ingestion and approval; after an
    upgrade this also computes the linking keys of versions ingested before it) and move cases accordingly."""
    config = settings()
    with transaction(config.database_url) as session:
        result = cases.follow_versions(session)
        audit.record(
            session,
            actor=cli_actor(),
            action="lists.relink",
            object_type="designated_subject",
            object_id="*",
            purpose="list_management",
            details={"subjects": result.subjects, "listings": result.listings, "moved": len(result.moved)},
        )
    typer.echo(f"{result.subjects} subjects over {result.listings} listings; {len(result.moved)} entries moved")


@app.command("status")
def status_command(as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False) -> None:
    """Per source: active version, publication date and age against the source's limit, sha256, entry count, fetch
    time, last attempt; STALE when the publication is older than the limit or the last attempt failed."""
    config = settings()
    with transaction(config.database_url) as session:
        rows = status(session, config)
    if as_json:
        typer.echo(json.dumps([_status_json(r) for r in rows], indent=2))
        return
    if not rows:
        typer.echo("no list ingested yet; try: kyc lists ingest un_sc --file consolidated.xml")
        return
    for r in rows:
        published = r.published_at.date().isoformat() if r.published_at else "-"
        fetched = r.fetched_at.strftime("%Y-%m-%d %H:%M") if r.fetched_at else "-"
        age = f"{r.age_days:.0f}/{r.max_age_days} d" if r.age_days is not None else f"-/{r.max_age_days} d"
        flag = f"  STALE: {r.stale_reason}" if r.stale else ""
        pending = f"  ({r.pending_versions} pending approval)" if r.pending_versions else ""
        typer.echo(
            f"{r.source:16} v{r.version_id or '-':<5} published {published}  age {age:<9} {r.entry_count or 0:>6} "
            f"entries  fetched {fetched}  sha256 {(r.sha256 or '-')[:12]}  last {r.last_outcome}{pending}{flag}"
        )


def _status_json(r: SourceStatus) -> dict[str, object]:
    return {
        "source": r.source,
        "version_id": r.version_id,
        "published_at": r.published_at.isoformat() if r.published_at else None,
        "sha256": r.sha256,
        "entry_count": r.entry_count,
        "fetched_at": r.fetched_at.isoformat() if r.fetched_at else None,
        "last_checked_at": r.last_checked_at.isoformat() if r.last_checked_at else None,
        "last_outcome": r.last_outcome,
        "last_error": r.last_error,
        "last_error_at": r.last_error_at.isoformat() if r.last_error_at else None,
        "age_days": round(r.age_days, 1) if r.age_days is not None else None,
        "age_basis": r.age_basis,
        "max_age_days": r.max_age_days,
        "stale": r.stale,
        "stale_reason": r.stale_reason,
        "pending_versions": r.pending_versions,
    }


@app.command("export")
def export_command(
    source: Annotated[str, typer.Argument(help=f"One of: {', '.join(SOURCES)}, or all")],
    format_: Annotated[str, typer.Option("--format", help="Output format: ftm (FollowTheMoney JSON lines).")] = "ftm",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")] = None,
) -> None:
    """Write the active version of a source (or of every source) as FollowTheMoney entities, one JSON per line,
    for nomenklatura, Aleph and OpenSanctions tooling. Exit 2 for an unknown source or one without an active
    version."""
    if format_ != "ftm":
        fail(f"unknown format {format_!r}; known: ftm")
    if source != "all" and source not in SOURCES:
        fail(str(UnknownSource(source)))
    with transaction(settings().database_url) as session:
        versions = active_version_ids(session)
        wanted = sorted(versions) if source == "all" else [source]
        if source != "all" and source not in versions:
            fail(f"{source}: no active version to export")
        infos = {v.source: v for v in screening_api.active_versions(session, {s: versions[s] for s in wanted})}
        batches = [(name, load_entries(session, versions[name])) for name in wanted]
    stream = output.open("w", encoding="utf-8") if output is not None else None
    count = 0
    try:
        for name, entries in batches:
            stamp = ftm.iso_seconds(infos[name].moment)
            seen = ftm.Seen(first_seen=stamp, last_seen=stamp, last_change=stamp)
            for entity in ftm.export_entities(entries, seen):
                line = json.dumps(entity, ensure_ascii=False, sort_keys=True)
                if stream is not None:
                    stream.write(line + "\n")
                else:
                    typer.echo(line)
                count += 1
    finally:
        if stream is not None:
            stream.close()
    if output is not None:
        typer.echo(f"{count} entities from {', '.join(wanted) or 'no source'} written to {output}", err=True)


@app.command("diff")
def diff_command(
    source: str,
    version: Annotated[
        int | None, typer.Option(help="A version id; default the active one.", min=1, max=2**31 - 1)
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """What the version changed against the one before it: added, removed and changed entries, id and name.
    Exit 2 for an unknown source or version, or a version of another source."""
    if source not in SOURCES:
        fail(str(UnknownSource(source)))
    config = settings()
    with transaction(config.database_url) as session:
        target = session.get(ListVersion, version) if version is not None else active_version(session, source)
        if target is None:
            fail(f"{source}: no version {version}" if version is not None else f"{source}: no active version")
        if target.source != source:
            fail(f"version {target.id} is a version of {target.source}, not of {source}")
        rows = named_changes(session, target)
    grouped: dict[str, list[dict[str, str | None]]] = {"added": [], "removed": [], "changed": []}
    for row in rows:
        grouped[row.change].append({"source_ref": row.source_ref, "name": row.name})
    if as_json:
        typer.echo(json.dumps({"source": target.source, "version_id": target.id, **grouped}, indent=2))
        return
    typer.echo(
        f"{target.source} version {target.id} ({target.status}): "
        f"+{len(grouped['added'])} -{len(grouped['removed'])} ~{len(grouped['changed'])}"
    )
    for change, sign in (("added", "+"), ("removed", "-"), ("changed", "~")):
        for item in grouped[change]:
            typer.echo(f"  {sign} {item['source_ref']:<16} {item['name'] or ''}".rstrip())
