"""Field encryption for personal identity codes, a blind index to find them, and masking for display and logs.

A personal identity code (henkilötunnus) is stored only encrypted (Fernet: AES-128-CBC + HMAC-SHA256). To find a
person by it without decrypting every row, a keyed HMAC of the normalised code (the *blind index*) is stored
next to it. Keys come only from the environment: ``KYC_ENCRYPTION_KEY`` is a comma-separated list of Fernet keys,
the first encrypts and all decrypt, so a key is rotated by prepending a new one and re-encrypting with
``Cipher.rotate`` (``kyc keys rotate``). Blind-index keys are ``KYC_BLIND_INDEX_KEY`` (comma-separated, first
current) or, when unset, derived (HKDF) from each encryption key, the current one from the current key. Values are
indexed under the current blind key and looked up under all of them, so an identity code stays findable through a
rotation (``new,old`` until ``kyc keys rotate`` has re-indexed, then only ``new``). A separate
``KYC_BLIND_INDEX_KEY`` keeps the index — and the keyed suppression fingerprints built on it — unchanged when the
encryption key rotates, which is why production should set one.

Which keys the stored data needs is recorded in the database (``kyc.keycheck``: a canary encrypted with the current
key and the fingerprints of the blind keys in use), so a process started with keys that cannot read the data
refuses to start instead of answering "not found".

Outside production a machine with no key generates one into ``var/encryption.key`` (mode 0600) so ``make run``
works out of the box; with ``KYC_ENV=production`` a missing key is a startup error.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import time
from collections.abc import Callable, MutableMapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import structlog
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from kyc.errors import KycError, Unavailable
from kyc.settings import Settings, get_settings

log = structlog.get_logger(__name__)

_BLIND_INFO = b"kyc blind index v1"
_FINGERPRINT_INFO = b"kyc key fingerprint v1"
# Finnish henkilötunnus: DDMMYY, century sign (- + A, and since 2023 B-F and U-Y), individual number, check char.
_HETU = re.compile(r"^(\d{6})([-+ABCDEFUVWXY])(\d{3})([0-9A-Y])$")
# In free text the code may be lower-case or percent-encoded (a query string in an access log line: ``170580%2D123l``):
# every character may also appear as its ``%XX`` escape.
_D = r"(?:\d|%3[0-9])"
_CENTURY = r"(?:[-+A-FU-Ya-fu-y]|%2[BbDd]|%4[1-6]|%5[5-9]|%6[1-6]|%7[5-9])"
_CHECK = r"(?:[0-9A-Ya-y]|%3[0-9]|%4[1-9A-Fa-f]|%5[0-9]|%6[1-9A-Fa-f]|%7[0-9])"
_HETU_IN_TEXT = re.compile(
    rf"(?:(?<=%[0-9A-Fa-f]{{2}})|(?<![0-9A-Za-z]))({_D}{{6}})({_CENTURY})({_D}{{3}})({_CHECK})(?![0-9A-Za-z])"
)
# Nordic codes with a date part: Swedish YYMMDD-NNNN / YYYYMMDDNNNN, Danish DDMMYY-NNNN, Norwegian DDMMYYNNNNN.
_DATED = re.compile(r"^(\d{6}|\d{8})([-+]?)(\d{4,5})$")


class CryptoConfigError(KycError):
    """The key configuration is missing or invalid: the service must not start."""


class DecryptionError(Unavailable, ValueError):
    """A stored value the configured keys cannot decrypt: a key configuration problem, not the caller's."""

    code = "decryption_failed"


class Cipher:
    """Encrypt, decrypt and index with explicit key lists (first = current).

    ``blind_keys`` are the blind-index keys, newest first (``KYC_BLIND_INDEX_KEY``); without them one is derived
    from each encryption key. New values are indexed with the first; a look-up tries every one
    (:meth:`blind_indexes`), so a person stays findable while ``kyc keys rotate`` re-indexes the rows.
    """

    def __init__(self, keys: Sequence[str], blind_key: bytes | Sequence[bytes] | None = None) -> None:
        if not keys:
            raise CryptoConfigError("no encryption key configured")
        try:
            fernets = [Fernet(key.strip().encode("ascii")) for key in keys]
        except (ValueError, UnicodeEncodeError) as exc:
            raise CryptoConfigError(
                "KYC_ENCRYPTION_KEY: every comma-separated key must be a 32-byte url-safe base64 Fernet key "
                "(generate one with `python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())'`)"
            ) from exc
        self._fernet = MultiFernet(fernets)
        self._fernets = fernets
        self.key_fingerprints = tuple(fingerprint(key.strip().encode("ascii")) for key in keys)
        """Public names of the encryption keys, first = current (never the keys themselves)."""
        if isinstance(blind_key, bytes):
            blind_keys: list[bytes] = [blind_key]
        elif blind_key:
            blind_keys = list(blind_key)
        else:
            blind_keys = [_derive_blind_key(key) for key in keys]
        self._blind_keys = blind_keys
        self.blind_fingerprints = tuple(fingerprint(key) for key in blind_keys)
        """Public names of the blind-index keys, first = current."""

    def encrypt(self, text: str) -> str:
        return self._fernet.encrypt(text.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeEncodeError) as exc:
            raise DecryptionError("ciphertext is corrupt or was encrypted with a key no longer configured") from exc

    def rotate(self, token: str) -> str:
        """Re-encrypt under the current (first) key; run over all rows before dropping an old key."""
        try:
            return self._fernet.rotate(token.encode("ascii")).decode("ascii")
        except (InvalidToken, UnicodeEncodeError) as exc:
            raise DecryptionError("ciphertext is corrupt or was encrypted with a key no longer configured") from exc

    def encrypted_with(self, token: str) -> str | None:
        """The fingerprint of the configured key that decrypts ``token`` (None: none of them)."""
        for fernet, name in zip(self._fernets, self.key_fingerprints, strict=True):
            try:
                fernet.decrypt(token.encode("ascii"))
            except (InvalidToken, UnicodeEncodeError):
                continue
            return name
        return None

    def blind_index(self, text: str) -> str:
        """The index a value is stored with: under the current blind-index key."""
        return _index(self._blind_keys[0], text)

    def blind_indexes(self, text: str) -> list[str]:
        """Every index the value may have been stored with (one per configured blind-index key), for look-ups."""
        return list(dict.fromkeys(_index(key, text) for key in self._blind_keys))


def _index(key: bytes, text: str) -> str:
    return hmac.new(key, normalise_personal_id(text).encode("utf-8"), hashlib.sha256).hexdigest()


def fingerprint(key: bytes) -> str:
    """A public name for a key, to tell keys apart in messages and the key check; reveals nothing of the key."""
    return hmac.new(key, _FINGERPRINT_INFO, hashlib.sha256).hexdigest()[:16]


def _derive_blind_key(fernet_key: str) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_BLIND_INFO)
    return hkdf.derive(fernet_key.strip().encode("ascii"))


def normalise_personal_id(text: str) -> str:
    """Upper case without spaces, so ``170580-123l`` and ``170580-123L `` index alike."""
    return re.sub(r"\s+", "", text).upper()


def load_keys(settings: Settings) -> list[str]:
    """The configured keys; outside production, a generated local key when none is configured."""
    if settings.encryption_key is not None:
        keys = [k.strip() for k in settings.encryption_key.get_secret_value().split(",") if k.strip()]
        if keys:
            return keys
    if settings.env.lower() == "production":
        raise CryptoConfigError(
            "KYC_ENCRYPTION_KEY is required when KYC_ENV=production: personal identity codes are stored encrypted "
            "and a generated key would be lost with the machine"
        )
    return [_local_key(settings.encryption_key_file)]


def _local_key(path: Path) -> str:
    return local_secret(path, lambda: Fernet.generate_key().decode("ascii"), "KYC_ENCRYPTION_KEY")


def local_secret(path: Path, generate: Callable[[], str], variable: str) -> str:
    """A development secret kept in ``path`` (mode 0600), generated on first use.

    Only outside production: there the secret comes from ``variable`` in the environment. Two processes starting at
    once agree on one secret (``O_EXCL``; the loser waits for the winner's write).
    """
    if path.exists():
        return _read_secret(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = generate()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process won the race; use its secret
        return _read_secret(path)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(secret + "\n")
    log.warning(
        f"generated a local secret; set {variable} (and KYC_ENV=production) for real deployments", path=str(path)
    )
    return secret


def _read_secret(path: Path, attempts: int = 50) -> str:
    for _ in range(attempts):
        text = path.read_text(encoding="ascii").strip()
        if text:
            return text
        time.sleep(0.02)  # created by another process that has not written it yet
    raise CryptoConfigError(f"{path} is empty: delete it to generate a new development secret")


def cipher_from_settings(settings: Settings) -> Cipher:
    blind = None
    if settings.blind_index_key is not None:
        parts = [part.strip() for part in settings.blind_index_key.get_secret_value().split(",") if part.strip()]
        blind = [part.encode("utf-8") for part in parts] or None
    return Cipher(load_keys(settings), blind)


@lru_cache(maxsize=1)
def get_cipher() -> Cipher:
    """The process-wide cipher from ``get_settings()``; clear with ``get_cipher.cache_clear()`` after changes."""
    return cipher_from_settings(get_settings())


def encrypt(text: str) -> str:
    return get_cipher().encrypt(text)


def decrypt(token: str) -> str:
    return get_cipher().decrypt(token)


def blind_index(text: str) -> str:
    return get_cipher().blind_index(text)


def blind_indexes(text: str) -> list[str]:
    return get_cipher().blind_indexes(text)


def mask_personal_id(value: str) -> str:
    """Keep the birth-date part (and century sign), hide the individual number and check character.

    ``170580-123L`` -> ``170580-****``. Nordic codes with a leading date keep it too; any other id shows at most
    its first two characters, never its length.
    """
    code = normalise_personal_id(value)
    hetu = _HETU.match(code)
    if hetu:
        return f"{hetu.group(1)}{hetu.group(2)}****"
    dated = _DATED.match(code)
    if dated:
        return f"{dated.group(1)}{dated.group(2)}****"
    return (code[:2] if len(code) >= 8 else "") + "****"


_PERSONAL_ID_TYPE = re.compile(
    r"hetu|personal|national|identi|ssn|social|citizen|id_?card|id_?no|tax|cedula|curp|nin\b|pin\b", re.IGNORECASE
)
"""Identifier types of a list entry that are personal identity codes (``fi_hetu``, ``national identification
number``, ``ssn``, ``cedula no``…), unlike document, vessel or registration numbers."""


def mask_entry(data: dict[str, Any]) -> dict[str, Any]:
    """A list entry as shown to officers: personal identity codes masked like a party's, in identifiers and in
    every text field (a remark may repeat the code). Passport, vessel and registration numbers stay readable:
    officers compare them with the customer's documents."""
    shown = dict(data)
    identifiers = shown.get("identifiers")
    if isinstance(identifiers, list):
        shown["identifiers"] = [_masked_identifier(item) for item in identifiers]
    masked: dict[str, Any] = redact_value(shown)
    return masked


def _masked_identifier(item: Any) -> Any:
    if not isinstance(item, dict) or not isinstance(item.get("number"), str):
        return item
    if _PERSONAL_ID_TYPE.search(str(item.get("type", ""))):
        return {**item, "number": mask_personal_id(item["number"])}
    return item


def redact(text: str) -> str:
    """Mask every henkilötunnus inside free text (log messages, error strings, URLs), in any letter case and
    percent-encoded too: ``170580-123l`` and ``170580%2D123L`` both become ``170580-****``."""
    if not any(ch.isdigit() for ch in text):
        return text
    return _HETU_IN_TEXT.sub(_masked_match, text)


def _masked_match(match: re.Match[str]) -> str:
    return f"{unquote(match.group(1))}{unquote(match.group(2)).upper()}****"


def redact_value(value: Any) -> Any:
    """``redact`` applied to every string inside dicts, lists, tuples and sets, at any depth.

    Log events carry structured values (``persons=[{"personal_id": ...}]``); masking only top-level strings let
    nested codes through. Any other object whose ``repr`` — what the renderers print — holds a
    code (an exception, a model) is replaced by its masked ``repr``; numbers and clean objects stay as they are.
    """
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {redact_value(k): redact_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [redact_value(v) for v in value]
        if isinstance(value, tuple) and hasattr(value, "_fields"):  # a namedtuple takes positional fields
            return type(value)(*items)
        return type(value)(items)
    if value is None or isinstance(value, bool | int | float):
        return value
    shown = repr(value)
    masked = redact(shown)
    return value if masked == shown else masked


def redact_processor(_logger: object, _method: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """A structlog processor masking henkilötunnus codes in every string of a log event, nested ones included.

    Put it after ``format_exc_info`` (so tracebacks are text by then) and last before the renderer in
    ``kyc.logs.configure``, so no log line carries a full personal id.
    """
    for key, value in event_dict.items():
        event_dict[key] = redact_value(value)
    return event_dict
