"""Refuse to start with keys that cannot read the stored data, naming the problem.

Any valid Fernet key is accepted by the cipher, so a process started with the wrong ``KYC_ENCRYPTION_KEY`` (another
environment's, a typo'd copy, an old key dropped too early) used to run silently: look-ups by identity code answered
"data subject not found" and exports failed on decryption. The database therefore keeps one ``key_checks`` row:

* a *canary* — a constant encrypted with the current key — that the configured keys must decrypt;
* the fingerprints of the blind-index keys its stored indexes were built with, each of which must still be
  configured (or a look-up by identity code would silently miss rows).

The row is created at the first start (after checking, when personal data already exists, that the configured keys
read it) and renewed by ``kyc keys rotate``, which re-encrypts and re-indexes everything under the current keys. The
audit key is checked against the newest audit entry at the same time (``kyc.audit.check_key``).
"""

from __future__ import annotations

from typing import cast

from sqlalchemy import Executable, Table, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from kyc import audit
from kyc.crypto import Cipher, CryptoConfigError, DecryptionError, get_cipher
from kyc.settings import Settings
from kyc.storage.access import KeyCheck
from kyc.storage.db import transaction
from kyc.storage.jobs import Party

CANARY = "kyc key check v1"
_ROW_ID = 1
_ROTATE_HINT = (
    "To rotate, set KYC_ENCRYPTION_KEY=new,old (new first), run `kyc keys rotate`, and only then drop the old key."
)


def check(session: Session, cipher: Cipher) -> None:
    """Raise :class:`CryptoConfigError` unless ``cipher`` can read and find everything stored; record the keys in
    use the first time."""
    row = session.get(KeyCheck, _ROW_ID)
    if row is None:
        _check_stored_data(session, cipher)
        session.execute(_create(session, cipher))
        row = session.get(KeyCheck, _ROW_ID)
        assert row is not None  # created here or by a concurrent first start
    _check_canary(row, cipher)
    missing = [name for name in row.blind_fingerprints if name not in cipher.blind_fingerprints]
    if missing:
        raise CryptoConfigError(
            f"the stored identity codes are indexed with blind-index key {', '.join(missing)}, which is not "
            f"configured (configured: {', '.join(cipher.blind_fingerprints)}): look-ups by identity code would "
            "miss them. Keep KYC_BLIND_INDEX_KEY (or the encryption key it is derived from) until `kyc keys "
            f"rotate` has re-indexed. {_ROTATE_HINT}"
        )
    current = cipher.blind_fingerprints[0]
    if current not in row.blind_fingerprints:  # this process will index new values with it
        row.blind_fingerprints = [*row.blind_fingerprints, current]


def _create(session: Session, cipher: Cipher) -> Executable:
    values = {
        "id": _ROW_ID,
        "canary": cipher.encrypt(CANARY),
        "key_fingerprint": cipher.key_fingerprints[0],
        "blind_fingerprints": list(cipher.blind_fingerprints),
    }
    table = cast(Table, KeyCheck.__table__)
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table).values(values).on_conflict_do_nothing(index_elements=["id"])
    if dialect == "sqlite":
        return sqlite.insert(table).values(values).on_conflict_do_nothing(index_elements=["id"])
    return insert(table).values(values)


def _check_canary(row: KeyCheck, cipher: Cipher) -> None:
    try:
        plain = cipher.decrypt(row.canary)
    except DecryptionError:
        plain = None
    if plain != CANARY:
        raise CryptoConfigError(
            "KYC_ENCRYPTION_KEY cannot decrypt this database: its personal identity codes are encrypted with key "
            f"{row.key_fingerprint}, but the configured keys are {', '.join(cipher.key_fingerprints)}. Configure the "
            f"key the data was encrypted with. {_ROTATE_HINT}"
        )


def _check_stored_data(session: Session, cipher: Cipher) -> None:
    """Before the first key check is written (an upgrade), the newest stored identity code must be readable and
    findable with the configured keys; otherwise the check would pin the wrong keys."""
    party = session.execute(
        select(Party.personal_id_encrypted, Party.personal_id_index)
        .where(Party.personal_id_encrypted.is_not(None))
        .order_by(Party.id.desc())
        .limit(1)
    ).first()
    if party is None or party.personal_id_encrypted is None:
        return
    try:
        plain = cipher.decrypt(party.personal_id_encrypted)
    except DecryptionError as exc:
        raise CryptoConfigError(
            "KYC_ENCRYPTION_KEY cannot decrypt the stored personal identity codes (configured keys: "
            f"{', '.join(cipher.key_fingerprints)}): configure the key they were encrypted with. {_ROTATE_HINT}"
        ) from exc
    if party.personal_id_index not in cipher.blind_indexes(plain):
        raise CryptoConfigError(
            "the stored identity codes are indexed with a blind-index key that is not configured (configured: "
            f"{', '.join(cipher.blind_fingerprints)}): look-ups by identity code would miss them. Configure the "
            "KYC_BLIND_INDEX_KEY they were indexed with, or unset it if they were indexed with the derived key."
        )


def renew(session: Session, cipher: Cipher) -> None:
    """After every stored code was re-encrypted and re-indexed under the current keys (``kyc keys rotate``)."""
    row = session.get(KeyCheck, _ROW_ID)
    if row is None:
        session.execute(_create(session, cipher))
        return
    row.canary = cipher.encrypt(CANARY)
    row.key_fingerprint = cipher.key_fingerprints[0]
    row.blind_fingerprints = [cipher.blind_fingerprints[0]]


def startup_check(settings: Settings) -> None:
    """What every serving process runs before it serves: the keys can read the data and the audit chain."""
    cipher = get_cipher()
    keys = audit.get_audit_keys()
    with transaction(settings.database_url) as session:
        check(session, cipher)
        audit.check_key(session, keys)
