"""Case queue speed: 100,000 open cases on PostgreSQL, filtered and paged as officers and the workbench ask.

Usage: ``.venv/bin/python -m bench.cases [--cases 100000] [--repeat 50]``.

Set-up (not timed), on a fresh PostgreSQL database: ``--cases`` / 4 customers, each with one completed job and
four persons, each person with one case (status open, in review, proposed or escalated; a fifth high priority;
sources drawn from the sanctions lists; a tenth assigned to one of ten analysts; opened over the last ten days).

Timed: ``kyc.review.cases.case_queue`` — the function behind ``GET /v1/cases`` and the workbench — for each filter
set below, page of 50, ``--repeat`` times each; p50 and p95 in milliseconds per filter set and over all.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import time
import uuid
from datetime import timedelta
from typing import Any

import psycopg
from sqlalchemy import insert

from kyc.access import Principal, Role
from kyc.review.cases import CaseFilter, case_queue
from kyc.storage.base import utcnow
from kyc.storage.cases import Case
from kyc.storage.db import dispose_engines, migrate, transaction
from kyc.storage.jobs import Customer, Party, ScreeningJob

PG_ADMIN = os.environ.get("KYC_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
SOURCES = ("un_sc", "eu_fsf", "ofac_sdn", "uk_ofsi", "ca_sema", "au_dfat")
STATUSES = ("open", "in_review", "proposed", "escalated")
ANALYSTS = [f"analyst-{n}" for n in range(10)]
SLA = {"high": 24.0, "normal": 72.0}


def fresh_database(name: str) -> str:
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    migrate(url)
    return url


def seed(url: str, count: int, seed_value: int = 7) -> list[str]:
    """Customers, jobs, parties and ``count`` waiting cases (bulk inserts); returns some customer ids."""
    rng = random.Random(seed_value)
    now = utcnow()
    customers: list[dict[str, Any]] = []
    jobs: list[dict[str, Any]] = []
    parties: list[dict[str, Any]] = []
    cases: list[dict[str, Any]] = []
    for number in range(max(1, count // 4)):
        customer_id, job_id = str(uuid.uuid4()), str(uuid.uuid4())
        customers.append(
            {
                "id": customer_id,
                "name": f"Bench {number} Oy",
                "country": "FI",
                "retention_until": now + timedelta(days=3650),
                "created_at": now,
                "updated_at": now,
                "risk": "medium",
                "outcome": "review",
                "edd_required": False,
                "legal_hold": False,
                "purpose": "bench",
                "legal_basis": "bench",
            }
        )
        jobs.append(
            {
                "id": job_id,
                "customer_id": customer_id,
                "status": "completed",
                "outcome": "review",
                "idempotency_key": job_id,
                "request_hash": "0" * 64,
                "submitted_by": "bench",
                "trigger": "onboarding",
                "retention_until": now + timedelta(days=3650),
                "created_at": now,
                "updated_at": now,
                "attempts": 1,
                "edd_required": False,
                "legal_hold": False,
                "purpose": "bench",
                "legal_basis": "bench",
            }
        )
        for position in range(1, 5):
            party_id = str(uuid.uuid4())
            parties.append(
                {
                    "id": party_id,
                    "job_id": job_id,
                    "position": position,
                    "role": "beneficial_owner",
                    "schema": "Person",
                    "name": f"Person {number}-{position}",
                    "declared_pep": False,
                    "edd_required": False,
                }
            )
            sources = sorted(rng.sample(SOURCES, rng.choice((1, 1, 2, 3))))
            assignee = rng.choice(ANALYSTS) if rng.random() < 0.1 else None
            status = rng.choice(STATUSES)
            if assignee is None and status == "in_review":
                status = "open"
            opened = now - timedelta(hours=rng.uniform(0, 240))
            cases.append(
                {
                    "id": str(uuid.uuid4()),
                    "customer_id": customer_id,
                    "job_id": job_id,
                    "party_id": party_id,
                    "subject_key": f"entry:{sources[0]}:{number}-{position}",
                    "basis": "listing",
                    "kind": "sanction",
                    "priority": "high" if rng.random() < 0.2 else "normal",
                    "status": status,
                    "sources": sources,
                    "source_filter": "|" + "|".join(sources) + "|",
                    "top_score": round(rng.uniform(0.8, 1.0), 4),
                    "assignee_id": assignee,
                    "assignee_name": assignee,
                    "created_at": opened,
                    "opened_at": opened,
                    "updated_at": opened,
                }
            )
    with transaction(url) as session:
        for model, rows in ((Customer, customers), (ScreeningJob, jobs), (Party, parties), (Case, cases)):
            for start in range(0, len(rows), 5000):
                session.execute(insert(model), rows[start : start + 5000])
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")  # the steady state autovacuum keeps: visibility map set, statistics fresh
    return [row["id"] for row in customers[:: max(1, len(customers) // 20)]]


def filters(customer_ids: list[str]) -> list[tuple[str, CaseFilter, int]]:
    return [
        ("waiting, first page", CaseFilter(), 0),
        ("waiting, page 100", CaseFilter(), 50 * 100),
        ("status=open", CaseFilter(statuses=("open",)), 0),
        ("priority=high", CaseFilter(priority="high"), 0),
        ("assignee=unassigned", CaseFilter(assignee="unassigned"), 0),
        ("assignee=analyst-3", CaseFilter(assignee="analyst-3"), 0),
        ("source=uk_ofsi", CaseFilter(source="uk_ofsi"), 0),
        ("overdue=true", CaseFilter(overdue=True), 0),
        ("customer_id", CaseFilter(customer_id=customer_ids[len(customer_ids) // 2]), 0),
        ("overdue, high, unassigned", CaseFilter(overdue=True, priority="high", assignee="unassigned"), 0),
    ]


def p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args()
    database = f"kyc_bench_cases_{os.getpid()}"
    url = fresh_database(database)
    principal = Principal("bench", "bench", Role.ANALYST)
    report: dict[str, Any] = {"machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"}
    try:
        started = time.perf_counter()
        customer_ids = seed(url, args.cases)
        report["cases"] = args.cases
        report["seed_seconds"] = round(time.perf_counter() - started, 1)
        every: list[float] = []
        report["queries"] = {}
        for label, wanted, offset in filters(customer_ids):
            timings = []
            for _ in range(args.repeat):
                began = time.perf_counter()
                with transaction(url) as session:
                    rows, total = case_queue(session, wanted, principal, sla_hours=SLA, limit=50, offset=offset)
                timings.append((time.perf_counter() - began) * 1000)
            every.extend(timings)
            report["queries"][label] = {
                "total": total,
                "returned": len(rows),
                "p50_ms": round(statistics.median(timings), 1),
                "p95_ms": round(p(timings, 0.95), 1),
            }
        report["all"] = {"p50_ms": round(statistics.median(every), 1), "p95_ms": round(p(every, 0.95), 1)}
    finally:
        dispose_engines()
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
