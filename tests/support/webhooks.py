"""A webhook receiver on 127.0.0.1 that verifies signatures as a real client would."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from kyc import webhooks
from tests.support.httpserver import running_server
from tests.support.service import WEBHOOK_SECRET


@dataclass
class Receiver:
    """A callback endpoint that verifies the HMAC like a real receiver would; fails the first ``fail`` calls."""

    fail: int = 0
    received: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    calls: int = 0
    url: str = ""


@contextmanager
def receiver(fail: int = 0, client: str = "u1") -> Iterator[Receiver]:
    """A client's endpoint verifying with that client's own secret (``client``: the submitting user id)."""
    state = Receiver(fail=fail)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            state.calls += 1
            try:
                webhooks.verify(
                    webhooks.client_secret(WEBHOOK_SECRET, client, 1),  # the submitting client's own secret
                    body,
                    self.headers.get(webhooks.SIGNATURE_HEADER),
                    delivery_id=self.headers.get(webhooks.DELIVERY_HEADER),
                )
            except webhooks.SignatureError as exc:
                state.rejected.append(str(exc))
                self._reply(401)
                return
            if state.calls <= state.fail:
                self._reply(503)
                return
            state.received.append({"body": json.loads(body), "delivery": self.headers.get(webhooks.DELIVERY_HEADER)})
            self._reply(204)

        def _reply(self, code: int) -> None:
            self.send_response(code)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    with running_server(Handler) as server:
        state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/kyc"
        yield state
