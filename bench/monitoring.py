"""Monitoring speed: delta rescreen of 100,000 active parties against a ~50-entry list update, and a full rescreen.

Usage: ``.venv/bin/python -m bench.monitoring [--parties 100000] [--processes 2] [--lists un|sanctions]``.

Set-up (not timed), on a fresh PostgreSQL database:

* parties: 25,000 customers x (the organisation + 3 persons) = 100,000 parties, built from the real name parts,
  birth dates and nationalities of the eval negatives (``yente_screening_fixtures/negatives_*.csv``); 60 of the
  persons carry the names of UN designations, so the runs raise real hits. Each customer has one completed job.
* the list update: the base UN version is the real 2025-11-20 file with the first 43 designations of the real
  2026-02-27 file held back; ingesting the real 2026-02-27 file then adds 47, changes 2 and removes 1 entry
  (50 changes) — a real diff of real entries, only its size is arranged.
* ``--lists sanctions`` also loads OFAC SDN (CSV 2024-05), UK OFSI, AU DFAT and CA SEMA for the full rescreen.

Timed, with the workers' own code (``workers.monitoring``) in ``--processes`` forked worker processes:

* delta: ``kyc.monitoring.plan_delta`` (delist, split the customers into chunks of ``monitoring_chunk_size``), then
  every chunk against a matcher over only the added and changed entries (built per chunk: milliseconds);
* full rescreen: every customer in chunks against the full matcher over all active lists. The full matcher is built
  once before the workers fork (as a long-running worker holds it from its first screening); its build time is
  reported separately.
"""

from __future__ import annotations

import argparse
import csv
import json
import multiprocessing
import os
import platform
import random
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from datetime import timedelta
from typing import Any

import psycopg
from sqlalchemy import func, insert, select

from bench.paths import shared_data
from kyc import monitoring
from kyc.countries import to_country
from kyc.matcher_cache import matcher_cache
from kyc.settings import Settings
from kyc.storage.base import utcnow
from kyc.storage.db import dispose_engines, migrate, transaction
from kyc.storage.hits import Hit
from kyc.storage.jobs import Customer, Party, ScreeningJob
from kyc.storage.monitoring import MonitoringRun
from kyc.versions import ParsedList, RawFile, store_version
from lists.fetch import read_local
from lists.ingest import ingest_files
from lists.registry import get_adapter

SHARED = shared_data()
LISTS = SHARED / "lists"
NEGATIVES = [SHARED / "eval" / "yente_screening_fixtures" / f"negatives_{k}.csv" for k in ("global", "us")]
UN_2025 = LISTS / "un_sc/2025-11-20_mkweli/un_consolidated.xml"
UN_2026 = LISTS / "un_sc/2026-02-27_watchman/UN_consolidated.xml"
HELD_BACK = 43
EXTRA_LISTS = [
    ("ofac_sdn", ["ofac_sdn/2024-05-03_jackdwyer/sdn.csv"]),
    ("uk_ofsi", ["uk/ofsi_2025-04-14/ConList.xlsx"]),
    ("au_dfat", ["au_dfat/regulation8_consolidated.xlsx"]),
    ("ca_sema", ["ca_sema/cannada.xml"]),
]
PG_ADMIN = os.environ.get("KYC_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
SUFFIXES = ("Oy", "Ab", "Ltd", "GmbH", "Trading Oy", "Holding Oy", "Logistics Ltd", "Consulting Oy")


def fresh_database(name: str) -> str:
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    migrate(url)
    return url


def name_parts() -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    for path in NEGATIVES:
        with path.open(encoding="utf-8") as handle:
            rows.extend(csv.DictReader(handle))
    return rows


def base_un_version(settings: Settings) -> None:
    """The real 2025-11-20 list minus the first designations of the 2026 file: the 2026 file then adds them back."""
    adapter = get_adapter("un_sc")
    raw = read_local(UN_2025)
    parsed = adapter.parse([raw])
    held = {e.source_ref for e in adapter.parse([read_local(UN_2026)]).entries[:HELD_BACK]}
    kept = [e for e in parsed.entries if e.source_ref not in held]
    base = ParsedList(kept, parsed.file_format, parsed.published_at)
    with transaction(settings.database_url) as session:
        store_version(
            session,
            source="un_sc",
            files=[RawFile("un_2025_base.xml", raw.data + b"<!-- bench base -->")],
            parsed=base,
            parser_version=adapter.parser_version,
            origin="bench: UN 2025-11-20 with designations held back",
            allow_shrink=True,
        )


def listed_names(count: int) -> list[tuple[str, str | None]]:
    entries = get_adapter("un_sc").parse([read_local(UN_2026)]).entries
    persons = [e for e in entries if e.schema_.value == "Person"]
    return [(e.primary_name, e.nationalities[0] if e.nationalities else None) for e in persons[:count]]


def _person(row: dict[str, str], position: int, job_id: str) -> dict[str, Any]:
    name = " ".join(p for p in (row["first_name"], row["middle_name"], row["last_name"]) if p) or row["full_name"]
    return {
        "id": str(uuid.uuid4()),
        "job_id": job_id,
        "position": position,
        "role": ("representative", "beneficial_owner", "responsible_person")[(position - 1) % 3],
        "schema": "Person",
        "name": name,
        "birth_date": row["date_of_birth"] or None,
        "nationality": to_country(row["nationality"]) if row["nationality"] else None,
        "declared_pep": False,
        "edd_required": False,
    }


def seed_parties(settings: Settings, parties: int, seed: int = 42) -> int:
    """Customers with one completed job each: an organisation party and three persons (bulk inserts)."""
    rng = random.Random(seed)
    rows = name_parts()
    planted = listed_names(60)
    now = utcnow()
    customers, jobs, party_rows = [], [], []
    for number in range(parties // 4):
        customer_id, job_id = str(uuid.uuid4()), str(uuid.uuid4())
        owner = rng.choice(rows)
        customers.append(
            {
                "id": customer_id,
                "name": f"{owner['last_name'] or owner['full_name']} {rng.choice(SUFFIXES)}",
                "business_id": f"B{number:08d}",
                "country": "FI",
                "created_at": now,
                "updated_at": now,
                "purpose": "bench",
                "legal_basis": "bench",
                "retention_until": now + timedelta(days=3650),
                "legal_hold": False,
                "risk": rng.choice(("low", "medium", "medium", "high")),
            }
        )
        jobs.append(
            {
                "id": job_id,
                "customer_id": customer_id,
                "status": "completed",
                "outcome": "clear",
                "edd_required": False,
                "idempotency_key": f"bench-{number}",
                "request_hash": "0" * 64,
                "submitted_by": "bench",
                "trigger": "onboarding",
                "purpose": "bench",
                "legal_basis": "bench",
                "retention_until": now + timedelta(days=3650),
                "legal_hold": False,
                "attempts": 1,
                "created_at": now,
                "updated_at": now,
                "completed_at": now,
            }
        )
        party_rows.append(
            {
                "id": str(uuid.uuid4()),
                "job_id": job_id,
                "position": 0,
                "role": "customer",
                "schema": "Organization",
                "name": customers[-1]["name"],
                "country": "FI",
                "business_id": customers[-1]["business_id"],
                "declared_pep": False,
                "edd_required": False,
            }
        )
        for position in (1, 2, 3):
            party_rows.append(_person(rng.choice(rows), position, job_id))
    for index, (name, nationality) in enumerate(planted):
        target = party_rows[(index * 1637) % len(party_rows) // 4 * 4 + 1]
        target.update(name=name, nationality=nationality, birth_date=None)
    with transaction(settings.database_url) as session:
        for table, values in ((Customer, customers), (ScreeningJob, jobs), (Party, party_rows)):
            for start in range(0, len(values), 5000):
                session.execute(insert(table), values[start : start + 5000])
    return len(party_rows)


def _rescreen_chunk(args: tuple[str, list[str]]) -> dict[str, Any]:
    from workers.monitoring import run_rescreen  # the worker's own code path

    database_url, customer_ids = args
    return run_rescreen(Settings(database_url=database_url), customer_ids, "full")


def _delta_chunk(args: tuple[str, int, int, list[str]]) -> dict[str, int]:
    from workers.monitoring import run_delta_chunk

    database_url, run_id, index, customer_ids = args
    stats = run_delta_chunk(Settings(database_url=database_url), run_id, index, customer_ids)
    return stats.as_dict() if stats else {}


def _pool(processes: int) -> ProcessPoolExecutor:
    """Forked worker processes, like Celery's prefork pool: they inherit what the parent built before the fork."""
    dispose_engines()  # no inherited database connections
    return ProcessPoolExecutor(max_workers=processes, mp_context=multiprocessing.get_context("fork"))


def delta(settings: Settings, version_id: int, processes: int) -> tuple[float, dict[str, int]]:
    """Plan (delist, split into chunks), then the chunks on the worker processes — what the delta task does."""
    started = time.perf_counter()
    with transaction(settings.database_url) as session:
        plan = monitoring.plan_delta(session, version_id, chunk_size=settings.monitoring_chunk_size)
    assert plan is not None
    jobs = [(settings.database_url, plan.run_id, index, part) for index, part in enumerate(plan.chunks)]
    with _pool(processes) as pool:
        results = list(pool.map(_delta_chunk, jobs))
    elapsed = time.perf_counter() - started
    totals = {key: sum(r.get(key, 0) for r in results) for key in ("parties", "new_hits", "reopened")}
    return elapsed, {**totals, "delisted": plan.stats.delisted, "chunks": len(plan.chunks)}


def full_rescreen(settings: Settings, processes: int) -> tuple[float, float, dict[str, int]]:
    """Every customer in chunks over the worker processes, whose matcher is built once at worker start-up."""
    started = time.perf_counter()
    matcher_cache.get(settings.database_url)
    build = time.perf_counter() - started
    with transaction(settings.database_url) as session:
        customer_ids = monitoring.all_active_customers(session)
    parts = monitoring.chunks(customer_ids, settings.monitoring_chunk_size)
    started = time.perf_counter()
    with _pool(processes) as pool:
        results = list(pool.map(_rescreen_chunk, [(settings.database_url, part) for part in parts]))
    elapsed = time.perf_counter() - started
    totals = {key: sum(int(r[key]) for r in results) for key in ("parties", "new_hits", "reopened", "delisted")}
    totals["chunks"] = len(parts)
    return elapsed, build, totals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--parties", type=int, default=100_000)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--lists", choices=("un", "sanctions"), default="sanctions")
    args = parser.parse_args()
    database = f"kyc_bench_monitoring_{os.getpid()}"
    url = fresh_database(database)
    settings = Settings(database_url=url)
    report: dict[str, Any] = {"machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"}
    try:
        if args.lists == "sanctions":
            for source, files in EXTRA_LISTS:
                ingest_files(source, [LISTS / f for f in files], settings)
        base_un_version(settings)
        started = time.perf_counter()
        report["parties"] = seed_parties(settings, args.parties)
        report["seed_seconds"] = round(time.perf_counter() - started, 1)
        update = ingest_files("un_sc", [UN_2026], settings)
        report["update"] = {"added": update.added, "changed": update.changed, "removed": update.removed}
        delta_seconds, delta_stats = delta(settings, update.version_id, args.processes)
        report["delta"] = {"seconds": round(delta_seconds, 2), "processes": args.processes, **delta_stats}
        full_seconds, build_seconds, full = full_rescreen(settings, args.processes)
        report["full"] = {
            "seconds": round(full_seconds, 2),
            "matcher_build_seconds": round(build_seconds, 2),
            "processes": args.processes,
            **full,
        }
        with transaction(url) as session:
            report["hits_stored"] = session.execute(select(func.count()).select_from(Hit)).scalar_one()
            report["runs"] = session.execute(select(func.count()).select_from(MonitoringRun)).scalar_one()
        report["lists"] = args.lists
    finally:
        dispose_engines()
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
