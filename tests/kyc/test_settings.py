"""Settings read from the environment as an operator writes it (docker-compose passes ``${VAR:-}`` as "")."""

from __future__ import annotations

import pytest

from kyc.settings import Settings


@pytest.mark.parametrize("variable", ["KYC_WEBHOOK_SECRET", "KYC_ENCRYPTION_KEY", "KYC_BLIND_INDEX_KEY"])
@pytest.mark.parametrize("blank", ["", "   "])
def test_a_blank_secret_is_unset_not_an_empty_key(monkeypatch: pytest.MonkeyPatch, variable: str, blank: str) -> None:
    monkeypatch.setenv(variable, blank)
    field = variable.removeprefix("KYC_").lower()
    assert getattr(Settings(), field) is None


def test_a_set_secret_is_kept_and_hidden(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KYC_WEBHOOK_SECRET", "s3cret-value")
    settings = Settings()
    assert settings.webhook_secret is not None
    assert settings.webhook_secret.get_secret_value() == "s3cret-value"
    assert "s3cret-value" not in repr(settings)
