"""The Celery application: Redis in production, an embedded filesystem broker for ``make run``.

Run in production with ``celery -A workers.app worker`` and ``celery -A workers.app beat`` (``KYC_BROKER_URL``
pointing at Redis). Without ``KYC_BROKER_URL`` the broker is kombu's filesystem transport under ``var/broker``:
no service to install, messages survive a restart, and ``kyc serve`` runs the worker and beat in threads of the
API process executing the very same task code.

Reliability settings: tasks are acknowledged only after they finish (``acks_late``) and re-queued if the worker
dies mid-task; one message is prefetched at a time so a crash strands at most one. None of this is trusted alone:
the job rows are the source of truth and the sweeper re-enqueues any job whose message went missing.
"""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

from celery import Celery
from celery.apps.worker import Worker
from celery.signals import after_setup_logger, after_setup_task_logger, worker_init

from kyc.crypto import CryptoConfigError
from kyc.keycheck import startup_check
from kyc.logs import configure as configure_logging
from kyc.settings import VAR_DIR, Settings, get_settings

app = Celery("kyc", include=["workers.tasks", "workers.monitoring", "workers.audit"])


def _redacting_logs(*_args: Any, **_kwargs: Any) -> None:
    """Worker and beat processes mask personal identity codes in every log line, like the API (kyc.logs)."""
    configure_logging()


after_setup_logger.connect(_redacting_logs, weak=False)
after_setup_task_logger.connect(_redacting_logs, weak=False)

_settings: Settings | None = None


def _refuse_wrong_keys(sender: Any = None, **_kwargs: Any) -> None:
    """``celery -A workers.app worker`` does not start with keys that cannot read the stored data or the audit
    chain (``kyc.keycheck``). Embedded and test workers are checked by whoever starts them (``kyc serve``)."""
    if not isinstance(sender, Worker):
        return
    try:
        startup_check(current_settings())
    except CryptoConfigError as exc:
        sys.stderr.write(f"error: {exc}\n")
        raise SystemExit(2) from exc  # not an Exception: the signal dispatcher would only log one


worker_init.connect(_refuse_wrong_keys, weak=False)


def current_settings() -> Settings:
    """The settings tasks run with: those given to :func:`configure`, else the environment's."""
    return _settings or get_settings()


def use_settings(settings: Settings | None) -> None:
    """Run tasks against ``settings`` without touching the broker configuration (tests switch databases)."""
    global _settings
    _settings = settings


def embedded_broker(folder: Path = VAR_DIR / "broker") -> tuple[str, dict[str, Any]]:
    queue = (folder / "queue").resolve()
    processed = (folder / "processed").resolve()
    queue.mkdir(parents=True, exist_ok=True)
    processed.mkdir(parents=True, exist_ok=True)
    options = {
        "data_folder_in": str(queue),
        "data_folder_out": str(queue),
        "processed_folder": str(processed),
        "store_processed": False,
    }
    return "filesystem://", options


def beat_schedule(settings: Settings) -> dict[str, dict[str, Any]]:
    return {
        "sweep-stale-jobs": {
            "task": "kyc.sweep",
            "schedule": timedelta(seconds=settings.sweep_interval_seconds),
        },
        "purge-expired-records": {
            "task": "kyc.purge",
            "schedule": timedelta(minutes=settings.purge_interval_minutes),
        },
        "check-list-sources": {
            "task": "kyc.check_sources",
            "schedule": timedelta(minutes=max(1, min(60, settings.ingest_interval_minutes))),
        },
        "audit-checkpoint": {  # the audit chain's end, signed, outside the database (kyc.checkpoints)
            "task": "kyc.audit.checkpoint",
            "schedule": timedelta(minutes=max(1, settings.audit_checkpoint_minutes)),
        },
        "monitoring-tick": {  # unscreened list versions, config changes, risk-based rescreens
            "task": "kyc.monitoring.tick",
            "schedule": timedelta(minutes=max(1, settings.monitoring_interval_minutes)),
        },
    }


def configure(settings: Settings | None = None, **overrides: Any) -> Celery:
    """Point the app at ``settings`` (database, broker, schedule); ``overrides`` go to ``app.conf`` last."""
    global _settings
    _settings = settings
    config = settings or get_settings()
    if config.broker_url:
        broker_url, transport_options = config.broker_url, {"visibility_timeout": 3600}
    else:
        broker_url, transport_options = embedded_broker()
    app.conf.update(
        broker_url=broker_url,
        broker_transport_options=transport_options,
        broker_connection_retry_on_startup=True,
        task_serializer="json",
        accept_content=["json"],
        task_ignore_result=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_default_queue="kyc",
        timezone="UTC",
        enable_utc=True,
        beat_schedule=beat_schedule(config),
        beat_schedule_filename=str((VAR_DIR / "celerybeat-schedule").resolve()),
        worker_hijack_root_logger=False,
    )
    app.conf.update(overrides)
    return app


configure()
