"""One callback POST with hard limits: to the checked addresses only, within a wall-clock deadline, 4 KB answer.

httpx's timeouts apply to each socket operation, so a receiver that trickles one byte just inside the read timeout
could hold a worker forever, and ``client.post`` buffers any size of answer. Here every socket operation (connect,
TLS handshake, write, read) gets at most what is left of one overall deadline, and only the first
``MAX_RESPONSE_BYTES`` of the answer are read (in reads of that size) — the status code is all the worker needs.

The connection goes to the addresses ``kyc.webhooks.check_callback_url`` resolved and checked, never to a second
DNS answer (no rebinding between the check and the connect); ``Host`` and TLS SNI/certificate checks still use the
URL's host name. Proxies from the environment are ignored: they would connect somewhere unchecked.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Iterable, Mapping
from typing import Any

import httpcore
import httpx

from kyc.webhooks import CallbackTarget

MAX_RESPONSE_BYTES = 4096


class _DeadlineStream(httpcore.NetworkStream):
    """A socket whose every operation is bounded by the time left until ``deadline`` (``time.monotonic``)."""

    def __init__(self, inner: httpcore.NetworkStream, deadline: float) -> None:
        self._inner = inner
        self._deadline = deadline

    def _left(self, timeout: float | None, error: type[Exception]) -> float:
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise error("callback deadline passed")
        return left if timeout is None else min(timeout, left)

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(min(max_bytes, MAX_RESPONSE_BYTES), self._left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, self._left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        inner = self._inner.start_tls(ssl_context, server_hostname, self._left(timeout, httpcore.ConnectTimeout))
        return _DeadlineStream(inner, self._deadline)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _PinnedBackend(httpcore.NetworkBackend):
    """Connects to the checked addresses in order, whatever host name httpcore asks for."""

    def __init__(self, addresses: tuple[str, ...], deadline: float) -> None:
        self._addresses = addresses
        self._deadline = deadline
        self._backend = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        error: Exception = httpcore.ConnectError(f"no address to connect to for {host}")
        for address in self._addresses:
            left = self._deadline - time.monotonic()
            if left <= 0:
                raise httpcore.ConnectTimeout("callback deadline passed")
            try:
                stream = self._backend.connect_tcp(
                    address, port, min(timeout or left, left), local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
                continue
            return _DeadlineStream(stream, self._deadline)
        raise error

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("callbacks never use unix sockets")

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class _PinnedTransport(httpx.HTTPTransport):
    """httpx's transport (exception mapping, streaming) over a connection pool with the pinned backend."""

    def __init__(self, addresses: tuple[str, ...], deadline: float, ssl_context: ssl.SSLContext | None) -> None:
        super().__init__(trust_env=False)
        # httpx offers no public hook for the network backend; the pool is replaced with one that has it.
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl_context or httpx.create_ssl_context(trust_env=False),
            max_connections=1,
            network_backend=_PinnedBackend(addresses, deadline),
        )


def post(
    target: CallbackTarget,
    body: bytes,
    headers: Mapping[str, str],
    deadline_seconds: float,
    ssl_context: ssl.SSLContext | None = None,
) -> int:
    """POST ``body`` to ``target``; the response status. Raises ``httpx.HTTPError`` (a timeout past the deadline).
    ``ssl_context`` defaults to certificate verification against the certifi CAs."""
    deadline = time.monotonic() + deadline_seconds
    transport = _PinnedTransport(target.addresses, deadline, ssl_context)
    with (
        httpx.Client(transport=transport, timeout=deadline_seconds, follow_redirects=False, trust_env=False) as client,
        client.stream("POST", target.url, content=body, headers=dict(headers)) as response,
    ):
        received = 0
        for chunk in response.iter_raw():
            received += len(chunk)
            if received >= MAX_RESPONSE_BYTES:
                break
        return response.status_code
