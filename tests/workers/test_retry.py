"""A screening interrupted by a database outage is retried even though the database cannot be told: the retry is
scheduled on the broker first, and showing the job as queued again is only best effort."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from structlog.testing import capture_logs

from kyc.settings import Settings
from tests.support.live import free_port
from workers.app import use_settings
from workers.tasks import SCREEN_RETRIES, screen_job_task


@pytest.fixture
def database_down() -> Iterator[Settings]:
    settings = Settings(database_url=f"postgresql://postgres@127.0.0.1:{free_port()}/kyc")
    use_settings(settings)
    yield settings
    use_settings(None)


def test_a_database_outage_mid_screening_still_schedules_every_retry(database_down: Settings) -> None:
    with capture_logs() as logs:
        result = screen_job_task.apply(args=("job-during-outage",))  # eager: the retries run here, at once
    events = [entry["event"] for entry in logs]
    assert events.count("screening.retry") == SCREEN_RETRIES
    assert events.count("screening.requeue_failed") == SCREEN_RETRIES
    assert result.state == "FAILURE"  # only after the last retry, and still without a database to record it
