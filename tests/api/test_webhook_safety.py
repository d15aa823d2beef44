"""Callbacks cannot be aimed at the service's own network (SSRF), cannot hold a worker, and the API refuses
anonymous or oversized requests before reading them. Real sockets on 127.0.0.1 throughout: no mocked HTTP."""

from __future__ import annotations

import socket
import ssl
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import func, select

from api.app import create_app
from kyc import webhooks
from kyc.access import Role
from kyc.outbox import notification_id, pending_notification
from kyc.settings import Settings
from kyc.storage.db import transaction
from kyc.storage.jobs import ScreeningJob
from kyc.submission import CustomerSpec, JobSpec, PersonSpec, create_job
from kyc.webhooks import CallbackTarget
from tests.support.httpserver import running_server
from tests.support.service import WEBHOOK_SECRET, make_token
from workers.delivery import MAX_RESPONSE_BYTES, post
from workers.tasks import deliver_once

METADATA = "https://169.254.169.254/latest/meta-data"


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        (METADATA, "link-local"),
        ("https://127.0.0.1:6379/", "loopback"),
        ("https://[::ffff:127.0.0.1]/x", "loopback"),
        ("https://10.1.2.3/x", "private"),
        ("https://0.0.0.0/x", "unspecified"),
        ("https://224.0.0.1/x", "multicast"),
        ("https://u:pw@hooks.example/x", "credentials"),
        ("http://93.184.215.14/x", "https"),
        ("https://localhost/x", "loopback"),
        ("https://[2002:a00:1::1]/x", "6to4"),  # 6to4 of 10.0.0.1
        ("https://[2002:7f00:1::1]/x", "6to4"),  # of 127.0.0.1
        ("https://[2002:5db8:d70e::1]/x", "6to4"),  # even of a public address: relays are not to be trusted
        ("https://[2001:0:4136:e378:8000:63bf:f5ff:fffe]/x", "Teredo"),  # client 10.0.0.1
        ("https://[64:ff9b::a00:1]/x", "NAT64 address of a private"),
        ("https://[64:ff9b::7f00:1]/x", "NAT64 address of a loopback"),
    ],
)
def test_callback_url_to_a_non_public_place_is_refused(url: str, reason: str) -> None:
    with pytest.raises(webhooks.CallbackRefused, match=reason):
        webhooks.check_callback_url(url)


def test_public_address_passes_and_private_networks_only_by_explicit_setting() -> None:
    public = webhooks.check_callback_url("https://93.184.215.14:8443/hooks")
    assert (public.host, public.port, public.addresses) == ("93.184.215.14", 8443, ("93.184.215.14",))
    local = webhooks.check_callback_url("http://127.0.0.1:8080/x", allow_http=True, allow_private=True)
    assert local.addresses == ("127.0.0.1",)
    with pytest.raises(webhooks.CallbackUnresolvable):
        webhooks.check_callback_url("https://no-such-host.invalid/x")


# --- the API: 422 for callbacks, 401 before the body, 413 ----------------------------------------------------------


def request_body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "customer": {"name": "Esimerkki Oy", "business_id": "1572860-0", "country": "FI"},
        "persons": [{"role": "representative", "name": "Aino Mäkinen", "birth_date": "1990-01-31"}],
    }
    body.update(changes)
    return body


@pytest.fixture
def api(settings: Settings) -> Iterator[tuple[TestClient, dict[str, str]]]:
    token = make_token(settings.database_url, Role.ONBOARDING)
    with TestClient(create_app(settings)) as client:  # no broker: accepted jobs just wait
        yield client, {"Authorization": f"Bearer {token}", "Idempotency-Key": str(uuid.uuid4())}


def _jobs(settings: Settings) -> int:
    with transaction(settings.database_url) as session:
        return int(session.scalar(select(func.count()).select_from(ScreeningJob)) or 0)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        (METADATA, "non-public address (link-local)"),
        ("https://127.0.0.1:6379/", "non-public address (loopback)"),
        ("https://u:pw@hooks.example/x", "must not contain user credentials"),
    ],
)
def test_submission_refuses_ssrf_callbacks_with_422_naming_callback_url(
    api: tuple[TestClient, dict[str, str]], settings: Settings, url: str, reason: str
) -> None:
    client, headers = api
    response = client.post("/v1/screenings", json=request_body(callback_url=url), headers=headers)
    assert response.status_code == 422, response.text
    errors = response.json()["errors"]
    assert [e["field"] for e in errors] == ["callback_url"] and reason in errors[0]["reason"]
    assert "pw@" not in response.text
    assert _jobs(settings) == 0


def test_private_callback_is_accepted_only_when_the_setting_allows_it(settings: Settings) -> None:
    allowed = settings.model_copy(update={"webhook_allow_http": True, "webhook_allow_private_networks": True})
    token = make_token(settings.database_url, Role.ONBOARDING)
    with TestClient(create_app(allowed)) as client:
        response = client.post(
            "/v1/screenings",
            json=request_body(callback_url="http://127.0.0.1:8080/hooks"),
            headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "private-ok"},
        )
    assert response.status_code == 202, response.text


def test_persons_limit_comes_from_settings(settings: Settings) -> None:
    limited = settings.model_copy(update={"max_persons": 2})
    token = make_token(settings.database_url, Role.ONBOARDING)
    person = {"role": "representative", "name": "Aino Mäkinen"}
    with TestClient(create_app(limited)) as client:
        headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": "limit"}
        refused = client.post("/v1/screenings", json=request_body(persons=[person] * 3), headers=headers)
        accepted = client.post("/v1/screenings", json=request_body(persons=[person] * 2), headers=headers)
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "persons"
    assert "at most 2 persons" in refused.text
    assert accepted.status_code == 202


def test_rejected_country_codes_are_not_echoed(api: tuple[TestClient, dict[str, str]]) -> None:
    client, headers = api
    body = request_body(persons=[{"role": "representative", "name": "Aino Mäkinen", "nationality": "QZ"}])
    body["customer"]["country"] = "XQ"
    response = client.post("/v1/screenings", json=body, headers=headers)
    assert response.status_code == 422
    assert {e["field"] for e in response.json()["errors"]} == {"customer.country", "persons.0.nationality"}
    assert "XQ" not in response.text and "QZ" not in response.text


def test_anonymous_request_gets_401_before_its_body_is_parsed(api: tuple[TestClient, dict[str, str]]) -> None:
    client, _headers = api
    malformed = client.post("/v1/screenings", content=b"{not json", headers={"Content-Type": "application/json"})
    assert malformed.status_code == 401 and malformed.headers["WWW-Authenticate"] == "Bearer"
    basic = client.post("/v1/screenings", content=b"{}", headers={"Authorization": "Basic dTpw"})
    assert basic.status_code == 401
    assert client.get("/v1/screenings/x", headers={"Authorization": "Bearer "}).status_code == 401
    assert client.get("/healthz").status_code == 200  # open, as DESIGN.md says


def test_bodies_over_the_limit_get_413_announced_or_streamed(settings: Settings) -> None:
    small = settings.model_copy(update={"max_request_bytes": 1000})
    token = make_token(settings.database_url, Role.ONBOARDING)
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": "big", "Content-Type": "application/json"}
    with TestClient(create_app(small)) as client:
        announced = client.post("/v1/screenings", content=b" " * 1001, headers=headers)
        streamed = client.post("/v1/screenings", content=iter([b" " * 600, b" " * 600]), headers=headers)
        fits = client.post("/v1/screenings", json=request_body(), headers=headers)
    assert announced.status_code == 413 and announced.json()["code"] == "payload_too_large"
    assert streamed.status_code == 413
    assert fits.status_code == 202, fits.text
    assert _jobs(settings) == 1


# --- send time: checked again, bounded in time and size -------------------------------------------------------------


@contextmanager
def raw_server(handle: Any) -> Iterator[tuple[str, list[int]]]:
    """A plain TCP server on 127.0.0.1 running ``handle(conn)`` per connection; yields its URL and a call count."""
    listener = socket.create_server(("127.0.0.1", 0))
    calls: list[int] = []
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            calls.append(1)
            threading.Thread(target=_run, args=(handle, conn, stop), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/hooks", calls
    finally:
        stop.set()
        thread.join(2)
        listener.close()


def _run(handle: Any, conn: socket.socket, stop: threading.Event) -> None:
    with conn:
        conn.recv(65536)
        with suppress(OSError):
            handle(conn, stop)


def trickle(conn: socket.socket, stop: threading.Event) -> None:
    """One byte of a never-ending header every 0.2 s: each read succeeds well within any read timeout."""
    conn.sendall(b"HTTP/1.1 200 OK\r\n")
    while not stop.wait(0.2):
        conn.sendall(b"X")


def flood(conn: socket.socket, stop: threading.Event) -> None:
    """200 OK with an endless body."""
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000000\r\n\r\n")
    chunk = b"x" * 65536
    while not stop.is_set():
        conn.sendall(chunk)


def job_with_callback(settings: Settings, url: str) -> str:
    spec = JobSpec(
        customer=CustomerSpec(name="Esimerkki Oy", country="FI", business_id="1572860-0"),
        persons=(PersonSpec("representative", "Aino Mäkinen"),),
        callback_url=url,
    )
    with transaction(settings.database_url) as session:
        job, _ = create_job(session, spec, submitted_by="u1", idempotency_key=str(uuid.uuid4()), retention_years=5)
        job.status, job.outcome = "completed", "clear"
        return job.id


def sender(settings: Settings, **changes: Any) -> Settings:
    values: dict[str, Any] = {
        "webhook_secret": SecretStr(WEBHOOK_SECRET),
        "webhook_allow_http": True,
        "webhook_allow_private_networks": True,
        "webhook_timeout_seconds": 1.0,
    }
    values.update(changes)
    return settings.model_copy(update=values)


def test_a_trickling_receiver_cannot_hold_the_worker_past_the_deadline(settings: Settings) -> None:
    hooks = sender(settings)
    with raw_server(trickle) as (url, calls):
        job_id = job_with_callback(hooks, url)
        started = time.monotonic()
        row = deliver_once(hooks, job_id, str(uuid.uuid4()), 1)
        elapsed = time.monotonic() - started
    assert calls == [1]
    assert row is not None and row.status == "failed" and row.error == "ReadTimeout"
    assert elapsed < 2.0, elapsed  # 1 s deadline (+ the database round trips), not "as long as bytes trickle"


def test_an_endless_answer_is_read_only_up_to_the_limit(settings: Settings) -> None:
    hooks = sender(settings, webhook_timeout_seconds=5.0)
    with raw_server(flood) as (url, _calls):
        job_id = job_with_callback(hooks, url)
        started = time.monotonic()
        row = deliver_once(hooks, job_id, str(uuid.uuid4()), 1)
        elapsed = time.monotonic() - started
    assert row is not None and (row.status, row.response_status) == ("delivered", 200)
    assert elapsed < 2.0 and MAX_RESPONSE_BYTES == 4096


def test_a_stored_private_callback_is_refused_at_send_time_without_connecting(settings: Settings) -> None:
    """Submitted while private networks were allowed (or its DNS changed since): the worker checks again."""
    with raw_server(flood) as (url, calls):
        job_id = job_with_callback(settings, url)
        row = deliver_once(sender(settings, webhook_allow_private_networks=False), job_id, str(uuid.uuid4()), 1)
    assert row is not None and row.status == "abandoned" and row.response_status is None  # no retries either
    assert row.error == "refused: callback_url host resolves to a non-public address (loopback)"
    assert calls == []
    metadata = job_with_callback(settings, METADATA)
    refused = deliver_once(sender(settings, webhook_allow_private_networks=False), metadata, str(uuid.uuid4()), 1)
    assert refused is not None and refused.status == "abandoned" and "link-local" in (refused.error or "")


# --- which notification a job owes -----------------------------------------------------------------------------------


def test_a_changed_outcome_or_a_failure_owes_a_new_notification(settings: Settings) -> None:
    job_id = job_with_callback(settings, "https://93.184.215.14/hooks")
    with transaction(settings.database_url) as session:
        job = session.get(ScreeningJob, job_id)
        assert job is not None
        first = pending_notification(job, [])
        assert first == notification_id(job, 0)
        assert pending_notification(job, [first]) is None  # announced: nothing owed
        job.outcome = "match"  # an officer's decision
        second = pending_notification(job, [first])
        assert second is not None and second != first
        job.outcome = "clear"  # and back: still a new notification, not the first one again
        third = pending_notification(job, [first, second])
        assert third not in (None, first, second)
        job.status, job.outcome = "failed", None
        assert pending_notification(job, [first, second, third]) is not None
        job.status = "running"
        assert pending_notification(job, []) is None  # nothing to announce before it finishes


def _self_signed(tmp_path: Path, host: str) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=1))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_file, key_file


def test_https_goes_to_the_checked_address_and_verifies_the_certificate_for_the_url_host(tmp_path: Path) -> None:
    """Pinned to 127.0.0.1 whatever the name resolves to now, yet TLS and Host are for the name in the URL."""
    cert_file, key_file = _self_signed(tmp_path, "hooks.kyc.test")
    hosts: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            hosts.append(self.headers.get("Host", ""))
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert_file, key_file)
    with running_server(Handler, tls=server_context) as server:
        port = server.server_address[1]
        trusting = ssl.create_default_context(cafile=str(cert_file))
        good = CallbackTarget(f"https://hooks.kyc.test:{port}/x", "hooks.kyc.test", port, ("127.0.0.1",))
        assert post(good, b"{}", {}, 3.0, trusting) == 204
        assert hosts == [f"hooks.kyc.test:{port}"]
        other = CallbackTarget(f"https://other.kyc.test:{port}/x", "other.kyc.test", port, ("127.0.0.1",))
        with pytest.raises(httpx.ConnectError, match="Hostname mismatch"):
            post(other, b"{}", {}, 3.0, trusting)
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            post(good, b"{}", {}, 3.0)  # the default context trusts only real CAs
