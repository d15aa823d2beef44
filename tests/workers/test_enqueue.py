"""A broker that is down or hangs never throttles intake: the publisher gives up within its timeout, then stops
trying for a cool-down, and the submissions are accepted at full speed as queued rows the sweeper will publish."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Iterator

import pytest
from celery import Celery
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from api.app import create_app
from kyc.access import Role
from kyc.settings import Settings
from kyc.storage.db import transaction
from kyc.storage.jobs import ScreeningJob
from tests.support.live import free_port
from tests.support.service import business_id, make_token
from workers.enqueue import BrokerUnavailable, ScreeningPublisher

pytestmark = pytest.mark.usefixtures("encryption_key")


@pytest.fixture
def silent_broker() -> Iterator[str]:
    """A TCP port that accepts connections and never answers: a hung broker (a refused one fails faster)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(128)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"redis://127.0.0.1:{server.getsockname()[1]}/0"
    stop.set()
    thread.join(5)
    for conn in held:
        conn.close()
    server.close()


def _celery(broker_url: str) -> Celery:
    """A Celery app of the test's own: the suite's worker keeps the shared app's broker."""
    return Celery("enqueue-test", broker=broker_url, set_as_current=False)


@pytest.mark.parametrize("broker", ["silent", "refused"])
def test_the_publisher_gives_up_within_its_timeout_then_fails_at_once(broker: str, silent_broker: str) -> None:
    url = silent_broker if broker == "silent" else f"redis://127.0.0.1:{free_port()}/0"
    publish = ScreeningPublisher(_celery(url), timeout=0.5, cooldown=30)
    started = time.monotonic()
    with pytest.raises(Exception):  # the transport's own error
        publish("job-1")
    assert time.monotonic() - started < 2.0
    started = time.monotonic()
    for n in range(100):
        with pytest.raises(BrokerUnavailable):
            publish(f"job-{n}")
    assert time.monotonic() - started < 0.1


def test_submissions_are_accepted_at_full_speed_while_the_broker_hangs(db_url: str, silent_broker: str) -> None:
    publish = ScreeningPublisher(_celery(silent_broker), timeout=0.5)
    token = make_token(db_url, Role.ONBOARDING)
    app = create_app(Settings(database_url=db_url), enqueue=publish)
    started = time.monotonic()
    with TestClient(app) as client:
        for n in range(20):
            response = client.post(
                "/v1/screenings",
                json={"customer": {"name": f"Jono {n} Oy", "business_id": business_id(3_000_000 + n), "country": "FI"}},
                headers={"Authorization": f"Bearer {token}", "Idempotency-Key": uuid.uuid4().hex},
            )
            assert response.status_code == 202, response.text
    assert time.monotonic() - started < 5  # one timeout at most, not 20 (the old path blocked about 6 s each)
    with transaction(db_url) as session:
        queued = session.execute(select(func.count()).where(ScreeningJob.status == "queued")).scalar_one()
    assert queued == 20  # rows the sweeper will publish once the broker is back
