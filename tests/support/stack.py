"""The production layout on one machine, started from the compose file's own commands: a PostgreSQL cluster and a
Redis server of the stack's own, the one-shot migration, the API, Celery workers and beat — each its own process
group, so a test can SIGKILL a worker with its pool children as an OOM kill or a lost host would.

Only the host names, ports and container paths are mapped to local ones (as ``tests/test_deployment.py`` does);
extra settings a test gives (shorter sweeper intervals) are added to the compose environment. The services compose
restarts (``restart: unless-stopped``) are restarted here too when they exit on their own, and each such exit is
recorded in ``Stack.crashes``, so a crash is neither hidden by the restart nor taken for a stuck job.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import yaml
from cryptography.fernet import Fernet

from tests.support.cluster import PostgresCluster, RedisServer
from tests.support.env import REPO
from tests.support.live import free_port

COMPOSE = REPO / "docker-compose.yml"
BIN = Path(sys.executable).parent
_VARIABLE = re.compile(r"\$\{(\w+)(?::([?-])([^}]*))?\}")
RESTART_MARK = "=== stack:"
"""Written into a process's log where it exited by itself, before the restarted process appends its own output."""


def compose() -> dict[str, Any]:
    loaded = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def interpolate(value: str, env: dict[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        name, kind, arg = match.group(1), match.group(2), match.group(3)
        if env.get(name):
            return env[name]
        if kind == "?":
            raise KeyError(f"{name}: {arg}")
        return arg if kind == "-" else ""

    return _VARIABLE.sub(replace, value)


class Stack:
    """Start with :meth:`start`; every process and both servers end with :meth:`close`."""

    def __init__(self, folder: Path, extra_env: dict[str, str] | None = None) -> None:
        self.folder = folder
        self.var = folder / "var"
        self.var.mkdir(parents=True, exist_ok=True)
        self.postgres = PostgresCluster()
        self.redis = RedisServer(folder / "redis")
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.metrics_token = "metrics-" + uuid.uuid4().hex
        self.extra_env = extra_env or {}
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.env: dict[str, str] = {}
        self.crashes: list[tuple[str, int]] = []
        """(process name, exit code) of each exit the test did not cause; the stack restarted the process."""
        self._argv: dict[str, list[str]] = {}
        self._held: set[str] = set()  # stopped or killed by the test: not restarted until it spawns them again
        self._recorded: set[int] = set()  # pids of the exits in ``crashes``: a failed restart is not a second crash
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._supervisor = threading.Thread(target=self._supervise, name="stack-supervisor", daemon=True)

    # --- environment -------------------------------------------------------------------------------------------

    def _environment(self, database_url: str) -> dict[str, str]:
        secrets = {
            "POSTGRES_PASSWORD": "unused-locally",
            "KYC_ENCRYPTION_KEY": Fernet.generate_key().decode(),
            "KYC_WEBHOOK_SECRET": uuid.uuid4().hex,
            "KYC_AUDIT_KEY": uuid.uuid4().hex,
            "KYC_METRICS_TOKEN": self.metrics_token,
        }
        service = compose()["services"]["api"]
        env = {key: interpolate(str(value), secrets) for key, value in service["environment"].items()}
        env |= {
            "KYC_DATABASE_URL": database_url,
            "KYC_BROKER_URL": self.redis.url(0),
            "KYC_AUDIT_CHECKPOINT_DIR": str(self.folder / "audit-checkpoints"),
            "KYC_INGEST_SOURCES": "[]",  # no network here: beat must not try the official feeds
            **self.extra_env,
        }
        return {
            "PATH": f"{BIN}:{os.environ.get('PATH', '')}",
            "HOME": str(self.folder),
            "HOSTNAME": socket.gethostname(),
            **env,
        }

    def command(self, service: str, node: str | None = None) -> list[str]:
        """The compose service's command with this machine's port, paths and executables."""
        raw = compose()["services"][service]["command"]
        mapped = [part.replace("8000", str(self.port)).replace("/app/var", str(self.var)) for part in raw]
        mapped = ["127.0.0.1" if part == "0.0.0.0" else part for part in mapped]
        if node is not None:  # compose replicas differ by container host name; here by node name
            mapped.append(f"--hostname={node}@%h")
        return [str(BIN / mapped[0]), *mapped[1:]]

    # --- processes ---------------------------------------------------------------------------------------------

    def start(self, workers: int = 2) -> Stack:
        self.postgres.init()
        self.postgres.start()
        database_url = self.postgres.create_database("kyc")
        self.redis.start()
        self.env = self._environment(database_url)
        migrate = subprocess.run(
            self.command("migrate"), env=self.env, capture_output=True, text=True, timeout=180, check=False
        )
        assert migrate.returncode == 0, migrate.stdout + migrate.stderr
        self.spawn("api", self.command("api"))
        self.wait_http("/healthz")
        for n in range(1, workers + 1):
            self.spawn(f"worker{n}", self.command("worker", node=f"worker{n}"))
        self.spawn("beat", self.command("beat"))
        self._supervisor.start()
        return self

    def spawn(self, name: str, argv: list[str]) -> subprocess.Popen[bytes]:
        """Start a service's process; it is restarted whenever it exits until the test stops or kills it."""
        with self._lock:
            return self._spawn(name, argv)

    def _spawn(self, name: str, argv: list[str]) -> subprocess.Popen[bytes]:
        log = (self.folder / f"{name}.log").open("ab")
        process = subprocess.Popen(argv, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        self.processes[name], self._argv[name] = process, argv
        self._held.discard(name)
        return process

    def _supervise(self) -> None:
        """Compose's ``restart: unless-stopped``: a process that exited by itself is started again."""
        while not self._closing.wait(0.5):
            with self._lock:
                for name, process in list(self.processes.items()):
                    code = process.poll()
                    if code is None or name in self._held or self._closing.is_set():
                        continue
                    self._crashed(name, process.pid, code)
                    try:
                        self._spawn(name, self._argv[name])
                    except OSError as exc:  # tried again on the next round; the crash is on record already
                        self._mark(name, f"restart failed: {exc}")

    def _crashed(self, name: str, pid: int, code: int) -> None:
        if pid not in self._recorded:
            self._recorded.add(pid)
            self.crashes.append((name, code))
            self._mark(name, f"exited with {code}; restarted by the stack")

    def _mark(self, name: str, text: str) -> None:
        with (self.folder / f"{name}.log").open("a", encoding="utf-8") as log:
            log.write(f"{RESTART_MARK} {text}\n")

    def _hold(self, name: str) -> subprocess.Popen[bytes]:
        """The process, no longer restarted; one that had already exited by itself is a crash all the same."""
        with self._lock:
            process = self.processes[name]
            code = process.poll()
            if code is not None and name not in self._held:
                self._crashed(name, process.pid, code)
            self._held.add(name)
            return process

    def kill(self, name: str) -> None:
        """SIGKILL the process and its children (a worker's pool): nothing gets to clean up."""
        process = self._hold(name)
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(20)

    def stop(self, name: str, timeout: float = 60) -> float:
        """SIGTERM to the main process only, as ``docker stop`` sends it; SIGKILL after ``timeout``. The seconds the
        process took to exit."""
        process = self._hold(name)
        started = time.monotonic()
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(20)
        return time.monotonic() - started

    def restart(self, name: str, service: str, node: str | None = None) -> None:
        self.kill(name)
        self.spawn(name, self.command(service, node=node))

    def kyc(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(BIN / "kyc"), *args], env=self.env, capture_output=True, text=True, timeout=timeout, check=False
        )

    def wait_http(self, path: str, timeout: float = 120) -> httpx.Response:
        deadline = time.monotonic() + timeout
        last: httpx.Response | httpx.HTTPError | None = None
        while time.monotonic() < deadline:
            try:
                response = httpx.get(self.base_url + path, timeout=5)
            except httpx.HTTPError as exc:
                last = exc
            else:
                if response.status_code == 200:
                    return response
                last = response
            if self.processes["api"].poll() is not None:
                break
            time.sleep(0.2)
        raise AssertionError(f"{path} not 200 within {timeout} s: {last}\n{self.log_tail('api')}")

    def log_tail(self, name: str, size: int = 4000) -> str:
        try:
            return (self.folder / f"{name}.log").read_text(errors="replace")[-size:]
        except OSError:
            return ""

    def crash_log(self, name: str, size: int = 4000) -> str:
        """The end of the log of the process's first crash: what it wrote before it exited by itself."""
        text = self.log_tail(name, size=10**8)
        return text[: text.find(RESTART_MARK)][-size:] if RESTART_MARK in text else text[-size:]

    def close(self) -> None:
        self._closing.set()
        if self._supervisor.is_alive():
            self._supervisor.join(5)
        for name, process in list(self.processes.items()):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)
        self.redis.close()
        self.postgres.close()
