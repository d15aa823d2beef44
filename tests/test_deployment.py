"""The docker-compose stack, checked without a Docker engine.

CI machines have the Docker client but no engine, so the images cannot be built here. What can drift silently is
checked instead: every setting the compose file passes is one the service reads, secrets are required rather than
defaulted, every service has a healthcheck, and — the slow test — the api, worker and beat *commands and
healthchecks exactly as the compose file writes them* run on this machine against real PostgreSQL and Redis,
with the compose environment, and screen a job end to end. Only the host names (``postgres``, ``redis``), the
port and the container paths are mapped to local ones.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import redis
import yaml
from cryptography.fernet import Fernet

from kyc.settings import Settings
from tests.support.env import PG_ADMIN_URL, REDIS_URL, REPO, list_file

COMPOSE = REPO / "docker-compose.yml"
DOCKERFILE = REPO / "Dockerfile"
APP_SERVICES = ("api", "worker", "beat")
REQUIRED_SECRETS = ("KYC_ENCRYPTION_KEY", "KYC_WEBHOOK_SECRET", "KYC_AUDIT_KEY", "POSTGRES_PASSWORD")
_VARIABLE = re.compile(r"\$\{(\w+)(?::([?-])([^}]*))?\}")
BIN = Path(sys.executable).parent


def compose() -> dict[str, Any]:
    loaded = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's ``${VAR}``, ``${VAR:-default}`` and ``${VAR:?message}`` (an unset required variable fails)."""

    def replace(match: re.Match[str]) -> str:
        name, kind, arg = match.group(1), match.group(2), match.group(3)
        if env.get(name):
            return env[name]
        if kind == "?":
            raise KeyError(f"{name}: {arg}")
        return arg if kind == "-" else ""

    return _VARIABLE.sub(replace, value)


def service_env(service: dict[str, Any], env: dict[str, str]) -> dict[str, str]:
    return {key: interpolate(str(value), env) for key, value in service["environment"].items()}


def test_compose_has_its_services_with_healthchecks_and_one_migration() -> None:
    services = compose()["services"]
    assert set(services) == {"postgres", "redis", "migrate", "api", "worker", "beat"}
    for name, service in services.items():
        if name == "migrate":  # one-shot: runs to completion once, never restarted
            assert service.get("restart") == "no" and service["command"] == ["kyc", "db", "upgrade"]
            continue
        assert service.get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
        assert service.get("restart") == "unless-stopped", name
    images = {services[name]["image"] for name in (*APP_SERVICES, "migrate")}
    assert len(images) == 1, "migrate, api, worker and beat run one image"
    assert services["api"]["depends_on"] == {
        "migrate": {"condition": "service_completed_successfully"},
        "postgres": {"condition": "service_healthy"},
        "redis": {"condition": "service_healthy"},
    }
    assert "/readyz" in " ".join(services["api"]["healthcheck"]["test"]), "the API is healthy when it is ready"
    for name in ("worker", "beat"):
        assert services[name]["depends_on"] == {"api": {"condition": "service_healthy"}}, name
    assert services["worker"]["stop_signal"] == "SIGTERM" and services["worker"]["stop_grace_period"]


def test_compose_settings_are_settings_the_service_reads() -> None:
    """A renamed setting would otherwise be ignored in production without a word."""
    known = {f"KYC_{field.upper()}" for field in Settings.model_fields}
    for name in APP_SERVICES:
        variables = set(compose()["services"][name]["environment"])
        assert variables <= known, f"{name}: unknown settings {sorted(variables - known)}"
        assert {"KYC_ENV", "KYC_DATABASE_URL", "KYC_BROKER_URL", "KYC_ENCRYPTION_KEY"} <= variables


def test_compose_secrets_are_required_not_defaulted() -> None:
    text = COMPOSE.read_text(encoding="utf-8")
    for secret in REQUIRED_SECRETS:
        assert re.search(rf"\$\{{{secret}:\?", text), f"{secret} must be required (${{{secret}:?...}})"
        assert not re.search(rf"\$\{{{secret}:-", text), f"{secret} must not have a default"
    env = compose()["services"]["api"]
    with pytest.raises(KeyError, match="KYC_ENCRYPTION_KEY"):
        service_env(env, {"POSTGRES_PASSWORD": "x", "KYC_WEBHOOK_SECRET": "y"})
    assert (
        service_env(
            env, {"POSTGRES_PASSWORD": "x", "KYC_WEBHOOK_SECRET": "y", "KYC_ENCRYPTION_KEY": "k", "KYC_AUDIT_KEY": "a"}
        )["KYC_ENV"]
        == "production"
    )


def test_dockerfile_ships_every_package_and_the_api_command() -> None:
    dockerfile = DOCKERFILE.read_text(encoding="utf-8")
    for package in ("kyc", "lists", "workers", "api", "cli"):
        assert re.search(rf"^COPY {package} \./{package}$", dockerfile, re.MULTILINE), package
    assert re.search(r"^USER kyc$", dockerfile, re.MULTILINE), "the image must not run as root"
    cmd = re.search(r"^CMD (\[.*\])$", dockerfile, re.MULTILINE)
    assert cmd is not None
    assert yaml.safe_load(cmd.group(1)) == compose()["services"]["api"]["command"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _local(command: list[str], port: int, var_dir: Path) -> list[str]:
    """The compose command with the container's port, paths and executables mapped to this machine's."""
    mapped = [part.replace("8000", str(port)).replace("/app/var", str(var_dir)) for part in command]
    mapped = ["127.0.0.1" if part == "0.0.0.0" else part for part in mapped]
    return [str(BIN / mapped[0]), *mapped[1:]]


def _healthcheck(test: list[str], port: int, var_dir: Path, env: dict[str, str]) -> bool:
    kind, *rest = test
    if kind == "CMD-SHELL":
        script = rest[0].replace("$$", "$").replace("/app/var", str(var_dir))
        script = re.sub(r"\b(python|celery)\b", lambda m: shlex.quote(str(BIN / m.group(1))), script, count=1)
        argv = ["sh", "-c", script]
    else:
        argv = _local(rest, port, var_dir)
    done = subprocess.run(argv, env=env, capture_output=True, timeout=60, check=False)
    return done.returncode == 0


@contextmanager
def _process(argv: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def _wait_healthy(name: str, service: dict[str, Any], port: int, var_dir: Path, env: dict[str, str], log: Path) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if _healthcheck(service["healthcheck"]["test"], port, var_dir, env):
            return
        time.sleep(1)
    pytest.fail(f"{name} never became healthy by its compose healthcheck; its log:\n{log.read_text()[-4000:]}")


@pytest.fixture
def stack_database() -> Iterator[str]:
    name = f"kyc_compose_{os.getpid()}"
    admin = PG_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    yield admin.rsplit("/", 1)[0] + f"/{name}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _kyc(args: list[str], env: dict[str, str]) -> str:
    done = subprocess.run([str(BIN / "kyc"), *args], env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, f"kyc {' '.join(args)} failed: {done.stdout}{done.stderr}"
    return done.stdout


@pytest.mark.slow
@pytest.mark.xdist_group("compose")
def test_compose_stack_commands_run_and_screen_a_job(stack_database: str, tmp_path: Path) -> None:
    """api, worker and beat as compose starts them (production mode, Redis broker): healthy by their own
    healthchecks, and a submitted job with a UN-listed person completes with the hit."""
    broker = re.sub(r"/\d+$", "", REDIS_URL.rstrip("/")) + "/11"
    redis.Redis.from_url(broker).flushdb()
    secrets = {
        "POSTGRES_PASSWORD": "unused-locally",
        "KYC_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "KYC_WEBHOOK_SECRET": uuid.uuid4().hex,
        "KYC_AUDIT_KEY": uuid.uuid4().hex,
    }
    services = compose()["services"]
    env = service_env(services["api"], secrets)
    # The containers' host names are this machine's services; everything else is the compose file's own value.
    assert env["KYC_DATABASE_URL"].endswith("@postgres:5432/kyc") and env["KYC_BROKER_URL"] == "redis://redis:6379/0"
    var_dir = tmp_path / "var"
    var_dir.mkdir()
    assert env["KYC_AUDIT_CHECKPOINT_DIR"] == "/app/audit-checkpoints"  # a compose volume
    env |= {
        "KYC_DATABASE_URL": stack_database,
        "KYC_BROKER_URL": broker,
        "KYC_AUDIT_CHECKPOINT_DIR": str(tmp_path / "audit-checkpoints"),
    }
    process_env = {
        "PATH": f"{BIN}:{os.environ.get('PATH', '')}",
        "HOME": str(tmp_path),
        "HOSTNAME": socket.gethostname(),  # what a container's shell has, and Celery's default node name
        **env,
    }
    port = _free_port()
    with ExitStack() as stack:
        logs = {name: tmp_path / f"{name}.log" for name in APP_SERVICES}
        stack.enter_context(_process(_local(services["api"]["command"], port, var_dir), process_env, logs["api"]))
        _wait_healthy("api", services["api"], port, var_dir, process_env, logs["api"])

        _kyc(
            ["lists", "ingest", "un_sc", "--file", str(list_file("un_sc/2026-02-27_watchman/UN_consolidated.xml"))],
            process_env,
        )
        token = _kyc(["users", "create", "onboarding-compose", "--role", "onboarding"], process_env).strip().split()[-1]

        stack.enter_context(_process(_local(services["worker"]["command"], port, var_dir), process_env, logs["worker"]))
        stack.enter_context(_process(_local(services["beat"]["command"], port, var_dir), process_env, logs["beat"]))
        _wait_healthy("worker", services["worker"], port, var_dir, process_env, logs["worker"])
        _wait_healthy("beat", services["beat"], port, var_dir, process_env, logs["beat"])

        body = {
            "client_reference": "COMPOSE-1",
            "customer": {"name": "Compose Check Oy", "business_id": "1572860-0", "country": "FI"},
            "persons": [
                {"role": "beneficial_owner", "name": "SAIF-AL-DIN AL-MASHHADANI", "ownership": 0.5},
                {"role": "representative", "name": "Maija Meikäläinen", "nationality": "FI"},
            ],
        }
        base = f"http://127.0.0.1:{port}"
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=base, headers=headers, timeout=10) as client:
            created = client.post("/v1/screenings", json=body, headers={"Idempotency-Key": uuid.uuid4().hex})
            assert created.status_code == 202, created.text
            job_id = created.json()["id"]
            deadline = time.monotonic() + 90
            status: dict[str, Any] = {}
            while time.monotonic() < deadline:
                status = client.get(f"/v1/screenings/{job_id}").json()
                if status.get("status") in {"completed", "failed"}:
                    break
                time.sleep(0.5)
        assert status.get("status") == "completed", f"{status}\nworker log:\n{logs['worker'].read_text()[-4000:]}"
        assert status["outcome"] in {"review", "match"}


def test_api_and_worker_share_one_matcher_index_volume() -> None:
    """The index is built once per list version and read by every process of the stack: api and worker mount the
    same volume where the settings keep it (``/app/var/index``, the image's ``KYC_INDEX_DIR``)."""
    services = compose()["services"]
    mounts = {name: set(services[name].get("volumes", [])) for name in ("api", "worker")}
    assert all("matcherindex:/app/var/index" in found for found in mounts.values())
    assert "matcherindex" in compose()["volumes"]
    assert "/app/var/index" in (REPO / "Dockerfile").read_text(encoding="utf-8")  # owned by the service's user
