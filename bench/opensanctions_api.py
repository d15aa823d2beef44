"""The OpenSanctions-compatible ``/match`` under load, with logic-v2 scoring the same queries in the same run.

Usage: ``.venv/bin/python -m bench.opensanctions_api [--sources all|un_sc,...] [--requests 50] [--batch 100]
[--concurrency 1] [--write]`` (needs nomenklatura, in the dev and bench extras, for the logic-v2 side).

Our side is the real service: the lists ingested into a fresh SQLite database, ``uvicorn api.app:create_app`` in a
process of its own, a ``screening_api`` token, and requests of ``--batch`` queries (Marble's shape) over HTTP. The
logic-v2 side is yente's matcher without Elasticsearch: for every query it scores the candidates yente would score
(limit 5 x MATCH_CANDIDATES 10 = 50), retrieved by our index, list entities converted once — Elasticsearch's time
is not counted, so the comparison flatters yente. Both sides alternate request by request, so machine load hits
both alike. ``--write`` replaces the ``## OpenSanctions-compatible API`` section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.matching import ALL_LISTS, LISTS, ROOT, LogicV2, entry_entity, fixture_queries
from kyc.matching import Query

SECTION = "## OpenSanctions-compatible API"
REPORT: list[str] = []


def out(line: str = "") -> None:
    REPORT.append(line)
    print(line, flush=True)


def example(query: Query) -> dict[str, Any]:
    props: dict[str, list[str]] = {"name": [query.name]}
    if query.birth_date:
        props["birthDate"] = [query.birth_date]
    if query.nationality:
        props["nationality"] = [query.nationality.lower()]
    return {"schema": query.schema_, "properties": props, "filters": {}, "params": None}


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def _environment(tmp: Path) -> dict[str, str]:
    from cryptography.fernet import Fernet

    return {
        **os.environ,
        "KYC_DATABASE_URL": f"sqlite:///{tmp / 'bench.sqlite3'}",
        "KYC_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "KYC_AUDIT_KEY": secrets.token_hex(32),
        "KYC_AUDIT_CHECKPOINT_DIR": str(tmp / "checkpoints"),
        "KYC_MAX_REQUEST_BYTES": str(4 * 1024 * 1024),
    }


def _prepare(sources: list[str], env: dict[str, str]) -> str:
    """Ingest the lists and mint a token, in this process, under the benchmark's environment."""
    os.environ.update(env)
    from kyc import access
    from kyc.access import Role
    from kyc.settings import Settings, get_settings
    from kyc.storage.db import migrate, transaction
    from lists.ingest import ingest_files

    get_settings.cache_clear()
    settings = Settings()
    migrate(settings.database_url)
    for source, files in ALL_LISTS:
        if source in sources:
            try:
                ingest_files(source, [LISTS / f for f in files], settings, allow_shrink=True)
            except Exception as exc:  # a list this build cannot parse is named, not fatal
                out(f"- {source}: not ingested ({type(exc).__name__})")
    with transaction(settings.database_url) as session:
        return access.create_user(session, "bench", Role.SCREENING_API)[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sources", default="all")
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    sources = [s for s, _f in ALL_LISTS] if args.sources == "all" else args.sources.split(",")

    tmp = Path(tempfile.mkdtemp(prefix="bench-yente-"))
    env = _environment(tmp)
    started = time.perf_counter()
    token = _prepare(sources, env)
    ingest_seconds = time.perf_counter() - started

    positives = fixture_queries("positives_un_treated.csv")
    negatives = fixture_queries("negatives_global.csv", 2000) + fixture_queries("negatives_us.csv", 2000)
    pool = [q for pair in zip(negatives, positives * 20, strict=False) for q in pair]
    needed = (args.requests + 2) * args.batch
    pool = (pool * (needed // max(1, len(pool)) + 1))[:needed]
    batches = [pool[i : i + args.batch] for i in range(0, needed, args.batch)]

    from kyc.matcher_cache import config_from_settings, matcher_cache
    from kyc.settings import Settings

    settings = Settings()
    matcher = matcher_cache.get(settings.database_url, config_from_settings(settings))
    engine = LogicV2()
    converted: dict[int, Any] = {}

    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "api.app:create_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(args.port),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    base = f"http://127.0.0.1:{args.port}/opensanctions"
    try:
        with httpx.Client(timeout=300, headers={"Authorization": f"Bearer {token}"}) as client:
            deadline = time.monotonic() + 600
            while True:
                try:
                    if client.get(f"{base}/readyz").status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("the server did not become ready")
                time.sleep(0.5)
            ours: list[float] = []
            theirs: list[float] = []
            matches = 0
            for number, batch in enumerate(batches):
                body = {"queries": {f"q{i}": example(q) for i, q in enumerate(batch)}}
                t0 = time.perf_counter()
                response = client.post(
                    f"{base}/match/default?algorithm=logic-v1&threshold=0.7&cutoff=0.7&limit=10", json=body
                )
                elapsed = time.perf_counter() - t0
                response.raise_for_status()
                t0 = time.perf_counter()
                for query in batch:
                    entity = engine.entity(
                        query.schema_,
                        [query.name, *query.aliases],
                        query.birth_date,
                        query.nationality.lower() if query.nationality else None,
                    )
                    for _entry_id, entry in matcher.candidate_entries(query, 50):
                        candidate = converted.get(id(entry))
                        if candidate is None:
                            candidate = converted[id(entry)] = entry_entity(engine, entry)
                        engine.score(entity, candidate)
                their_elapsed = time.perf_counter() - t0
                if number >= 2:  # the first two warm both sides up
                    ours.append(elapsed)
                    theirs.append(their_elapsed)
                    matches += sum(r["total"]["value"] for r in response.json()["responses"].values())
    finally:
        server.terminate()
        server.wait(timeout=30)

    out(SECTION)
    out()
    out(
        f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}; "
        f"{matcher.entry_count} entries ({', '.join(sorted(matcher.version_ids))}), "
        f"ingested in {ingest_seconds:.0f} s. "
        f"{len(ours)} requests of {args.batch} queries (UN positives and global/US negatives, alternating), "
        "one client, sequential; logic-v2 scores the same queries between our requests."
    )
    out()
    out("| side | requests/s | queries/s | p50 | p95 | max |")
    out("|---|---:|---:|---:|---:|---:|")
    for label, times in (
        ("ours: POST /opensanctions/match over HTTP (uvicorn, 1 worker)", ours),
        ("logic-v2 scoring only (50 candidates/query, no Elasticsearch)", theirs),
    ):
        rate = len(times) / sum(times)
        out(
            f"| {label} | {rate:.2f} | {rate * args.batch:.0f} | {statistics.median(times) * 1000:.0f} ms | "
            f"{percentile(times, 0.95) * 1000:.0f} ms | {max(times) * 1000:.0f} ms |"
        )
    out()
    out(f"Matches returned: {matches} over {len(ours) * args.batch} queries.")
    if args.write:
        path = ROOT / "BENCHMARKS.md"
        text = path.read_text(encoding="utf-8")
        start = text.find(SECTION)
        section = "\n".join(REPORT) + "\n"
        if start < 0:
            text = text.rstrip() + "\n\n" + section
        else:
            end = text.find("\n## ", start + len(SECTION))
            text = text[:start] + section + (text[end + 1 :] if end >= 0 else "")
        path.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
