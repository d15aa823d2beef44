"""Fault injection on the production layout (``tests/support/stack.py``): own PostgreSQL cluster and Redis server,
the migration, the API, two Celery workers and beat, all by the compose file's own commands.

Under a steady load of five-party jobs (some with listed persons, each with its own Idempotency-Key) a worker is
SIGKILLed twice while it holds a claimed job, Redis is restarted once with nothing persisted, PostgreSQL is
restarted once, the queued messages are deleted once, and a worker is stopped gracefully (SIGTERM, as ``docker
stop``) once. Then every accepted job has completed exactly once (one screening audited, no duplicate hit), no job
is stuck, no service crashed (the stack restarts one that exits, as compose does, and counts it), and every
submission refused during an outage got 503 with ``Retry-After`` — never another 5xx. A list ingestion killed
mid-way leaves the previous version active and nothing half-written.
Schemathesis then checks the live OpenAPI with a token of every role.

Bounded for CI: ``KYC_FAULT_JOBS`` jobs (200) at ``KYC_FAULT_RATE`` per second (5). The figures of each run are
written to ``var/faults/last-run.json`` and printed; BENCHMARKS.md (Reliability) records them.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx
import psycopg
import pytest
import redis
from celery import Celery

from kyc.access import Role
from tests.support.env import REPO, list_file
from tests.support.service import business_id
from tests.support.stack import BIN, Stack

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("faults")]

JOBS = int(os.environ.get("KYC_FAULT_JOBS", "200"))
RATE = float(os.environ.get("KYC_FAULT_RATE", "5"))
UN_2025 = "un_sc/2025-11-20_mkweli/un_consolidated.xml"
UN_2026 = "un_sc/2026-02-27_watchman/UN_consolidated.xml"
LISTED = ("SAIF-AL-DIN AL-MASHHADANI", "Emraan Ali")
FIGURES = REPO / "var" / "faults" / "last-run.json"
FAST_SWEEPER = {  # the sweeper's knobs, shortened so that a CI run measures recovery in seconds
    "KYC_SWEEP_INTERVAL_SECONDS": "2",
    "KYC_STALE_JOB_SECONDS": "5",
    "KYC_ORPHANED_JOB_SECONDS": "4",
    "KYC_API_DOCS": "true",
}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    running = Stack(tmp_path_factory.mktemp("stack"), FAST_SWEEPER)
    try:
        running.start(workers=2)
        ingested = running.kyc("lists", "ingest", "un_sc", "--file", str(list_file(UN_2025)))
        assert ingested.returncode == 0, ingested.stderr
        running.wait_http("/readyz", timeout=180)
        yield running
    finally:
        running.close()
        logs = FIGURES.parent / "logs"  # kept for a failed run's post-mortem (var/ is not committed)
        shutil.rmtree(logs, ignore_errors=True)
        logs.mkdir(parents=True, exist_ok=True)
        for log in running.folder.glob("*.log"):
            shutil.copy(log, logs / log.name)


def _token(stack: Stack, role: Role) -> str:
    made = stack.kyc("users", "create", f"{role.value}-{uuid.uuid4().hex[:6]}", "--role", role.value)
    assert made.returncode == 0, made.stderr
    return made.stdout.strip().split()[-1]


def _body(n: int) -> dict[str, Any]:
    persons = [
        {"role": "representative", "name": f"Matti Meikäläinen {n}", "birth_date": "1980-05-17", "nationality": "FI"},
        {"role": "responsible_person", "name": f"Maija Virtanen {n}", "nationality": "FI"},
        {"role": "beneficial_owner", "name": f"Juha Korhonen {n}", "ownership": 0.3},
        {"role": "beneficial_owner", "name": LISTED[n % 2] if n % 10 == 0 else f"Anna Nieminen {n}", "ownership": 0.3},
    ]
    return {
        "client_reference": f"FAULT-{n}",
        "customer": {"name": f"Vikasieto {n} Oy", "business_id": business_id(5_000_000 + n), "country": "FI"},
        "persons": persons,
    }


@dataclass
class Submission:
    n: int
    key: str
    answers: list[tuple[float, int, str | None]] = field(default_factory=list)
    """(when, HTTP status or 0 for a connection error, Retry-After)."""
    job_id: str | None = None


class Load:
    """Submits ``JOBS`` jobs at ``RATE`` per second; a 503 is retried with the same key after its Retry-After."""

    def __init__(self, stack: Stack, token: str) -> None:
        self.stack = stack
        self.token = token
        self.submissions = [Submission(n, uuid.uuid4().hex) for n in range(JOBS)]
        self.sent = 0
        self.started = time.monotonic()

    def _submit(self, client: httpx.Client, item: Submission) -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                response = client.post("/v1/screenings", json=_body(item.n), headers={"Idempotency-Key": item.key})
            except httpx.HTTPError:
                item.answers.append((time.monotonic(), 0, None))
                time.sleep(0.5)
                continue
            item.answers.append((time.monotonic(), response.status_code, response.headers.get("Retry-After")))
            if response.status_code in (200, 202):
                item.job_id = response.json()["id"]
                return
            if response.status_code != 503:
                return  # any other answer is a failure the test reports
            time.sleep(min(1.0, float(response.headers.get("Retry-After") or 1)))

    def run(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        limits = httpx.Limits(max_connections=32, max_keepalive_connections=32)
        with (
            httpx.Client(base_url=self.stack.base_url, headers=headers, timeout=30, limits=limits) as client,
            ThreadPoolExecutor(24) as pool,
        ):
            futures = []
            for item in self.submissions:
                due = self.started + item.n / RATE
                time.sleep(max(0.0, due - time.monotonic()))
                futures.append(pool.submit(self._submit, client, item))
                self.sent = item.n + 1
            for future in futures:
                future.result()


def _db(stack: Stack) -> psycopg.Connection[Any]:
    return psycopg.connect(stack.env["KYC_DATABASE_URL"], autocommit=True, connect_timeout=5)


def _query(stack: Stack, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    deadline = time.monotonic() + 60
    while True:
        try:
            with _db(stack) as conn:
                return list(conn.execute(sql, params or None).fetchall())
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def _running_count(stack: Stack) -> int:
    return int(_query(stack, "SELECT count(*) FROM screening_jobs WHERE status = 'running'")[0][0])


@functools.cache
def _remote_control(broker_url: str) -> Celery:
    """One client app for the run: each poll through a new one would leave its broker connections open."""
    return Celery(broker=broker_url)


def _claimed_on(stack: Stack, worker: str) -> list[str]:
    """The screening jobs this worker is executing and has already claimed (the row says running).

    Celery's remote control names the tasks in the worker's hands; the row tells a claimed job from one just
    received. A kill right after nearly always interrupts a screening under way (a job may still finish in the
    milliseconds between), never an idle worker: the test asserts that an interrupted job ran again.
    """
    node = f"{worker}@{stack.env['HOSTNAME']}"
    control = _remote_control(stack.env["KYC_BROKER_URL"]).control
    try:
        active = control.inspect(destination=[node], timeout=1, limit=1).active() or {}  # limit: return on the reply
    except Exception:  # the broker may be between restarts: nothing known is nothing running
        return []
    in_hand = [task["args"][0] for task in active.get(node, []) if task.get("name") == "kyc.screen_job"]
    if not in_hand:
        return []
    rows = _query(stack, "SELECT id FROM screening_jobs WHERE status = 'running' AND id = ANY(%s)", in_hand)
    return [row[0] for row in rows]


def _open_jobs(stack: Stack) -> set[str]:
    rows = _query(stack, "SELECT id FROM screening_jobs WHERE status IN ('queued', 'running')")
    return {row[0] for row in rows}


@dataclass
class Fault:
    name: str
    at: float = 0.0
    wall: float = 0.0
    open_jobs: set[str] = field(default_factory=set)
    outage_seconds: float = 0.0
    running_at_fault: int = 0
    stop_seconds: float | None = None
    interrupted: list[str] = field(default_factory=list)
    """The claimed jobs a worker held when it was killed."""


def _inject(stack: Stack, fault: Fault) -> None:
    fault.running_at_fault = _running_count(stack) if fault.name != "restart postgresql" else -1
    fault.open_jobs = _open_jobs(stack)
    fault.at, fault.wall = time.monotonic(), time.time()
    if fault.name.startswith("sigkill worker"):
        worker = "worker1" if fault.name.endswith("1") else "worker2"
        deadline = time.monotonic() + 30
        while not (in_hand := _claimed_on(stack, worker)) and time.monotonic() < deadline:  # mid-job on this worker
            time.sleep(0.02)
        fault.running_at_fault, fault.interrupted = len(in_hand), in_hand
        stack.kill(worker)
        time.sleep(1)  # compose restarts the container (restart: unless-stopped)
        stack.spawn(worker, stack.command("worker", node=worker))
    elif fault.name == "sigterm worker 1":  # docker stop: the warm shutdown finishes the job in hand
        fault.stop_seconds = stack.stop("worker1")
        stack.spawn("worker1", stack.command("worker", node="worker1"))
    elif fault.name == "restart redis":
        stack.redis.kill()
        time.sleep(1)
        stack.redis.start()
    elif fault.name == "restart postgresql":
        stack.postgres.stop("fast")
        time.sleep(3)
        stack.postgres.start()
    elif fault.name == "delete queued messages":
        client = redis.Redis.from_url(stack.env["KYC_BROKER_URL"])
        client.delete("kyc")
    fault.outage_seconds = time.monotonic() - fault.at


def _completed_at(stack: Stack) -> dict[str, float]:
    rows = _query(
        stack, "SELECT id, extract(epoch from completed_at) FROM screening_jobs WHERE status IN ('completed', 'failed')"
    )
    return {row[0]: float(row[1]) for row in rows}


def test_every_accepted_job_completes_exactly_once_through_the_faults(stack: Stack) -> None:
    load = Load(stack, _token(stack, Role.ONBOARDING))
    faults = [
        Fault("sigkill worker 1"),
        Fault("restart redis"),
        Fault("restart postgresql"),
        Fault("sigkill worker 2"),
        Fault("delete queued messages"),
        Fault("sigterm worker 1"),
    ]
    loader = threading.Thread(target=load.run)
    loader.start()
    for index, fault in enumerate(faults, start=1):
        trigger = JOBS * index // (len(faults) + 1)
        while load.sent < trigger and loader.is_alive():
            time.sleep(0.05)
        _inject(stack, fault)
    loader.join(600)
    assert not loader.is_alive(), "the load did not finish"

    accepted = {item.job_id for item in load.submissions if item.job_id}
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and _open_jobs(stack) & accepted:
        time.sleep(1)
    stuck = _open_jobs(stack) & accepted

    answers = [answer for item in load.submissions for answer in item.answers]
    refused = [a for a in answers if a[1] == 503]
    server_errors = [a for a in answers if a[1] >= 500 and a[1] != 503]
    unanswered = [item.n for item in load.submissions if not item.job_id]
    statuses = dict(_query(stack, "SELECT status, count(*) FROM screening_jobs GROUP BY status"))  # type: ignore[arg-type]
    twice = _query(
        stack,
        "SELECT object_id FROM audit_log WHERE action = 'screening.run' GROUP BY object_id HAVING count(*) > 1",
    )
    duplicate_hits = _query(
        stack,
        "SELECT job_id, party_id, source, source_ref FROM screening_hits "
        "GROUP BY job_id, party_id, source, source_ref HAVING count(*) > 1",
    )
    with_hits = _query(stack, "SELECT count(DISTINCT job_id) FROM screening_hits")[0][0]
    attempts = dict(_query(stack, "SELECT attempts, count(*) FROM screening_jobs GROUP BY attempts"))  # type: ignore[arg-type]
    done = _completed_at(stack)
    figures: dict[str, Any] = {
        "jobs": JOBS,
        "rate_per_second": RATE,
        "accepted": len(accepted),
        "completed": statuses.get("completed", 0),
        "failed": statuses.get("failed", 0),
        "stuck": len(stuck),
        "screened_twice": len(twice),
        "duplicate_hits": len(duplicate_hits),
        "jobs_with_hits": with_hits,
        "responses_503": len(refused),
        "responses_503_without_retry_after": sum(1 for a in refused if not a[2]),
        "responses_other_5xx": len(server_errors),
        "connection_errors": sum(1 for a in answers if a[1] == 0),
        "attempts": {str(k): v for k, v in sorted(attempts.items())},
        "crashes": [f"{name} (exit {code})" for name, code in stack.crashes],
        "faults": [],
    }
    for fault in faults:
        affected = [done[job] for job in fault.open_jobs & accepted if job in done]
        after = [t for t in done.values() if t > fault.wall + fault.outage_seconds]
        figures["faults"].append(
            {
                "fault": fault.name,
                "outage_seconds": round(fault.outage_seconds, 1),
                "jobs_running_at_fault": fault.running_at_fault,
                **({"jobs_interrupted": len(fault.interrupted)} if fault.name.startswith("sigkill") else {}),
                "jobs_open_at_fault": len(fault.open_jobs),
                **({"graceful_stop_seconds": round(fault.stop_seconds, 1)} if fault.stop_seconds is not None else {}),
                "first_completion_after_s": round(min(after) - fault.wall, 1) if after else None,
                "all_open_jobs_done_after_s": round(max(affected) - fault.wall, 1) if affected else None,
            }
        )
    FIGURES.parent.mkdir(parents=True, exist_ok=True)
    FIGURES.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(figures, indent=2))

    assert unanswered == [], f"submissions never accepted: {unanswered[:10]}"
    assert server_errors == [], f"5xx other than 503: {server_errors[:10]}\n{stack.log_tail('api')}"
    assert figures["responses_503_without_retry_after"] == 0
    assert stuck == set(), f"{len(stuck)} jobs never finished\n{stack.log_tail('worker1')}"
    assert figures["completed"] == len(accepted) and figures["failed"] == 0
    assert twice == [] and duplicate_hits == []
    assert stack.crashes == [], f"exited by itself: {stack.crashes}\n{stack.crash_log(stack.crashes[0][0])}"
    assert with_hits >= JOBS // 10 // 2  # the listed persons were found
    kills = [fault for fault in faults if fault.name.startswith("sigkill")]
    assert all(fault.interrupted for fault in kills), "a worker was killed holding no claimed job"
    rerun = _query(
        stack,
        "SELECT count(*) FROM screening_jobs WHERE attempts >= 2 AND id = ANY(%s)",
        [job for fault in kills for job in fault.interrupted],
    )[0][0]
    assert rerun >= 1, "no interrupted job was claimed again"


def _active_un(stack: Stack) -> tuple[int, int]:
    row = _query(
        stack,
        "SELECT s.active_version_id, (SELECT count(*) FROM list_versions WHERE source = 'un_sc') "
        "FROM list_sources s WHERE s.name = 'un_sc'",
    )[0]
    return int(row[0]), int(row[1])


def test_a_list_ingestion_killed_mid_way_keeps_the_previous_version(stack: Stack) -> None:
    before, versions = _active_un(stack)
    argv = [str(BIN / "kyc"), "lists", "ingest", "un_sc", "--file", str(list_file(UN_2026))]
    process = subprocess.Popen(
        argv, env=stack.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    killed_writing = False
    deadline = time.monotonic() + 120
    with _db(stack) as watcher:  # one connection, polled: the version's transaction lasts a fraction of a second
        while process.poll() is None and time.monotonic() < deadline:
            writing = watcher.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE backend_xid IS NOT NULL AND pid <> pg_backend_pid() "
                "AND query ILIKE '%%list_%%'"
            ).fetchone()
            if writing and writing[0]:
                os.killpg(process.pid, signal.SIGKILL)  # mid-transaction: versions, entries, changes
                killed_writing = True
                break
            time.sleep(0.002)
    process.wait(30)
    assert killed_writing, "the ingestion finished before it could be killed"
    time.sleep(1)  # PostgreSQL notices the closed connection and rolls the transaction back
    assert _active_un(stack) == (before, versions), "a killed ingestion left a version behind"
    again = stack.kyc("lists", "ingest", "un_sc", "--file", str(list_file(UN_2026)))
    assert again.returncode == 0, again.stderr
    after, count = _active_un(stack)
    assert after != before and count == versions + 1


def test_schemathesis_finds_no_server_error_and_no_schema_violation_for_any_role(stack: Stack) -> None:
    # A list version ingested just before (the test above) is being indexed: until then both readiness probes
    # answer a documented 503, which schemathesis counts as a server error. The API is probed once it is ready.
    stack.wait_http("/opensanctions/readyz", timeout=180)
    stack.wait_http("/readyz", timeout=180)
    examples = os.environ.get("KYC_SCHEMATHESIS_EXAMPLES", "5")
    failed: dict[str, str] = {}
    for role in Role:
        token = _token(stack, role)
        done = subprocess.run(
            [
                str(BIN / "schemathesis"), "run", f"{stack.base_url}/openapi.json",
                "--header", f"Authorization: Bearer {token}",
                "--checks", "not_a_server_error,response_schema_conformance,status_code_conformance",
                "--max-examples", examples, "--phases", "examples,coverage,fuzzing",
                "--suppress-health-check", "all", "--request-timeout", "20", "--workers", "1",
                "--exclude-path-regex", "^/v1/me/tokens",  # replacing the caller's token would end the run
            ],
            env={**stack.env, "SCHEMATHESIS_HOOKS": ""},
            capture_output=True, text=True, timeout=600, check=False,
        )  # fmt: skip
        FIGURES.parent.mkdir(parents=True, exist_ok=True)
        (FIGURES.parent / f"schemathesis-{role.value}.txt").write_text(done.stdout + done.stderr, encoding="utf-8")
        if done.returncode != 0:
            failed[role.value] = done.stdout + done.stderr
    assert not failed, "\n".join(f"{role}:\n{out[-5000:]}" for role, out in failed.items())
