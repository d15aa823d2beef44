"""Publishing screening jobs from the API: the cheap path for the submission hot path.

``screen_job_task.delay(job_id)`` costs about 0.25 ms of CPU per call (router, producer-pool acquire and release,
publish signals, the retry wrapper), the largest single item of a submission after the database. The API publishes
one kind of message to one queue, so :class:`ScreeningPublisher` keeps one kombu producer per thread and builds the
very message ``delay`` would (Celery protocol 2, ``app.amqp.as_task_v2``), sent straight to the queue (the anonymous
exchange with the queue's name as routing key — no binding look-up): about half the CPU, and the worker consumes
it unchanged.

A failed publish drops the thread's connection (the next call reconnects) and raises: the API logs it and the
sweeper re-enqueues the job from its database row, which is committed before anything is published.

A broker outage must not throttle intake: the row is already the source of truth. So the publisher's connection
gives up fast (``PUBLISH_TIMEOUT_SECONDS`` to connect or send, no reconnect loop — kombu's default loop blocked a
submission about 6 s), and after a failure the publisher stops trying for ``BROKER_COOLDOWN_SECONDS``: submissions
in that window raise :class:`BrokerUnavailable` at once, without touching the network, and the sweeper publishes
their jobs once the broker is back.
"""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from typing import Any

from celery import Celery
from kombu.exceptions import ChannelError

from workers.app import app
from workers.tasks import screen_job_task

SCREEN_TASK: str = screen_job_task.name
"""The task the worker registered (one name, defined with the task)."""

PUBLISH_TIMEOUT_SECONDS = 1.0
BROKER_COOLDOWN_SECONDS = 2.0


class BrokerUnavailable(ConnectionError):
    """The broker failed moments ago; not tried again until the cool-down ends (the sweeper has the job)."""


class ScreeningPublisher:
    """``publisher(job_id)`` queues ``kyc.screen_job(job_id)``; thread-safe (one connection per thread)."""

    def __init__(
        self,
        celery: Celery = app,
        task_name: str = SCREEN_TASK,
        *,
        timeout: float = PUBLISH_TIMEOUT_SECONDS,
        cooldown: float = BROKER_COOLDOWN_SECONDS,
    ) -> None:
        self._celery = celery
        self._task_name = task_name
        self._local = threading.local()
        self._timeout = timeout
        self._cooldown = cooldown
        self._failed_until = 0.0  # shared by the threads: one failure spares the others the wait

    def __call__(self, job_id: str) -> None:
        if time.monotonic() < self._failed_until:
            raise BrokerUnavailable("the broker failed moments ago; the sweeper will publish this job")
        try:
            self._publish(job_id)
        except Exception:
            self._failed_until = time.monotonic() + self._cooldown
            raise

    def _publish(self, job_id: str) -> None:
        producer = self._producer()
        args = (job_id,)
        task_id = str(uuid.uuid4())
        message = self._celery.amqp.as_task_v2(
            task_id,
            self._task_name,
            args=args,
            kwargs={},
            argsrepr=repr(args),
            kwargsrepr="{}",
            ignore_result=bool(self._celery.conf.task_ignore_result),
        )
        try:
            producer.publish(
                message.body,
                exchange="",
                routing_key=self._celery.conf.task_default_queue,
                serializer="json",
                headers=message.headers,
                retry=False,
                **message.properties,
            )
        except Exception:
            self.close()
            raise

    def _producer(self) -> Any:
        """This thread's producer, on a connection to the currently configured broker (tests reconfigure it)."""
        url = self._celery.conf.broker_url
        current: tuple[str, Any, Any] | None = getattr(self._local, "producer", None)
        if current is not None and current[0] == url:
            return current[2]
        self.close()
        options = dict(self._celery.conf.broker_transport_options or {})
        options.update(
            max_retries=0,  # no reconnect loop inside a request
            socket_connect_timeout=self._timeout,
            socket_timeout=self._timeout,
        )
        connection = self._celery.connection_for_write(transport_options=options, connect_timeout=self._timeout)
        producer = self._celery.amqp.Producer(connection)
        self._local.producer = (url, connection, producer)
        return producer

    def close(self) -> None:
        """Release this thread's connection (after a failure, or when the broker changed)."""
        current: tuple[str, Any, Any] | None = getattr(self._local, "producer", None)
        self._local.producer = None
        if current is not None:
            with contextlib.suppress(Exception):  # already broken: nothing left to release
                current[1].release()


publish_screening = ScreeningPublisher()
"""The API's enqueue function (``kyc serve`` passes it to ``api.app.create_app``)."""


class BrokerProbe:
    """What ``/readyz`` and ``/metrics`` ask the broker: is it there, and how many messages wait in the queue.
    A fresh short-timeout connection per question (they come every few seconds, not per request)."""

    def __init__(self, celery: Celery = app, timeout: float = PUBLISH_TIMEOUT_SECONDS) -> None:
        self._celery = celery
        self._timeout = timeout

    def _connection(self) -> Any:
        options = dict(self._celery.conf.broker_transport_options or {})
        options.update(
            max_retries=0, interval_start=0, socket_connect_timeout=self._timeout, socket_timeout=self._timeout
        )
        return self._celery.connection_for_read(transport_options=options, connect_timeout=self._timeout)

    def ping(self) -> None:
        """Raises when the broker cannot be reached within the timeout."""
        with self._connection() as connection:
            connection.ensure_connection(max_retries=0, interval_start=0, timeout=self._timeout)
            channel = connection.default_channel
            client = getattr(channel, "client", None)
            if client is not None and hasattr(client, "ping"):
                client.ping()

    def queue_depth(self) -> int:
        """Messages waiting in the screening queue (not those a worker holds unacknowledged)."""
        with self._connection() as connection:
            queue = self._celery.conf.task_default_queue
            try:
                declared = connection.default_channel.queue_declare(queue=queue, passive=True)
            except ChannelError:  # no worker declared the queue yet: nothing waits in it
                return 0
            return int(declared.message_count)
