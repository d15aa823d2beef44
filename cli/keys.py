"""``kyc keys …``: check that the configured keys read the stored data; rotate the encryption of identity codes."""

from __future__ import annotations

import typer

from cli.common import fail, settings
from kyc import audit, crypto, keycheck, subjects
from kyc.storage.db import transaction

app = typer.Typer(help="Encryption, blind-index and audit keys.", no_args_is_help=True)


@app.command("check")
def check_command() -> None:
    """Exit 0 when the configured keys decrypt and find the stored identity codes and verify the audit chain's
    newest entry; 2 naming the problem otherwise (what every server process checks before it starts)."""
    config = settings()
    try:
        keycheck.startup_check(config)
        cipher = crypto.get_cipher()
    except crypto.CryptoConfigError as exc:
        fail(str(exc))
    typer.echo(
        f"keys ok: encryption {', '.join(cipher.key_fingerprints)}; "
        f"blind index {', '.join(cipher.blind_fingerprints)}; "
        f"audit {', '.join(audit.get_audit_keys().ids)} (fingerprints, first = current)"
    )


@app.command("rotate")
def rotate_command() -> None:
    """Re-encrypt every personal id with the first key of KYC_ENCRYPTION_KEY and re-index it under the first
    blind-index key; afterwards the older keys can be removed."""
    config = settings()
    try:
        cipher = crypto.get_cipher()
        with transaction(config.database_url) as session:
            keycheck.check(session, cipher)  # the keys must read what is stored before anything is rewritten
            count = subjects.reencrypt_personal_ids(session, cipher)
            keycheck.renew(session, cipher)
    except crypto.CryptoConfigError as exc:
        fail(str(exc))
    typer.echo(f"re-encrypted {count} personal id(s) under the current key; older keys can now be removed")
