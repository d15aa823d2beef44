"""Callback signatures cover timestamp, delivery id and body, with a secret per onboarding client.

The end-to-end tests send real deliveries (``workers.tasks.deliver_once``) to the real local receiver in
``tests/httpserver.py``, which verifies them the way the README tells a client to, with the secret printed by
``kyc webhooks secret NAME``.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import select
from typer.testing import CliRunner

from cli.main import app as cli_app
from kyc import webhooks
from kyc.access import Role, create_user, revoke_user
from kyc.settings import Settings, get_settings
from kyc.storage.access import AuditLog
from kyc.storage.base import utcnow
from kyc.storage.db import transaction
from kyc.submission import CustomerSpec, JobSpec, PersonSpec, create_job
from tests.support.httpserver import running_server
from workers.tasks import deliver_once

MASTER = "test-master-webhook-secret-not-for-production"
BODY = webhooks.body_bytes({"event": "screening.completed", "id": "j1", "outcome": "clear"})
DELIVERY = str(uuid.uuid4())
T0 = 1_700_000_000


def test_the_signature_covers_timestamp_delivery_id_and_body() -> None:
    header = webhooks.sign("s3cret", BODY, DELIVERY, timestamp=T0)
    assert webhooks.verify("s3cret", BODY, header, delivery_id=DELIVERY, now=T0 + 10) == T0
    cases = {
        "body": ("s3cret", BODY.replace(b"clear", b"match"), header, DELIVERY),
        "delivery id": ("s3cret", BODY, header, str(uuid.uuid4())),
        "timestamp": ("s3cret", BODY, header.replace(f"t={T0}", f"t={T0 + 5}"), DELIVERY),
        "secret": ("another", BODY, header, DELIVERY),
    }
    for what, (secret, body, sent, delivery) in cases.items():
        with pytest.raises(webhooks.SignatureError, match="does not match"):
            webhooks.verify(secret, body, sent, delivery_id=delivery, now=T0 + 10)
            pytest.fail(f"a changed {what} verified")
    with pytest.raises(webhooks.SignatureError, match="off"):  # a replay after the tolerance
        webhooks.verify("s3cret", BODY, header, delivery_id=DELIVERY, now=T0 + 301)
    with pytest.raises(webhooks.SignatureError, match="missing"):
        webhooks.verify("s3cret", BODY, None, delivery_id=DELIVERY)
    with pytest.raises(webhooks.SignatureError, match="Delivery"):
        webhooks.verify("s3cret", BODY, header, delivery_id=None, now=T0)
    with pytest.raises(webhooks.SignatureError, match="malformed"):
        webhooks.verify("s3cret", BODY, f"t={T0},t={T0},v1=00", delivery_id=DELIVERY, now=T0)
    both = webhooks.sign(["new", "old"], BODY, DELIVERY, timestamp=T0)  # during a rotation
    assert both.count("v1=") == 2
    for secret in ("new", "old"):
        assert webhooks.verify(secret, BODY, both, delivery_id=DELIVERY, now=T0) == T0
    assert [webhooks.backoff_seconds(n, 2) for n in (1, 2, 3)] == [2, 4, 8]


def test_a_malformed_signature_header_is_a_signature_error_not_a_crash() -> None:
    """Headers come from whoever can reach the receiver: anything unparseable must end as :class:`SignatureError`
    (a 401), never as another exception (a 500 that a sender can provoke at will, and a log full of tracebacks)."""
    good = webhooks.sign("s3cret", BODY, DELIVERY, timestamp=T0).split(",", 1)[1]
    for header, delivery in (
        (f"t={T0},v1=\u00e9", DELIVERY),  # non-ASCII digest: hmac.compare_digest refuses str with it
        (f"t={T0},v1=\udcff", DELIVERY),  # a lone surrogate, as undecodable bytes arrive
        ("t=\u00b2," + good, DELIVERY),  # a Unicode digit that int() does not take
        ("t=" + "9" * 5000 + "," + good, DELIVERY),  # beyond int()'s digit limit
        (f"t={T0}," + good, "d\u00e9livery"),  # a delivery id the sender could not have signed
    ):
        with pytest.raises(webhooks.SignatureError):
            webhooks.verify("s3cret", BODY, header, delivery_id=delivery, now=T0)


def test_each_client_has_its_own_derived_secret() -> None:
    first = webhooks.client_secret(MASTER, "client-a", 1)
    assert first.startswith(webhooks.SECRET_PREFIX) and len(first) == len(webhooks.SECRET_PREFIX) + 43
    assert first == webhooks.client_secret(MASTER, "client-a", 1)  # derived, so nothing needs storing
    others = {
        webhooks.client_secret(MASTER, "client-b", 1),
        webhooks.client_secret(MASTER, "client-a", 2),
        webhooks.client_secret(MASTER + "-rotated", "client-a", 1),
    }
    assert first not in others and len(others) == 3
    with pytest.raises(ValueError, match="empty"):
        webhooks.client_secret("", "client-a", 1)


def test_rotation_signs_with_both_secrets_during_the_grace_period_only(db_url: str) -> None:
    now = utcnow()
    with transaction(db_url) as session:
        assert webhooks.signing_secrets(session, MASTER, "client-a", now) == [
            webhooks.client_secret(MASTER, "client-a", 1)
        ]
        generation, secret = webhooks.rotate_secret(
            session, MASTER, "client-a", actor="cli:test", grace=timedelta(hours=1), now=now
        )
        assert (generation, secret) == (2, webhooks.client_secret(MASTER, "client-a", 2))
    with transaction(db_url) as session:
        old = webhooks.client_secret(MASTER, "client-a", 1)
        assert webhooks.signing_secrets(session, MASTER, "client-a", now + timedelta(minutes=59)) == [secret, old]
        assert webhooks.signing_secrets(session, MASTER, "client-a", now + timedelta(hours=1)) == [secret]
        assert webhooks.signing_secrets(session, MASTER, "client-b", now) == [
            webhooks.client_secret(MASTER, "client-b", 1)
        ]
        webhooks.rotate_secret(session, MASTER, "client-a", actor="cli:test", grace=timedelta(0), now=now)
        assert webhooks.signing_secrets(session, MASTER, "client-a", now) == [
            webhooks.client_secret(MASTER, "client-a", 3)
        ]  # after a leak: the old secret stops at once
        rotations = session.execute(
            select(AuditLog.details).where(AuditLog.action == "webhook_secret.rotate").order_by(AuditLog.id)
        ).scalars()
        assert [d["generation"] for d in rotations] == [2, 3]
        assert secret not in json.dumps([row.details for row in session.execute(select(AuditLog)).scalars()])


# --- end to end: real deliveries to the real local receiver ---------------------------------------------------------


@dataclass
class Receiver:
    secret: str
    url: str = ""
    accepted: list[dict[str, Any]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    raw: list[tuple[bytes, dict[str, str]]] = field(default_factory=list)


@contextmanager
def receiver(secret: str) -> Iterator[Receiver]:
    """A client's endpoint doing what the README says: verify over the raw body, refuse old or unsigned ones, then
    de-duplicate on the delivery id."""
    state = Receiver(secret)
    seen: set[str] = set()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            headers = {key: self.headers.get(key, "") for key in (webhooks.SIGNATURE_HEADER, webhooks.DELIVERY_HEADER)}
            state.raw.append((body, headers))
            delivery = self.headers.get(webhooks.DELIVERY_HEADER)
            try:
                webhooks.verify(state.secret, body, self.headers.get(webhooks.SIGNATURE_HEADER), delivery_id=delivery)
            except webhooks.SignatureError as exc:
                state.refused.append(str(exc))
                self._reply(401)
                return
            if delivery not in seen:
                seen.add(str(delivery))
                state.accepted.append({"delivery": delivery, "event": self.headers.get(webhooks.EVENT_HEADER)})
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


@pytest.fixture
def hooks(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    monkeypatch.setenv("KYC_DATABASE_URL", db_url)
    monkeypatch.setenv("KYC_WEBHOOK_SECRET", MASTER)
    get_settings.cache_clear()
    yield Settings(
        database_url=db_url,
        webhook_secret=SecretStr(MASTER),
        webhook_allow_http=True,
        webhook_allow_private_networks=True,
        webhook_timeout_seconds=5.0,
    )
    get_settings.cache_clear()


def completed_job(settings: Settings, client_id: str, url: str) -> str:
    spec = JobSpec(
        customer=CustomerSpec(name="Esimerkki Oy", country="FI", business_id="1572860-0"),
        persons=(PersonSpec("representative", "Aino Mäkinen"),),
        callback_url=url,
    )
    with transaction(settings.database_url) as session:
        job, _ = create_job(session, spec, submitted_by=client_id, idempotency_key=str(uuid.uuid4()), retention_years=5)
        job.status, job.outcome = "completed", "clear"
        return job.id


def cli_secret(*args: str) -> str:
    result = CliRunner().invoke(cli_app, ["webhooks", *args])
    assert result.exit_code == 0, result.output
    return result.stdout.strip()


def test_a_client_verifies_its_callbacks_with_its_own_secret_and_no_other(hooks: Settings) -> None:
    with transaction(hooks.database_url) as session:
        crm, _ = create_user(session, "crm", Role.ONBOARDING)
        create_user(session, "other-crm", Role.ONBOARDING)
        create_user(session, "an-analyst", Role.ANALYST)
    crm_secret, other_secret = cli_secret("secret", "crm"), cli_secret("secret", "other-crm")
    assert crm_secret == webhooks.client_secret(MASTER, crm.user_id, 1) and crm_secret != other_secret
    assert CliRunner().invoke(cli_app, ["webhooks", "secret", "an-analyst"]).exit_code == 2  # receives no callbacks
    with transaction(hooks.database_url) as session:
        create_user(session, "gone-crm", Role.ONBOARDING)
        revoke_user(session, "gone-crm")
    gone = CliRunner().invoke(cli_app, ["webhooks", "secret", "gone-crm"])
    assert gone.exit_code == 2 and "disabled" in gone.output  # a revoked client's secret is not handed out

    with receiver(crm_secret) as hook:
        job_id = completed_job(hooks, crm.user_id, hook.url)
        row = deliver_once(hooks, job_id, "d-1", 1)
        assert row is not None and (row.status, row.response_status) == ("delivered", 204)
        assert hook.accepted == [{"delivery": "d-1", "event": "screening.completed"}]
        body, headers = hook.raw[0]
        assert json.loads(body)["id"] == job_id
        assert headers[webhooks.SIGNATURE_HEADER].startswith("t=")
        # The same body and signature under another delivery id, or after the tolerance, is refused.
        with pytest.raises(webhooks.SignatureError, match="does not match"):
            webhooks.verify(crm_secret, body, headers[webhooks.SIGNATURE_HEADER], delivery_id="d-2")
        with pytest.raises(webhooks.SignatureError, match="off"):
            webhooks.verify(
                crm_secret, body, headers[webhooks.SIGNATURE_HEADER], delivery_id="d-1", now=int(time.time()) + 301
            )

    with receiver(other_secret) as wrong:  # another client's secret verifies nothing sent to crm
        job_id = completed_job(hooks, crm.user_id, wrong.url)
        row = deliver_once(hooks, job_id, "d-3", 1)
        assert row is not None and (row.status, row.response_status) == ("failed", 401)
        assert wrong.accepted == [] and wrong.refused == ["signature does not match the delivery"]


def test_rotating_a_clients_secret_keeps_callbacks_verifying_through_the_switch(hooks: Settings) -> None:
    with transaction(hooks.database_url) as session:
        crm, _ = create_user(session, "crm", Role.ONBOARDING)
    old = cli_secret("secret", "crm")
    new = cli_secret("rotate", "crm", "--grace-hours", "1")
    assert new != old and new == cli_secret("secret", "crm")
    for secret in (old, new):  # the receiver still on the old secret, and the one already switched
        with receiver(secret) as hook:
            row = deliver_once(hooks, completed_job(hooks, crm.user_id, hook.url), f"d-{secret[-6:]}", 1)
            assert row is not None and row.status == "delivered", hook.refused
    cli_secret("rotate", "crm", "--grace-hours", "0")  # e.g. the secret leaked: the old ones stop at once
    with receiver(new) as hook:
        row = deliver_once(hooks, completed_job(hooks, crm.user_id, hook.url), "d-late", 1)
        assert row is not None and row.response_status == 401
    with transaction(hooks.database_url) as session:
        actions = session.execute(
            select(AuditLog.action).where(AuditLog.action.like("webhook_secret.%")).order_by(AuditLog.id)
        ).scalars()
        assert [action.split(".")[1] for action in actions] == ["issue", "rotate", "issue", "rotate"]
