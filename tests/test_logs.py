"""Log lines go to the current stderr and never carry a full personal identity code."""

from __future__ import annotations

import io
import sys

import pytest
import structlog

from kyc.logs import configure


def test_personal_ids_are_masked_and_stderr_is_looked_up_when_writing(monkeypatch: pytest.MonkeyPatch) -> None:
    configure()
    first, second = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "stderr", first)
    structlog.get_logger("t").info("party.screened", note="hetu 131052-308T given")
    monkeypatch.setattr(sys, "stderr", second)
    first.close()  # a closed earlier stream must not break later log lines
    structlog.get_logger("t").warning("again", value="010594Y9032")
    line = second.getvalue()
    assert "again" in line and "010594Y9032" not in line and "010594" in line
