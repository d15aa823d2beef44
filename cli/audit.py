"""``kyc audit …``: verify the keyed audit chain against its signed checkpoints, write a checkpoint, restore a head.

``kyc audit verify`` exits with one code per verdict, so monitoring can tell what happened without parsing text:

====  ====================  =====================================================================================
code  verdict               meaning
====  ====================  =====================================================================================
0     intact                every entry verifies, the head and every checkpoint agree
1     modified              an entry does not match its MAC (content changed, or written with another key)
3     rewritten             MACs recomputed without the key, a broken link, or an entry differs from a checkpoint
4     deleted               entries are missing from the middle of the chain
5     truncated             the newest entries were deleted (the chain ends before its head or a checkpoint)
6     head_missing          the ``audit_head`` row is gone
7     head_altered          the head does not match the end of the chain
8     checkpoint_invalid    a checkpoint does not verify (file altered, or its key is not configured)
2     —                     configuration error (e.g. ``KYC_AUDIT_KEY`` missing in production)
====  ====================  =====================================================================================
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

from cli.common import fail, settings
from cli.users import cli_actor
from kyc import audit, checkpoints
from kyc.audit import AuditVerification, Verdict
from kyc.storage.db import transaction

app = typer.Typer(help="The tamper-evident audit trail.", no_args_is_help=True)

EXIT_CODES: dict[Verdict, int] = {
    Verdict.INTACT: 0,
    Verdict.MODIFIED: 1,
    Verdict.REWRITTEN: 3,
    Verdict.DELETED: 4,
    Verdict.TRUNCATED: 5,
    Verdict.HEAD_MISSING: 6,
    Verdict.HEAD_ALTERED: 7,
    Verdict.CHECKPOINT_INVALID: 8,
}


def _keys() -> audit.AuditKeys:
    try:
        return audit.get_audit_keys()
    except audit.AuditKeyError as exc:
        fail(str(exc))


@app.command("verify")
def verify_command(as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False) -> None:
    """Check every entry, the head and every external checkpoint; the exit code names the verdict."""
    config = settings()
    keys = _keys()
    with transaction(config.database_url) as session:
        result = checkpoints.verify(session, config, keys)
    recorded = _record_verification(config.database_url, result)
    if as_json:
        typer.echo(json.dumps(_as_dict(result, recorded), indent=2))
    elif result.ok:
        typer.echo(f"audit chain intact: {result.checked} entries (head {(result.head_hash or '')[:16]})")
    if not result.ok and not as_json:
        where = f"entry {result.first_bad_id}" if result.first_bad_id is not None else "the chain head"
        typer.echo(
            f"audit chain BROKEN ({result.verdict.value}) at {where}: {result.reason} "
            f"({result.checked} entries verified before it)",
            err=True,
        )
    if result.ok and result.anchor is None and not as_json:
        typer.echo(
            "warning: no checkpoint yet, so a deleted tail or a replaced chain cannot be detected: "
            "run `kyc audit checkpoint` (the scheduler writes one every KYC_AUDIT_CHECKPOINT_MINUTES)",
            err=True,
        )
    raise typer.Exit(EXIT_CODES[result.verdict])


def _record_verification(database_url: str, result: AuditVerification) -> bool:
    """Audit the verification itself, unless the chain cannot take an entry (no head)."""
    try:
        with transaction(database_url) as session:
            audit.record(
                session,
                actor=cli_actor(),
                action="audit.verify",
                object_type="audit_log",
                object_id="*",
                purpose="audit",
                details={
                    "ok": result.ok,
                    "verdict": result.verdict.value,
                    "checked": result.checked,
                    "first_bad_id": result.first_bad_id,
                },
            )
    except audit.AuditUnavailable:
        return False
    return True


def _as_dict(result: AuditVerification, recorded: bool) -> dict[str, object]:
    anchor = result.anchor
    return {
        "ok": result.ok,
        "verdict": result.verdict.value,
        "checked": result.checked,
        "first_bad_id": result.first_bad_id,
        "reason": result.reason,
        "last_id": result.last_id,
        "head_hash": result.head_hash,
        "checkpoint": None
        if anchor is None
        else {"entry_id": anchor.entry_id, "chain_hash": anchor.chain_hash, "at": anchor.at.isoformat()},
        "verification_recorded": recorded,
    }


@app.command("checkpoint")
def checkpoint_command() -> None:
    """Verify the chain since the last checkpoint and append a signed checkpoint of its end (exit 1 if broken)."""
    config = settings()
    keys = _keys()
    try:
        with transaction(config.database_url) as session:
            written = checkpoints.take(session, config, keys)
    except checkpoints.ChainNotIntact as exc:
        typer.echo(f"error: {exc.message}; no checkpoint written (see `kyc audit verify`)", err=True)
        raise typer.Exit(EXIT_CODES[exc.result.verdict]) from exc
    except checkpoints.CheckpointError as exc:
        typer.echo(f"error: {exc.message}; no checkpoint written", err=True)
        raise typer.Exit(EXIT_CODES[Verdict.CHECKPOINT_INVALID]) from exc
    if written is None:
        typer.echo("the audit chain is empty: nothing to checkpoint")
        return
    typer.echo(
        f"checkpoint: entry {written.entry_id} hash {written.chain_hash[:16]} at {written.at.isoformat()} "
        f"-> {checkpoints.path_of(config)}"
    )


@app.command("restore-head")
def restore_head_command() -> None:
    """Recreate a deleted chain head from the chain, if it is otherwise intact and agrees with the checkpoints."""
    config = settings()
    keys = _keys()
    try:
        found = checkpoints.read(config, keys)
    except checkpoints.CheckpointError as exc:
        fail(exc.message, EXIT_CODES[Verdict.CHECKPOINT_INVALID])
    try:
        with transaction(config.database_url) as session:
            head = audit.restore_head(session, keys=keys, anchors=[c.anchor() for c in found])
            audit.record(
                session,
                actor=cli_actor(),
                action="audit.head.restore",
                object_type="audit_log",
                object_id=str(head.last_id),
                purpose="audit",
                details={"legacy_until": head.legacy_until, "checkpoints": len(found)},
            )
    except audit.AuditUnavailable as exc:
        fail(f"head not restored: {exc.message}", 1)
    typer.echo(f"audit head restored at entry {head.last_id}; the restoration is entry {head.last_id + 1}")
