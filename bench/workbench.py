"""Workbench benchmark: server time of the case queue and the case page with many open cases, on PostgreSQL.

A private database gets the real UN list and ``--cases`` open hits (one customer, job and party per 10 hits,
inserted in bulk, grouped into cases by ``kyc.cases``), then an analyst logs in and each page is requested
``--repeat`` times in-process (the ASGI app through Starlette's test client: the time is the server's, no
network). Reported: p50 and p95 per page.
Target (issue): the queue with 100,000 open cases and the case page each p95 <= 150 ms on 2 cores.

Usage: ``.venv/bin/python -m bench.workbench [--cases 100000] [--repeat 50]``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import time
import uuid
from datetime import timedelta
from typing import Any

import psycopg
from fastapi.testclient import TestClient
from sqlalchemy import insert, select

from api.app import create_app
from bench.paths import shared_data
from kyc import cases as kyc_cases
from kyc import logins
from kyc.access import Role, create_user
from kyc.settings import Settings
from kyc.storage.access import User
from kyc.storage.base import utcnow
from kyc.storage.db import dispose_engines, get_engine, migrate, transaction
from kyc.storage.hits import Hit
from kyc.storage.jobs import Customer, Party, ScreeningJob
from lists.ingest import ingest_files

PG_ADMIN = os.environ.get("KYC_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
UN = shared_data() / "lists" / "un_sc" / "2026-02-27_watchman" / "UN_consolidated.xml"
PASSWORD = "benchmark password"


def _database() -> str:
    name = f"kyc_bench_ui_{os.getpid()}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    migrate(url)
    return url


def _fill(url: str, cases: int) -> str:
    now = utcnow()
    with transaction(url) as session:
        for start in range(0, cases, 10_000):
            customers, jobs, parties, hits = [], [], [], []
            for i in range(start, min(start + 10_000, cases)):
                if i % 10 == 0:
                    customer, job, party = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
                    customers.append(
                        {
                            "id": customer,
                            "name": f"Bench {i} Oy",
                            "country": "FI",
                            "retention_until": now + timedelta(days=3650),
                        }
                    )
                    jobs.append(
                        {
                            "id": job,
                            "customer_id": customer,
                            "status": "completed",
                            "idempotency_key": job,
                            "request_hash": "0" * 64,
                            "submitted_by": "bench",
                            "completed_at": now,
                            "retention_until": now + timedelta(days=3650),
                        }
                    )
                    parties.append(
                        {
                            "id": party,
                            "job_id": job,
                            "position": 0,
                            "role": "beneficial_owner",
                            "schema": "Person",
                            "name": f"Person {i}",
                        }
                    )
                hits.append(
                    {
                        "id": str(uuid.uuid4()),
                        "job_id": job,
                        "party_id": party,
                        "position": i % 10,
                        "source": "un_sc",
                        "source_ref": f"QDi.{i % 500:03d}",
                        "version_id": 1,
                        "schema": "Person",
                        "score": 0.8 + (i % 20) / 100,
                        "matched_name": f"Listed {i}",
                        "query_name": f"Person {i}",
                        "explanation": {"name_score": 0.9, "name_parts": [], "features": {}},
                        "kind": "sanction",
                        "priority": "high" if i % 3 == 0 else "normal",
                        "status": "open",
                        "engine_version": "bench",
                        "config_hash": "0" * 64,
                        "created_at": now - timedelta(hours=i % 200),
                    }
                )
            session.execute(insert(Customer), customers)
            session.execute(insert(ScreeningJob), jobs)
            session.execute(insert(Party), parties)
            session.execute(insert(Hit), hits)
            kyc_cases.sync_jobs(session, [str(job["id"]) for job in jobs])  # the hits' cases, as screening makes them
        create_user(session, "bench-analyst", Role.ANALYST)
        logins.set_password(session, "bench-analyst", PASSWORD, actor="bench")
        last = session.get(Hit, hits[-1]["id"])
        assert last is not None and last.case_id
        return last.case_id


def _time(client: TestClient, path: str, repeat: int) -> dict[str, float]:
    client.get(path)  # warm
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        answer = client.get(path)
        samples.append((time.perf_counter() - started) * 1000)
        assert answer.status_code == 200, (path, answer.status_code)
    samples.sort()
    return {"p50_ms": round(statistics.median(samples), 1), "p95_ms": round(samples[int(len(samples) * 0.95) - 1], 1)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--profile", action="store_true", help="cProfile the queue's core calls (top 25, cumulative)")
    parser.add_argument("--keep", action="store_true", help="keep the database (its URL is printed)")
    args = parser.parse_args()
    url = _database()
    try:
        _run(url, args)
    finally:
        if args.keep:
            print(url)
        else:
            dispose_engines()
            with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')


def _run(url: str, args: argparse.Namespace) -> None:
    settings = Settings(database_url=url)
    ingest_files("un_sc", [UN], settings)
    case = _fill(url, args.cases)
    with get_engine(url).connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM ANALYZE")
    client = TestClient(create_app(settings), follow_redirects=True)
    page = client.get("/ui/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token
    client.post("/ui/login", data={"username": "bench-analyst", "password": PASSWORD, "csrf_token": token.group(1)})
    if args.profile:
        import cProfile
        import pstats

        from api.ui import casework
        from kyc import access

        with transaction(url) as session:
            analyst = access.Principal(
                session.scalars(select(User.id).where(User.name == "bench-analyst")).one(),
                "bench-analyst",
                Role.ANALYST,
            )
        profiler = cProfile.Profile()
        profiler.enable()
        with transaction(url) as session:
            casework.queue_page(session, analyst, casework.QueueQuery(), settings)
        profiler.disable()
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
        return
    result: dict[str, Any] = {"cases": args.cases, "repeat": args.repeat}
    for label, path in (
        ("queue", "/ui/cases"),
        ("queue_overdue", "/ui/cases?tab=overdue"),
        ("queue_page_100", "/ui/cases?page=100"),
        ("case", f"/ui/cases/{case}"),
    ):
        result[label] = _time(client, path, args.repeat)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
