"""A real HTTP server on 127.0.0.1 serving list files, with ETag/Last-Modified support and a request log."""

from __future__ import annotations

import hashlib
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


@dataclass
class Served:
    files: dict[str, Path]
    statuses: list[int] = field(default_factory=list)
    fail_next: int = 0
    """Answer this many requests with 503 before serving normally (retry tests)."""

    base_url: str = ""

    def url(self, name: str) -> str:
        return f"{self.base_url}/{name}"


@contextmanager
def running_server(
    handler: type[BaseHTTPRequestHandler], tls: ssl.SSLContext | None = None
) -> Iterator[ThreadingHTTPServer]:
    """A real server on an ephemeral 127.0.0.1 port in a daemon thread, shut down on exit."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def serve_files(files: dict[str, Path]) -> Iterator[Served]:
    served = Served(files)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if served.fail_next > 0:
                served.fail_next -= 1
                self._status(503)
                return
            path = served.files.get(self.path.lstrip("/"))
            if path is None:
                self._status(404)
                return
            data = path.read_bytes()
            etag = '"' + hashlib.sha256(data).hexdigest()[:32] + '"'
            modified = formatdate(path.stat().st_mtime, usegmt=True)
            if self.headers.get("If-None-Match") == etag:
                self._status(304, {"ETag": etag})
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("ETag", etag)
            self.send_header("Last-Modified", modified)
            self.end_headers()
            self.wfile.write(data)
            served.statuses.append(200)

        def _status(self, code: int, headers: dict[str, str] | None = None) -> None:
            self.send_response(code)
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.send_header("Content-Length", "0")
            self.end_headers()
            served.statuses.append(code)

        def log_message(self, *args: object) -> None:
            pass

    with running_server(Handler) as server:
        served.base_url = f"http://127.0.0.1:{server.server_address[1]}"
        yield served
