from __future__ import annotations

import stat
from collections import namedtuple
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog
from cryptography.fernet import Fernet

from kyc import crypto
from kyc.crypto import Cipher, CryptoConfigError, DecryptionError, mask_personal_id, redact
from kyc.settings import Settings, get_settings


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """The CLI binds structlog to CliRunner's stderr, closed after the call; later log lines would then fail."""
    structlog.reset_defaults()
    yield
    structlog.reset_defaults()


KEY_OLD = Fernet.generate_key().decode()
KEY_NEW = Fernet.generate_key().decode()
HETU = "170580-123L"


def test_round_trip_and_ciphertext_hides_the_code() -> None:
    cipher = Cipher([KEY_OLD])
    token = cipher.encrypt(HETU)
    assert HETU not in token and "170580" not in token
    assert cipher.decrypt(token) == HETU
    assert cipher.encrypt(HETU) != token  # random IV: equal codes do not give equal ciphertexts


def test_key_rotation_prepending_a_new_key() -> None:
    old_token = Cipher([KEY_OLD]).encrypt(HETU)
    rotated_cipher = Cipher([KEY_NEW, KEY_OLD])
    assert rotated_cipher.decrypt(old_token) == HETU
    new_token = rotated_cipher.encrypt(HETU)
    assert Cipher([KEY_NEW]).decrypt(new_token) == HETU  # the first key encrypts
    with pytest.raises(DecryptionError):
        Cipher([KEY_NEW]).decrypt(old_token)
    re_encrypted = rotated_cipher.rotate(old_token)
    assert Cipher([KEY_NEW]).decrypt(re_encrypted) == HETU


def test_wrong_key_and_corrupt_ciphertext_are_refused() -> None:
    token = Cipher([KEY_OLD]).encrypt(HETU)
    with pytest.raises(DecryptionError):
        Cipher([KEY_NEW]).decrypt(token)
    with pytest.raises(DecryptionError):
        Cipher([KEY_OLD]).decrypt(token[:-4] + "AAAA")


def test_invalid_key_names_the_setting() -> None:
    with pytest.raises(CryptoConfigError, match="KYC_ENCRYPTION_KEY"):
        Cipher(["not-a-fernet-key"])


def test_blind_index_is_stable_normalised_keyed_and_survives_rotation() -> None:
    cipher = Cipher([KEY_OLD])
    index = cipher.blind_index(HETU)
    assert len(index) == 64 and HETU not in index
    assert cipher.blind_index(" 170580-123l ") == index
    assert cipher.blind_index("170580-123K") != index
    assert Cipher([KEY_NEW]).blind_index(HETU) != index  # keyed: not a plain hash anyone can recompute
    rotating = Cipher([KEY_NEW, KEY_OLD])
    assert rotating.blind_index(HETU) == Cipher([KEY_NEW]).blind_index(HETU)  # new values: the current key
    assert index in rotating.blind_indexes(HETU)  # look-ups still find values indexed under the old one
    explicit = Cipher([KEY_OLD], blind_key=b"separate blind index key")
    assert explicit.blind_index(HETU) != index and Cipher([KEY_NEW], b"separate blind index key").blind_index(
        HETU
    ) == explicit.blind_index(HETU)


@pytest.mark.parametrize("sign", list("-+ABCDEFYXWVU"))
def test_mask_keeps_birth_date_and_century_sign_of_every_henkilotunnus(sign: str) -> None:
    assert mask_personal_id(f"170580{sign}123L") == f"170580{sign}****"
    assert mask_personal_id(f"010105{sign}9876") == f"010105{sign}****"


def test_mask_example_and_lowercase() -> None:
    assert mask_personal_id("170580-123L") == "170580-****"
    assert mask_personal_id("170580a123l") == "170580A****"


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("19800517-1234", "19800517-****"),  # Swedish, full year
        ("800517-1234", "800517-****"),  # Swedish / Danish
        ("17058012345", "170580****"),  # Norwegian fødselsnummer
        ("X1234567", "X1****"),  # passport-like: at most two characters, never the length
        ("AB123456789012", "AB****"),
        ("12345", "****"),
        ("", "****"),
    ],
)
def test_mask_foreign_ids(value: str, masked: str) -> None:
    assert mask_personal_id(value) == masked


def test_redact_masks_codes_inside_text() -> None:
    text = "party 170580-123L and 010101A123B failed; ref 2024-01-01"
    assert redact(text) == "party 170580-**** and 010101A**** failed; ref 2024-01-01"


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    for name in ("KYC_ENCRYPTION_KEY", "KYC_BLIND_INDEX_KEY", "KYC_ENV"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("KYC_ENCRYPTION_KEY_FILE", str(tmp_path / "var" / "encryption.key"))
    get_settings.cache_clear()
    crypto.get_cipher.cache_clear()
    yield tmp_path
    get_settings.cache_clear()
    crypto.get_cipher.cache_clear()


def test_development_generates_a_private_key_file_once(clean_env: Path) -> None:
    key_file = clean_env / "var" / "encryption.key"
    token = crypto.encrypt(HETU)
    assert key_file.is_file()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    crypto.get_cipher.cache_clear()
    assert crypto.decrypt(token) == HETU  # the same key is read back, not regenerated
    assert Cipher([key_file.read_text().strip()]).decrypt(token) == HETU


def test_production_refuses_to_start_without_a_key(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KYC_ENV", "production")
    get_settings.cache_clear()
    with pytest.raises(CryptoConfigError, match="KYC_ENCRYPTION_KEY is required when KYC_ENV=production"):
        crypto.get_cipher()
    assert not (clean_env / "var" / "encryption.key").exists()


def test_keys_from_environment_with_rotation(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    old_token = Cipher([KEY_OLD]).encrypt(HETU)
    monkeypatch.setenv("KYC_ENV", "production")
    monkeypatch.setenv("KYC_ENCRYPTION_KEY", f"{KEY_NEW}, {KEY_OLD}")
    get_settings.cache_clear()
    assert crypto.decrypt(old_token) == HETU
    assert Cipher([KEY_NEW]).decrypt(crypto.encrypt(HETU)) == HETU
    assert crypto.blind_index(HETU) == Cipher([KEY_NEW]).blind_index(HETU)
    assert Cipher([KEY_OLD]).blind_index(HETU) in crypto.blind_indexes(HETU)
    assert KEY_NEW not in repr(Settings())  # SecretStr keeps the key out of reprs and logs
    assert not (clean_env / "var" / "encryption.key").exists()


def test_kyc_serve_refuses_to_start_in_production_without_a_key(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from cli.main import app

    monkeypatch.setenv("KYC_ENV", "production")
    monkeypatch.setenv("KYC_DATABASE_URL", f"sqlite:///{clean_env / 'kyc.sqlite3'}")
    get_settings.cache_clear()
    result = CliRunner().invoke(app, ["serve", "--port", "1"])
    assert result.exit_code == 2
    assert "KYC_ENCRYPTION_KEY is required when KYC_ENV=production" in result.stderr


def test_redact_processor_masks_log_events() -> None:
    event = {"event": "screening failed for 170580-123L", "party": "010101A123B", "count": 3}
    assert crypto.redact_processor(None, "info", event) == {
        "event": "screening failed for 170580-****",
        "party": "010101A****",
        "count": 3,
    }


def test_redact_value_masks_nested_structures_and_keeps_their_types() -> None:
    Pair = namedtuple("Pair", "code count")
    value = {
        "persons": [{"personal_id": "170580-123L", "n": 2}],
        "ids": ("131052-308T", None, 1.5),
        "set": {"010594Y9032"},
        "170580-123L": True,
        "pair": Pair("131052-308T", 3),
        "error": ValueError("bad 131052-308T"),
        "clean": ValueError("nothing personal"),
    }
    masked = crypto.redact_value(value)
    assert masked["persons"] == [{"personal_id": "170580-****", "n": 2}]
    assert masked["ids"] == ("131052-****", None, 1.5) and masked["set"] == {"010594Y****"}
    assert masked["170580-****"] is True and "170580-123L" not in masked
    assert isinstance(masked["pair"], Pair) and masked["pair"] == Pair("131052-****", 3)
    assert masked["error"] == "ValueError('bad 131052-****')"
    assert masked["clean"] is value["clean"]  # nothing to mask: the object itself is kept for the renderer


def test_redact_processor_masks_nested_values() -> None:
    event = {"event": "submitted", "persons": [{"personal_id": "170580-123L"}], "ids": ("010101A123B",)}
    assert crypto.redact_processor(None, "info", event) == {
        "event": "submitted",
        "persons": [{"personal_id": "170580-****"}],
        "ids": ("010101A****",),
    }


def test_mask_entry_masks_identity_codes_of_real_list_entries() -> None:
    """UN designations carry 'National Identification Number' documents; the national list carries henkilötunnus
    codes. Officers see them masked like a party's; passports and vessel numbers stay readable."""
    from kyc.versions import RawFile
    from lists.un_sc import UnScAdapter
    from tests.support.env import list_file

    path = list_file("un_sc/2026-02-27_watchman/UN_consolidated.xml")
    entries = UnScAdapter().parse([RawFile(path.name, path.read_bytes())]).entries
    entry = next(
        e
        for e in entries
        if any(i.type == "national identification number" for i in e.identifiers)
        and any(i.type == "passport" for i in e.identifiers)
    )
    data: dict[str, Any] = entry.to_data()
    data["identifiers"].append({"type": "fi_hetu", "number": "131052-308T", "country": "FI", "note": None})
    data["remarks"] = "also known under 131052-308t"
    masked = crypto.mask_entry(data)
    national = [i for i in masked["identifiers"] if i["type"] == "national identification number"]
    original = [i for i in data["identifiers"] if i["type"] == "national identification number"]
    assert national and all(m["number"].endswith("****") for m in national)
    assert all(m["number"] != o["number"] for m, o in zip(national, original, strict=True))
    assert next(i for i in masked["identifiers"] if i["type"] == "fi_hetu")["number"] == "131052-****"
    passports = [i["number"] for i in masked["identifiers"] if i["type"] == "passport"]
    assert passports == [i["number"] for i in data["identifiers"] if i["type"] == "passport"]
    assert masked["remarks"] == "also known under 131052-****" and "131052-308T" not in str(masked)
    assert data["identifiers"][-1]["number"] == "131052-308T"  # the stored entry itself is untouched


def test_redaction_leaves_hex_ids_alone() -> None:
    """A random user or job id in hex may hold a run shaped like an identity code; it is not one."""
    user_id = "af72d87ef829459f8115fb76b356b9cf"
    assert crypto.redact(f"user {user_id}") == f"user {user_id}"
    assert "170580-123L" not in crypto.redact("?source=170580-123L&x=1")
