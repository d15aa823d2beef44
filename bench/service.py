"""Service benchmark: sustained submissions per second, and end-to-end latency of a 5-party job with one worker.

Production-shaped: PostgreSQL, Redis, ``kyc serve --no-embedded`` (uvicorn, N processes) and one
``celery -A workers.app worker --pool=solo`` process, all on this machine, talking over real sockets.

1. Throughput: no worker consumes (so screening does not steal the CPU being measured); ``--clients`` concurrent
   HTTP clients POST 5-party jobs with fresh Idempotency-Keys for ``--seconds``. Counted: 202 answers per second.
2. Latency: queue emptied, one worker started and warmed (matcher built), then ``--jobs`` 5-party jobs are submitted
   at ``--rate`` per second (open loop); latency = the job's ``completed_at`` minus the moment the client sent it.

The load generator is wrk (``apt-get install -y wrk``; ``brew install wrk``), a C program driven by a Lua script
that gives every request a fresh Idempotency-Key and customer registration, so the bench measures the server
rather than a Python client competing for the same two cores (httpx used one of them). wrk sets TCP_NODELAY on
its sockets and writes each request in one piece, as real HTTP clients do. The throughput result also gives the
CPU milliseconds per accepted request of the API processes, of PostgreSQL and of wrk.

Usage: ``.venv/bin/python -m bench.service [--api-workers 2] [--clients 32] [--seconds 15] [--jobs 100]
[--throughput-only]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
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

from bench.paths import shared_data

REPO = Path(__file__).resolve().parents[1]
SHARED = shared_data() / "lists"
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


WRK_SCRIPT = r"""
-- Generated by bench/service.py: a POST /v1/screenings per request, each with a fresh Idempotency-Key and
-- customer registration (so every request creates a customer, a job and its parties), counting 202 answers.
local token = [==[@TOKEN@]==]
local run = "@RUN@"
local parts = { [==[@PART0@]==], [==[@PART1@]==], [==[@PART2@]==] }
local threads = {}
local count = 0

function setup(thread)
  count = count + 1
  thread:set("tid", count)
  table.insert(threads, thread)
end

function init(args)
  n = 0
  accepted = 0
  other = 0
end

function request()
  n = n + 1
  local unique = run .. "-" .. tid .. "-" .. n
  local headers = {
    ["Authorization"] = "Bearer " .. token,
    ["Idempotency-Key"] = "tp-" .. unique,
    ["Content-Type"] = "application/json",
  }
  return wrk.format("POST", "/v1/screenings", headers, parts[1] .. n .. parts[2] .. unique .. parts[3])
end

function response(status, headers, body)
  if status == 202 then accepted = accepted + 1 else other = other + 1 end
end

function done(summary, latency, requests)
  local a, o = 0, 0
  for _, t in ipairs(threads) do
    a = a + t:get("accepted")
    o = o + t:get("other")
  end
  local e = summary.errors
  io.write(string.format(
    'WRK {"accepted":%d,"other":%d,"requests":%d,"duration_us":%d,"socket_errors":%d,' ..
    '"p50_us":%d,"p95_us":%d,"p99_us":%d}\n',
    a, o, summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99)))
end
"""
"""wrk's Lua hooks: ``request`` builds each POST, ``response`` counts the 202s, ``done`` prints one JSON line."""

_MARK_N, _MARK_U = "@@N@@", "@@U@@"


def _wrk_script(token: str) -> str:
    """The Lua script with the token and the body template (``body()`` split where the per-request parts go)."""
    template = body(0)
    template["client_reference"] = f"BENCH-{_MARK_N}"
    template["customer"]["registration"] = f"HRB {_MARK_U}"
    text = json.dumps(template, ensure_ascii=False)
    head, rest = text.split(_MARK_N)
    middle, tail = rest.split(_MARK_U)
    values = {"@TOKEN@": token, "@RUN@": uuid.uuid4().hex[:8], "@PART0@": head, "@PART1@": middle, "@PART2@": tail}
    script = WRK_SCRIPT
    for marker, value in values.items():
        script = script.replace(marker, value)
    return script


def _wrk() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise SystemExit(
            "bench.service needs the wrk load generator (a C program, so the client does not eat the cores it "
            "measures): `apt-get install -y wrk` on Debian/Ubuntu, `brew install wrk` on macOS."
        )
    return found


def _cpu_seconds(pids: list[int]) -> float:
    """utime + stime of the given processes (from /proc; 0 for a process that is gone)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / tick


def _processes() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, command name) of every process visible in /proc."""
    found: dict[int, tuple[int, str]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        found[int(entry.name)] = (int(stat.rsplit(")", 1)[1].split()[1]), name)
    return found


def _tree(root: int) -> list[int]:
    """``root`` and all its descendants (the uvicorn supervisor and its worker processes)."""
    processes = _processes()
    pids, frontier = [root], [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, (ppid, _name) in processes.items() if ppid == parent]
        pids.extend(children)
        frontier.extend(children)
    return pids


def _postgres() -> list[int]:
    return [pid for pid, (_ppid, name) in _processes().items() if name == "postgres"]


def _throughput(base: str, token: str, clients: int, seconds: float, api_pid: int) -> dict[str, float]:
    """``clients`` keep-alive connections posting back to back for ``seconds`` (closed loop), driven by wrk.

    Also measured: CPU seconds per accepted request of the API processes, of PostgreSQL (all its processes on this
    machine, so other people's queries count too; backends started during the run, e.g. for overflow connections,
    are not seen) and of wrk itself. CPU per request grows with machine load (cache and scheduler contention): for
    the cost of one request alone, run with ``--clients 1``.
    """
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(_wrk_script(token))
    api, pg = _tree(api_pid), _postgres()
    api_cpu, pg_cpu = _cpu_seconds(api), _cpu_seconds(pg)
    command = [
        _wrk(),
        "-t",
        "1",
        "-c",
        str(clients),
        "-d",
        f"{max(1, round(seconds))}s",
        "--timeout",
        "30s",
        "-s",
        script.name,
        base,
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _pid, _status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(_status)
    out = process.stdout.read().decode() if process.stdout else ""
    api_cpu, pg_cpu = _cpu_seconds(api) - api_cpu, _cpu_seconds(pg) - pg_cpu
    Path(script.name).unlink()
    lines = [line for line in out.splitlines() if line.startswith("WRK ")]
    if process.returncode != 0 or not lines:
        err = process.stderr.read().decode() if process.stderr else ""
        raise RuntimeError(f"wrk failed ({process.returncode}): {out}\n{err}")
    raw = json.loads(lines[-1][4:])
    elapsed = raw["duration_us"] / 1e6
    accepted = max(1, raw["accepted"])
    return {
        "accepted": raw["accepted"],
        "errors": raw["other"] + raw["socket_errors"],
        "seconds": round(elapsed, 2),
        "per_second": round(raw["accepted"] / elapsed, 1),
        "post_p50_ms": raw["p50_us"] / 1000,
        "post_p95_ms": raw["p95_us"] / 1000,
        "post_p99_ms": raw["p99_us"] / 1000,
        "api_cpu_ms_per_request": round(1000 * api_cpu / accepted, 2),
        "postgres_cpu_ms_per_request": round(1000 * pg_cpu / accepted, 2),
        "wrk_cpu_ms_per_request": round(1000 * (usage.ru_utime + usage.ru_stime) / accepted, 2),
        "loadavg": Path("/proc/loadavg").read_text().split()[0],
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
    parser.add_argument(
        "--throughput-only", action="store_true", help="Skip the latency run; nothing is written to bench/results."
    )
    args = parser.parse_args()
    _wrk()  # fail before any set-up when the load generator is missing

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
        _throughput(base, token, args.clients, 2, processes[0].pid)  # warm-up
        throughput = _throughput(base, token, args.clients, args.seconds, processes[0].pid)
        print(json.dumps({"throughput": throughput}), file=sys.stderr)
        if args.throughput_only:
            return
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
