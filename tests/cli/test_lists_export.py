"""``kyc lists export SOURCE|all --format ftm``: the active versions as FollowTheMoney JSON lines that FtM itself
reads, with the same entity ids the compatible API answers with."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog
from followthemoney import model
from typer.testing import CliRunner

from cli.main import app
from kyc.settings import get_settings
from tests.support.env import list_file

UN = "un_sc/2026-02-27_watchman/UN_consolidated.xml"
EDUSKUNTA = "pep/everypolitician/Finland_Eduskunta/ep-popolo-v1.0.json"


@pytest.fixture(autouse=True)
def _cli(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    structlog.reset_defaults()
    monkeypatch.setenv("KYC_DATABASE_URL", db_url)
    get_settings.cache_clear()
    yield
    structlog.reset_defaults()
    get_settings.cache_clear()


def _kyc(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_export_one_source_as_ftm_json_lines() -> None:
    assert _kyc("lists", "ingest", "un_sc", "--file", str(list_file(UN)))[0] == 0
    code, out, _err = _kyc("lists", "export", "un_sc", "--format", "ftm")
    assert code == 0
    entities = [json.loads(line) for line in out.splitlines()]
    proxies = [model.get_proxy(e, cleaned=False) for e in entities]
    persons = [p for p in proxies if p.schema.name == "Person"]
    sanctions = [p for p in proxies if p.schema.name == "Sanction"]
    assert len(persons) > 700 and len(sanctions) > 900
    ids = {p.id for p in proxies}
    assert len(ids) == len(proxies)
    makenga = next(e for e in entities if e["id"] == "un-sc-CDi.008")
    assert makenga["properties"]["birthDate"] == ["1973-12-25"] and makenga["datasets"] == ["un_sc"]
    # the nested sanction is its own line, pointing at the person by id
    sanction = next(e for e in entities if e["id"] == "un-sc-CDi.008-sanction")
    assert sanction["properties"]["entity"] == ["un-sc-CDi.008"]
    assert all(ref in ids for s in sanctions for ref in s.get("entity"))


def test_export_all_to_a_file(tmp_path: Path) -> None:
    assert _kyc("lists", "ingest", "un_sc", "--file", str(list_file(UN)))[0] == 0
    assert _kyc("lists", "ingest", "everypolitician", "--file", str(list_file(EDUSKUNTA)))[0] == 0
    target = tmp_path / "all.ftm.json"
    code, _out, err = _kyc("lists", "export", "all", "--format", "ftm", "--output", str(target))
    assert code == 0
    lines = [json.loads(line) for line in target.read_text(encoding="utf-8").splitlines()]
    assert {"un_sc", "everypolitician"} <= {d for e in lines for d in e["datasets"]}
    assert any(e["schema"] == "Occupancy" for e in lines)
    assert f"{len(lines)} entities" in err


def test_export_refuses_unknown_sources_formats_and_inactive_sources() -> None:
    assert _kyc("lists", "export", "nope", "--format", "ftm")[0] == 2
    assert _kyc("lists", "export", "un_sc", "--format", "csv")[0] == 2
    code, _out, err = _kyc("lists", "export", "un_sc", "--format", "ftm")
    assert code == 2 and "no active version" in err
