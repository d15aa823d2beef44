"""``/metrics`` in the Prometheus text format (prometheus-client), from ``kyc.metrics`` figures read at scrape time.

Every series is database-wide (the database is the source of truth), so all replicas report the same values:
scrape one, or aggregate replicas with ``max``. The screening latency histogram is the one series counted in the
process: each scrape adds the jobs completed since the previous one, so it is cumulative as Prometheus expects
from the first scrape on (a restarted replica starts again from zero, which ``rate()`` handles).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime

import structlog
from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from api.readiness import Broker
from kyc import metrics
from kyc.settings import Settings
from kyc.storage.base import utcnow
from kyc.storage.db import transaction

log = structlog.get_logger(__name__)

LATENCY_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, float("inf"))


class _Figures(Collector):
    def __init__(self, exporter: MetricsExporter) -> None:
        self.exporter = exporter

    def collect(self) -> Iterator[Metric]:
        yield from self.exporter.figures()


class MetricsExporter:
    """One per application: its own registry (tests create many apps), the latency histogram and its watermark."""

    def __init__(self, broker: Broker | None) -> None:
        self.broker = broker
        self.registry = CollectorRegistry(auto_describe=False)
        self.latency = Histogram(
            "kyc_screening_latency_seconds",
            "Seconds from submission to completion of screening jobs (observed at scrape time).",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self._watermark: datetime = utcnow()
        self._settings: Settings | None = None
        self._lock = threading.Lock()
        self.registry.register(_Figures(self))

    def render(self, settings: Settings) -> bytes:
        with self._lock:  # one scrape at a time: the watermark moves once per batch
            self._settings = settings
            with transaction(settings.database_url) as session:
                values, self._watermark = metrics.latencies_since(session, self._watermark)
            for value in values:
                self.latency.observe(value)
            return generate_latest(self.registry)

    def figures(self) -> Iterator[Metric]:
        settings = self._settings
        if settings is None:
            return
        with transaction(settings.database_url) as session:
            found = metrics.figures(session, settings)
        jobs = GaugeMetricFamily("kyc_jobs", "Screening jobs by status.", labels=["status"])
        for status, count in found.jobs.items():
            jobs.add_metric([status], count)
        yield jobs
        yield GaugeMetricFamily("kyc_queue_depth", "Jobs queued in the database.", value=found.jobs.get("queued", 0))
        yield GaugeMetricFamily(
            "kyc_queue_oldest_age_seconds",
            "Age of the oldest queued job (0 when none).",
            value=found.oldest_queued_seconds,
        )
        if self.broker is not None:
            try:
                depth: float = self.broker.queue_depth()
            except Exception as exc:
                log.warning("metrics.broker", error=type(exc).__name__)
                depth = float("nan")
            yield GaugeMetricFamily("kyc_broker_queue_depth", "Messages waiting on the broker.", value=depth)
        published = GaugeMetricFamily(
            "kyc_list_age_since_publication_seconds",
            "Seconds since the active version's publication date, per source.",
            labels=["source"],
        )
        fetched = GaugeMetricFamily(
            "kyc_list_age_since_fetch_seconds",
            "Seconds since the active version was fetched, per source.",
            labels=["source"],
        )
        for source_age in found.lists:
            if source_age.since_publication is not None:
                published.add_metric([source_age.source], source_age.since_publication)
            fetched.add_metric([source_age.source], source_age.since_fetch)
        yield published
        yield fetched
        deliveries = GaugeMetricFamily(
            "kyc_webhook_deliveries", "Webhook delivery attempts kept, by result.", labels=["result"]
        )
        for result, count in found.deliveries.items():
            deliveries.add_metric([result], count)
        yield deliveries
        age = found.checkpoint_age_seconds
        yield GaugeMetricFamily(
            "kyc_audit_checkpoint_age_seconds",
            "Seconds since the newest signed audit checkpoint (NaN: none, or none that verifies).",
            value=float("nan") if age is None else age,
        )
