"""``kyc match`` and ``kyc screen`` end to end: the UN list ingested into a real database, JSON lines in and out."""

from __future__ import annotations

import csv
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
from tests.support.env import eval_file, list_file

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


def test_screen_takes_partial_and_imperfect_birth_dates(un_db: Settings) -> None:
    args = ["screen", "Emraan", "Ali", "--schema", "Person", "--json", "--birth-date"]
    for given, detail in (("1967", "partial"), ("1967-7", "partial"), ("1967-7-4", "exact")):
        result = CliRunner().invoke(app, [*args, given])
        assert result.exit_code == 0 and not result.stderr, result.output
        hit = json.loads(result.stdout)[0]
        assert hit["source_ref"] == "QDi.430"
        assert hit["explanation"]["features"]["birth_date"]["detail"] == detail, hit["explanation"]
    impossible = CliRunner().invoke(app, [*args, "1967-07-32"])
    assert impossible.exit_code == 0, impossible.output
    assert "warning: birth_date: day 32 does not exist in 1967-07; screened on the month 1967-07" in impossible.stderr
    assert json.loads(impossible.stdout)[0]["source_ref"] == "QDi.430"
    garbage = CliRunner().invoke(app, [*args, "sometime in 1967"])
    assert garbage.exit_code == 0 and "birth_date ignored" in garbage.stderr, garbage.output
    assert "screened on the name" in garbage.stderr
    assert json.loads(garbage.stdout)[0]["source_ref"] == "QDi.430"


def test_match_never_drops_a_line_for_its_birth_date(un_db: Settings, tmp_path: Path) -> None:
    dates = {"y": "1967", "ym": "1967-07", "unpadded": "1965-4-03", "day32": "1974-01-32", "feb30": "1967-02-30",
             "month13": "1967-13-01", "number": 1967, "text": "unknown", "future": "2999-01-01"}  # fmt: skip
    queries = _write(
        tmp_path / "dates.jsonl",
        [json.dumps({"id": key, "schema": "Person", "name": "Emraan Ali", "birth_date": value})
         for key, value in dates.items()],
    )  # fmt: skip
    out = tmp_path / "out.jsonl"
    result = CliRunner().invoke(app, ["match", "--input", str(queries), "--output", str(out)])
    assert result.exit_code == 0, result.output  # nothing skipped
    rows = {r["id"]: r for r in map(json.loads, out.read_text(encoding="utf-8").splitlines())}
    assert set(rows) == set(dates)
    assert all(r["hits"] and r["hits"][0]["source_ref"] == "QDi.430" for r in rows.values())
    for clean in ("y", "ym", "unpadded", "number"):
        assert "warnings" not in rows[clean]
    assert rows["day32"]["warnings"] == ["birth_date: day 32 does not exist in 1974-01; screened on the month 1974-01"]
    assert rows["feb30"]["warnings"] == ["birth_date: day 30 does not exist in 1967-02; screened on the month 1967-02"]
    assert rows["month13"]["warnings"] == ["birth_date: month 13 does not exist; screened on the year 1967"]
    assert rows["text"]["warnings"][0].startswith("birth_date ignored (not a date")
    assert rows["future"]["warnings"][0].startswith("birth_date ignored (year 2999")
    assert "line 4: birth_date: day 32 does not exist" in result.stderr
    # the month the impossible day kept is compared with the listed 1967-07-04: another month, not the same day
    assert rows["feb30"]["hits"][0]["explanation"]["features"]["birth_date"]["detail"] != "exact"


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


def test_invisible_characters_are_removed_and_a_name_without_a_letter_is_refused(
    un_db: Settings, tmp_path: Path
) -> None:
    joined = CliRunner().invoke(app, ["screen", "Em\u200braan\u2066 Ali\u2069", "--schema", "Person", "--json"])
    assert joined.exit_code == 0, joined.output
    top = json.loads(joined.stdout)[0]
    assert top["source_ref"] == "QDi.430" and top["query_name"] == "Emraan Ali"
    for nobody in ("\u200b\u200b\u200b", "\u202e\u202c", "1234"):
        refused = CliRunner().invoke(app, ["screen", nobody])
        assert refused.exit_code == 2 and "name" in refused.stderr, refused.output
    queries = _write(
        tmp_path / "hostile.jsonl",
        [
            json.dumps({"id": "zw", "schema": "Person", "name": "\u200b\u200b\u200b"}),
            json.dumps({"id": "joined", "schema": "Person", "name": "Em\u200braan Ali\ufeff"}),
            json.dumps({"id": "rlo", "schema": "Person", "name": "\u202eilA naarmE\u202c"}),
        ],
    )
    out = tmp_path / "out.jsonl"
    result = CliRunner().invoke(app, ["match", "--input", str(queries), "--output", str(out)])
    assert result.exit_code == 1 and "line 1: name" in result.stderr, result.output
    rows = {r["id"]: r for r in map(json.loads, out.read_text(encoding="utf-8").splitlines())}
    assert set(rows) == {"joined", "rlo"}
    assert rows["joined"]["hits"][0]["source_ref"] == "QDi.430"
    # what is screened is what an officer reads once the override is gone: "ilA naarmE", nobody listed
    assert all(h["query_name"] == "ilA naarmE" for h in rows["rlo"]["hits"])


def test_match_screens_every_line_of_the_treated_un_fixture(un_db: Settings, tmp_path: Path) -> None:
    """yente's treated UN positives write 17 of 683 birth dates unpadded (``1965-4-03``) or impossible
    (``1974-01-32``, ``1968-13-30``): every line is screened, the three impossible ones with a warning."""
    with eval_file("yente_screening_fixtures/positives_un_treated.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    queries = _write(
        tmp_path / "treated.jsonl",
        [json.dumps({"id": str(i), "schema": "Person", "name": r["full_name"],
                     "birth_date": r["date_of_birth"] or None, "nationality": r["nationality"] or None})
         for i, r in enumerate(rows)],
    )  # fmt: skip
    out = tmp_path / "treated-out.jsonl"
    result = CliRunner().invoke(app, ["match", "--input", str(queries), "--output", str(out)])
    assert result.exit_code == 0, result.output
    results = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(results) == len(rows) == 683
    warned = {rows[int(r["id"])]["date_of_birth"]: r["warnings"] for r in results if "warnings" in r}
    assert sorted(warned) == ["1948-13-16", "1968-13-30", "1974-01-32"]
    unpadded = [r for r in results if "-" in rows[int(r["id"])]["date_of_birth"] and "warnings" not in r]
    assert sum(1 for r in unpadded if len(rows[int(r["id"])]["date_of_birth"]) < 10) == 14
    assert sum(1 for r in results if r["hits"]) >= 680  # three are no longer on this list version


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
