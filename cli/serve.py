"""``kyc serve``: the HTTP API, with an embedded worker and scheduler unless a real broker is configured.

With ``KYC_BROKER_URL`` unset this is ``make run``: SQLite, a filesystem broker, worker and beat in threads — no
external services. With it set (production, docker-compose) the API only enqueues; ``celery -A workers.app worker``
and ``beat`` run as their own processes. ``--embedded/--no-embedded`` overrides the choice.
"""

from __future__ import annotations

from typing import Annotated

import typer
import uvicorn
from fastapi import FastAPI

from api.app import create_app
from cli.common import fail, settings
from kyc import crypto, keycheck
from kyc.settings import Settings, get_settings
from workers.app import configure
from workers.embedded import EmbeddedWorkers
from workers.enqueue import BrokerProbe, publish_screening
from workers.monitoring import delta_task
from workers.tasks import notify_outcome_task

DRAIN_SECONDS = 25
"""On SIGTERM uvicorn stops accepting and lets the requests in flight finish for this long (compose gives 30 s)."""


def enqueue_screening(job_id: str) -> None:
    publish_screening(job_id)  # what screen_job_task.delay(job_id) sends, at half the CPU (workers.enqueue)


def start_delta(version_id: int) -> None:
    delta_task.delay(version_id)


def announce_outcome(job_id: str) -> None:
    notify_outcome_task.delay(job_id)


def build_app(config: Settings) -> FastAPI:
    """The API wired to the workers: jobs are enqueued at once, and an approved list version is delta-screened
    at once (the monitoring tick would also find it, minutes later)."""
    broker = BrokerProbe() if config.broker_url else None  # embedded: no broker to ask
    app = create_app(config, enqueue_screening, broker=broker)
    app.state.on_version_activated = start_delta
    app.state.on_outcome_changed = announce_outcome  # a decision's outcome change reaches the webhook in seconds
    return app


def app_factory() -> FastAPI:
    """The API from the environment's settings, for ``uvicorn cli.serve:app_factory --factory`` (one per process)."""
    config = get_settings()
    keycheck.startup_check(config)  # raises: a process with keys that cannot read the data does not serve
    configure(config)
    return build_app(config)


def serve_command(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    embedded: Annotated[
        bool | None, typer.Option("--embedded/--no-embedded", help="Run worker and beat in this process.")
    ] = None,
    concurrency: Annotated[int, typer.Option(help="Embedded worker threads.")] = 2,
    workers: Annotated[int, typer.Option(help="API processes (only without the embedded worker).")] = 1,
) -> None:
    """Serve the API (OpenAPI at /docs); embedded worker and scheduler when no broker is configured."""
    config = settings()
    try:
        keycheck.startup_check(config)  # keys missing (production), or unable to read the data or the audit chain
    except crypto.CryptoConfigError as exc:
        fail(str(exc))
    configure(config)
    run_embedded = embedded if embedded is not None else config.broker_url is None
    if workers > 1:
        if run_embedded:
            fail("--workers needs a real broker (KYC_BROKER_URL) and --no-embedded")
        uvicorn.run(
            "cli.serve:app_factory",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level="warning",
            timeout_graceful_shutdown=DRAIN_SECONDS,
        )
        return
    background = EmbeddedWorkers(concurrency=concurrency) if run_embedded else None
    if background is not None:
        background.start()
    try:
        uvicorn.run(
            build_app(config), host=host, port=port, log_level="info", timeout_graceful_shutdown=DRAIN_SECONDS
        )
    finally:
        if background is not None:
            background.stop()
