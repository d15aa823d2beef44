"""``kyc keys rotate``: re-encrypt stored personal identity codes under the current encryption key."""

from __future__ import annotations

import typer

from cli.common import fail, settings
from kyc import crypto, subjects
from kyc.storage.db import transaction

app = typer.Typer(help="Encryption keys for personal identity codes.", no_args_is_help=True)


@app.command("rotate")
def rotate_command() -> None:
    """Re-encrypt every personal id with the first key of KYC_ENCRYPTION_KEY and refresh its blind index."""
    config = settings()
    try:
        cipher = crypto.get_cipher()
        with transaction(config.database_url) as session:
            count = subjects.reencrypt_personal_ids(session, cipher)
    except (crypto.CryptoConfigError, crypto.DecryptionError) as exc:
        fail(str(exc))
    typer.echo(f"re-encrypted {count} personal id(s) under the current key; older keys can now be removed")
