"""``kyc match`` and ``kyc screen`` end to end: the UN list ingested into a real database, JSON lines in and out."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app
from kyc.logs import configure
from kyc.matcher_cache import matcher_cache
from kyc.matching import MatchConfig
from kyc.settings import Settings, get_settings
from lists.ingest import ingest_files
from tests.support.env import list_file

UN_2026 = "un_sc/2026-02-27_watchman/UN_consolidated.xml"


@pytest.fixture
def un_db(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    configure()  # structlog may still point at the stderr of an earlier CliRunner invocation
    result = ingest_files("un_sc", [list_file(UN_2026)], settings)
    assert result.outcome == "stored"
    monkeypatch.setenv("KYC_DATABASE_URL", settings.database_url)
    get_settings.cache_clear()
    matcher_cache.clear()
    yield settings
    get_settings.cache_clear()
    matcher_cache.clear()
    configure()  # CliRunner closed the stderr the CLI's logging was bound to; later tests must not inherit it


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_match_screens_good_lines_and_reports_the_bad_one(un_db: Settings, tmp_path: Path) -> None:
    queries = _write(
        tmp_path / "customers.jsonl",
        [
            json.dumps({"id": "c1", "schema": "Person", "name": "Emraan Ali", "birth_date": "1967-07-04",
                        "nationality": "Trinidad and Tobago"}),
            '{"id": "c2", "schema": "Person", "name": "broken',
            json.dumps({"id": "c3", "schema": "Person", "name": "Saddam Hussein Altikriti"}),
            json.dumps({"id": "c4", "schema": "Person", "name": "Maija Virtanen", "birth_date": "1985-03-02"}),
            json.dumps({"id": "c5", "schema": "Starship", "name": "Enterprise"}),
        ],
    )  # fmt: skip
    out = tmp_path / "results.jsonl"
    result = CliRunner().invoke(app, ["match", "--input", str(queries), "--output", str(out)])
    assert result.exit_code == 1, result.output  # something was skipped
    assert "line 2: not JSON" in result.stderr
    assert "line 5: schema" in result.stderr
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in rows] == ["c1", "c3", "c4"]
    by_id = {r["id"]: r["hits"] for r in rows}

    top = by_id["c1"][0]
    assert (top["source"], top["source_ref"], top["matched_name"]) == ("un_sc", "QDi.430", "EMRAAN ALI")
    assert set(top) >= {"source", "source_ref", "score", "matched_name", "explanation"}
    explanation = top["explanation"]
    assert explanation["features"]["birth_date"]["detail"] == "exact"
    assert explanation["features"]["nationality"]["detail"] == "match"
    assert explanation["list_version"]["source"] == "un_sc"
    assert len(explanation["config_hash"]) == 64 and explanation["engine_version"]

    assert by_id["c3"][0]["source_ref"] == "IQi.001"
    scores = [h["score"] for h in by_id["c3"]]
    assert scores == sorted(scores, reverse=True)
    threshold = explanation["threshold"]
    assert all(h["score"] >= threshold for hits in by_id.values() for h in hits)
    assert by_id["c4"] == []  # an ordinary Finnish customer is clear


def test_match_all_good_lines_exit_zero_to_stdout(un_db: Settings, tmp_path: Path) -> None:
    queries = _write(tmp_path / "q.jsonl", [json.dumps({"id": "x", "schema": "Organization", "name": "Al Qaida"})])
    result = CliRunner().invoke(app, ["match", "--input", str(queries)])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert rows[0]["id"] == "x" and rows[0]["hits"][0]["schema"] == "Organization"


def test_screen_prints_hits_best_first(un_db: Settings) -> None:
    result = CliRunner().invoke(app, ["screen", "Ali", "Emraan", "--schema", "Person", "--json"])
    assert result.exit_code == 0, result.output
    hits = json.loads(result.stdout)
    assert hits[0]["source_ref"] == "QDi.430"
    bad = CliRunner().invoke(app, ["screen", "Emraan Ali", "--birth-date", "1967-13-01"])
    assert bad.exit_code == 2 and "birth_date" in bad.stderr


def test_match_in_parallel_gives_the_same_output_in_order(un_db: Settings, tmp_path: Path) -> None:
    names = ["Emraan Ali", "Saddam Hussein Al Tikriti", "Maija Virtanen", "ABDULHAI SALEK", "Jevgeni Virtanen"]
    queries = _write(
        tmp_path / "many.jsonl",
        [json.dumps({"id": str(i), "schema": "Person", "name": names[i % len(names)]}) for i in range(1200)],
    )
    outputs = []
    for workers in ("1", "2"):
        out = tmp_path / f"out{workers}.jsonl"
        result = CliRunner().invoke(app, ["match", "--input", str(queries), "--output", str(out), "--workers", workers])
        assert result.exit_code == 0, result.output
        outputs.append(out.read_text(encoding="utf-8"))
    assert outputs[0] == outputs[1]
    rows = [json.loads(line) for line in outputs[1].splitlines()]
    assert [r["id"] for r in rows] == [str(i) for i in range(1200)]
    assert rows[0]["hits"][0]["source_ref"] == "QDi.430" and rows[2]["hits"] == []


def test_threshold_comes_from_the_settings(un_db: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    args = ["screen", "Emran", "Ali", "--schema", "Person", "--json"]  # one letter off the listed EMRAAN ALI
    default = json.loads(CliRunner().invoke(app, args).stdout)
    assert default[0]["source_ref"] == "QDi.430" and default[0]["score"] < 0.99
    monkeypatch.setenv("KYC_MATCH_SCHEMA_THRESHOLDS", '{"Person": 0.99}')
    get_settings.cache_clear()
    strict = CliRunner().invoke(app, args)
    assert strict.exit_code == 0 and json.loads(strict.stdout) == []
    assert default[0]["explanation"]["config_hash"] != MatchConfig(schema_thresholds={"Person": 0.99}).config_hash()


def _run_match(un_db: Settings, queries: Path, out: Path, terminal: bool) -> str:
    """``kyc match`` in its own process, stderr on a pseudo-terminal or a pipe; returns what it wrote there."""
    import os
    import pty
    import subprocess
    import sys

    env = {**os.environ, "KYC_DATABASE_URL": un_db.database_url, "COLUMNS": "100"}
    command = [sys.executable, "-m", "cli.main", "match", "--input", str(queries), "--output", str(out)]
    if not terminal:
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, done.stderr
        return done.stderr
    leader, follower = pty.openpty()
    with subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=follower) as process:
        os.close(follower)
        chunks = []
        while True:
            try:
                data = os.read(leader, 4096)
            except OSError:  # the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        assert process.wait(timeout=120) == 0
    os.close(leader)
    return b"".join(chunks).decode("utf-8", "replace")


def test_match_shows_progress_on_a_terminal_and_a_summary_either_way(un_db: Settings, tmp_path: Path) -> None:
    lines = [json.dumps({"id": f"p{i}", "schema": "Person", "name": name})
             for i, name in enumerate(["Emraan Ali", "Maija Virtanen", "Saddam Hussein Altikriti"] * 10)]  # fmt: skip
    queries = _write(tmp_path / "q.jsonl", lines)
    piped = _run_match(un_db, queries, tmp_path / "piped.jsonl", terminal=False)
    assert "screening" not in piped  # no progress bar into a log file
    assert "screened 30 queries in" in piped and ": 20 with hits," in piped and "0 bad line(s) skipped" in piped
    shown = _run_match(un_db, queries, tmp_path / "shown.jsonl", terminal=True)
    assert "screening" in shown and "100%" in shown
    assert "screened 30 queries in" in shown
    assert (tmp_path / "piped.jsonl").read_text() == (tmp_path / "shown.jsonl").read_text()
