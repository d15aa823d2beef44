"""``kyc audit verify``: check the audit log's hash chain end to end (exit 1 names the first bad entry)."""

from __future__ import annotations

import typer

from cli.common import settings
from cli.users import cli_actor
from kyc import audit
from kyc.storage.db import transaction

app = typer.Typer(help="The tamper-evident audit trail.", no_args_is_help=True)


@app.command("verify")
def verify_command() -> None:
    """Recompute every entry's hash; exit 0 when intact, 1 naming the first entry that does not hold."""
    config = settings()
    with transaction(config.database_url) as session:
        result = audit.verify(session)
        audit.record(
            session,
            actor=cli_actor(),
            action="audit.verify",
            object_type="audit_log",
            object_id="*",
            purpose="audit",
            details={"ok": result.ok, "checked": result.checked, "first_bad_id": result.first_bad_id},
        )
    if result.ok:
        typer.echo(f"audit chain intact: {result.checked} entries (head {(result.head_hash or '')[:16]})")
        return
    where = f"entry {result.first_bad_id}" if result.first_bad_id is not None else "the chain head"
    typer.echo(
        f"audit chain BROKEN at {where}: {result.reason} ({result.checked} entries verified before it)", err=True
    )
    raise typer.Exit(1)
