"""Service benchmark: sustained submissions per second, and end-to-end latency of a 5-party job with one worker.

Production-shaped: PostgreSQL, Redis, ``kyc serve --no-embedded`` (uvicorn, N processes) and one
``celery -A workers.app worker --pool=solo`` process, all on this machine, talking over real sockets.

1. Throughput: no worker consumes (so screening does not steal the CPU being measured); ``--clients`` concurrent
   HTTP clients POST 5-party jobs with fresh Idempotency-Keys for ``--seconds``. Counted: 202 answers per second.
2. Latency: queue emptied, one worker started and warmed (matcher built), then ``--jobs`` 5-party jobs are submitted
   at ``--rate`` per second (open loop); latency = the job's ``completed_at`` minus the moment the client sent it.

Usage: ``.venv/bin/python -m bench.service [--api-workers 2] [--clients 32] [--seconds 15] [--jobs 100]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
import redis

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("KYC_SHARED_DIR", REPO.parent / "shared")) / "data" / "lists"
PG_ADMIN = os.environ.get("KYC_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("KYC_BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
LISTS = [
    ("un_sc", "un_sc/2026-02-27_watchman/UN_consolidated.xml"),
    ("ofac_sdn", "ofac_sdn/2024-05-03_jackdwyer/sdn.csv"),
    ("opensanctions", "pep/opensanctions_ftm/wikidata_sa_peps_usercrawl/entities.ftm.json"),
]
NODELAY = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]
"""httpx leaves Nagle on: a POST's body then waits ~40 ms for the delayed ACK of its headers. Real clients don't."""
PERSONS = [
    ("representative", "Matti Meikäläinen", "1980-05-17", "FI"),
    ("responsible_person", "Anna Korhonen", "1975-11-02", "FI"),
    ("responsible_person", "Emraan Ali", "1967-07-04", "TT"),
    ("beneficial_owner", "Jukka Virtanen", "1962-03-30", "FI"),
]


def body(index: int) -> dict[str, Any]:
    """A customer organisation and four persons: five parties, one of them a UN-listed person."""
    persons: list[dict[str, Any]] = [
        {"role": role, "name": name, "birth_date": born, "nationality": country}
        for role, name, born, country in PERSONS
    ]
    persons[3]["ownership"] = 0.4
    return {
        "client_reference": f"BENCH-{index}",
        "customer": {"name": f"Bench {index} GmbH", "registration": f"HRB {uuid.uuid4().hex[:12]}", "country": "DE"},
        "persons": persons,
    }


def _database() -> str:
    name = f"kyc_bench_service_{os.getpid()}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"


def _drop(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _prepare(db_url: str) -> str:
    from kyc.access import Role, create_user
    from kyc.settings import Settings
    from kyc.storage.db import migrate, transaction
    from lists.ingest import ingest_files

    migrate(db_url)
    settings = Settings(database_url=db_url)
    for source, path in LISTS:
        ingest_files(source, [SHARED / path], settings)
    with transaction(db_url) as session:
        _principal, token = create_user(session, "bench-onboarding", Role.ONBOARDING)
    return token


def _env(db_url: str, workdir: Path) -> dict[str, str]:
    from cryptography.fernet import Fernet

    env = {k: v for k, v in os.environ.items() if not k.startswith("KYC_")}
    env.update(
        KYC_DATABASE_URL=db_url,
        KYC_BROKER_URL=REDIS_URL,
        KYC_ENCRYPTION_KEY=Fernet.generate_key().decode(),
        PYTHONPATH=str(REPO),
    )
    (workdir / "var").mkdir(exist_ok=True)
    return env


def _wait_healthy(base: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise RuntimeError("the API did not become healthy")


async def _throughput(base: str, token: str, clients: int, seconds: float) -> dict[str, float]:
    latencies: list[float] = []
    counts = {"accepted": 0, "other": 0}
    stop = time.monotonic() + seconds

    async def client(worker: int, http: httpx.AsyncClient) -> None:
        n = 0
        while time.monotonic() < stop:
            n += 1
            headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": f"tp-{worker}-{n}-{uuid.uuid4().hex}"}
            started = time.perf_counter()
            response = await http.post(f"{base}/v1/screenings", json=body(n), headers=headers)
            latencies.append(time.perf_counter() - started)
            counts["accepted" if response.status_code == 202 else "other"] += 1

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    transport = httpx.AsyncHTTPTransport(limits=limits, socket_options=NODELAY)
    async with httpx.AsyncClient(timeout=30, transport=transport) as http:
        began = time.perf_counter()
        await asyncio.gather(*(client(i, http) for i in range(clients)))
        elapsed = time.perf_counter() - began
    latencies.sort()
    return {
        "accepted": counts["accepted"],
        "errors": counts["other"],
        "seconds": elapsed,
        "per_second": counts["accepted"] / elapsed,
        "post_p50_ms": 1000 * latencies[len(latencies) // 2],
        "post_p95_ms": 1000 * latencies[int(len(latencies) * 0.95)],
    }


def _reset_queue(db_url: str) -> None:
    redis.Redis.from_url(REDIS_URL).flushdb()
    with psycopg.connect(db_url.replace("postgresql+psycopg", "postgresql"), autocommit=True) as conn:
        conn.execute("UPDATE screening_jobs SET status = 'failed', error = 'bench reset' WHERE status = 'queued'")


def _completed(db_url: str, ids: list[str]) -> dict[str, datetime]:
    with psycopg.connect(db_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT id, completed_at FROM screening_jobs WHERE id = ANY(%s) AND status = 'completed'", (ids,)
        ).fetchall()
    return {row[0]: row[1] for row in rows}


def _latency(db_url: str, base: str, token: str, jobs: int, rate: float, timeout: float = 120) -> dict[str, float]:
    sent: dict[str, float] = {}
    with httpx.Client(timeout=30, transport=httpx.HTTPTransport(socket_options=NODELAY)) as http:
        for n in range(jobs):
            headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": f"lat-{n}-{uuid.uuid4().hex}"}
            at = time.time()
            response = http.post(f"{base}/v1/screenings", json=body(n), headers=headers)
            response.raise_for_status()
            sent[response.json()["id"]] = at
            time.sleep(max(0.0, 1 / rate - (time.time() - at)))
    deadline = time.monotonic() + timeout
    done: dict[str, datetime] = {}
    while time.monotonic() < deadline and len(done) < len(sent):
        done = _completed(db_url, list(sent))
        time.sleep(0.2)
    if len(done) < len(sent):
        raise RuntimeError(f"only {len(done)} of {len(sent)} jobs completed within {timeout} s")
    values = sorted(done[job].timestamp() - sent[job] for job in sent)
    return {
        "jobs": len(values),
        "p50_ms": 1000 * statistics.median(values),
        "p95_ms": 1000 * values[min(len(values) - 1, int(len(values) * 0.95))],
        "max_ms": 1000 * values[-1],
    }


def _submit_and_wait(db_url: str, base: str, token: str, count: int) -> None:
    """Warm-up: the worker builds its matcher on the first job."""
    _latency(db_url, base, token, count, rate=2, timeout=300)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--api-workers", type=int, default=2)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--jobs", type=int, default=100)
    parser.add_argument("--rate", type=float, default=5.0, help="Jobs per second in the latency run.")
    parser.add_argument("--port", type=int, default=8791)
    args = parser.parse_args()

    db_url = _database()
    processes: list[subprocess.Popen[bytes]] = []
    try:
        token = _prepare(db_url)
        workdir = Path(tempfile.mkdtemp(prefix="kyc-bench-"))
        env = _env(db_url, workdir)
        redis.Redis.from_url(REDIS_URL).flushdb()
        base = f"http://127.0.0.1:{args.port}"
        kyc = str(Path(sys.executable).parent / "kyc")
        serve = [kyc, "serve", "--no-embedded", "--port", str(args.port), "--workers", str(args.api_workers)]
        api_log = (workdir / "api.log").open("wb")
        processes.append(subprocess.Popen(serve, cwd=workdir, env=env, stdout=api_log, stderr=subprocess.STDOUT))
        print(f"API log: {workdir / 'api.log'}", file=sys.stderr)
        _wait_healthy(base)
        asyncio.run(_throughput(base, token, args.clients, 2))  # warm-up
        throughput = asyncio.run(_throughput(base, token, args.clients, args.seconds))
        print(json.dumps({"throughput": throughput}), file=sys.stderr)
        _reset_queue(db_url)

        celery = str(Path(sys.executable).parent / "celery")
        worker = [celery, "-A", "workers.app", "worker", "--pool=solo", "--concurrency=1", "--loglevel=WARNING"]
        processes.append(subprocess.Popen(worker, cwd=workdir, env=env))
        _submit_and_wait(db_url, base, token, 3)
        latency = _latency(db_url, base, token, args.jobs, args.rate)
    finally:
        for process in reversed(processes):
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        _drop(db_url)

    result = {
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
        "args": vars(args),
        "throughput": throughput,
        "latency": latency,
    }
    out = REPO / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "service.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
