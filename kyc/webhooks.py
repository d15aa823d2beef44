"""Callback signatures: HMAC-SHA256 over the timestamp, the delivery id and the exact body bytes, with a secret per
client.

**What is signed.** ``f"{timestamp}.{delivery_id}.".encode() + body`` — the Standard Webhooks / Stripe scheme. The
timestamp is in the signed content so that a captured delivery cannot be replayed outside the tolerance (the
receiver refuses an old ``t``), and the delivery id is in it so that a captured body cannot be passed off under
another id (receivers de-duplicate on it, which also stops replays inside the tolerance). The event name needs no
header of its own in the MAC: it is the body's ``event`` field, which is signed. Headers::

    X-KYC-Signature: t=<unix seconds>,v1=<hex digest>[,v1=<hex digest>]
    X-KYC-Delivery: <delivery id>
    X-KYC-Event: screening.completed | screening.failed

**How a receiver verifies** (:func:`verify` does exactly this): take ``t`` and every ``v1`` from the signature
header; refuse when ``|now - t|`` exceeds the tolerance (300 s); compute
``hex(HMAC-SHA256(secret, t + "." + delivery_id + "." + raw body))`` over the raw bytes as received (before any JSON
parsing); accept when it equals any ``v1`` (compared in constant time); then drop a delivery id seen before.

**One secret per client.** Each onboarding client (the user that submitted the job) gets its own secret, derived with
HKDF-SHA256 from the master secret in the environment (``KYC_WEBHOOK_SECRET``), the client's user id and a
generation number kept in ``webhook_keys`` (no secret is ever stored). Chosen over secrets stored encrypted per user
because it gives the operator both rotations without a secret in the database: rotating one client
(``kyc webhooks rotate NAME``) bumps its generation, and the previous secret keeps signing next to the new one (two
``v1`` values) for a grace period so that the client can switch without losing callbacks; rotating the master
secret changes every client's secret at once (after a leak of the environment), and each client then fetches its
new one with ``kyc webhooks secret NAME``. One client's secret verifies nothing sent to another client.

The worker does the sending; this module also decides where a callback may go at all (``check_callback_url``), for
the API at submission and the worker at send time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import re
import socket
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy.orm import Session

from kyc import audit
from kyc.access import Principal
from kyc.errors import Invalid
from kyc.storage.access import WebhookKey
from kyc.storage.base import utcnow

SIGNATURE_HEADER = "X-KYC-Signature"
EVENT_HEADER = "X-KYC-Event"
DELIVERY_HEADER = "X-KYC-Delivery"
DEFAULT_TOLERANCE_SECONDS = 300
SECRET_PREFIX = "whsec_"  # noqa: S105 (a public marker, not a secret)
_HKDF_SALT = b"kyc-screening/webhook-secret/v1"
DEFAULT_ROTATION_GRACE = timedelta(hours=24)
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
"""Unix seconds as sent (ASCII digits only; 12 digits reach far beyond any clock)."""


class SignatureError(Invalid):
    """The signature header is missing, malformed, expired or does not match the delivery."""


def body_bytes(payload: Mapping[str, Any]) -> bytes:
    """The canonical body: what is signed is exactly what is sent."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def signed_content(timestamp: int, delivery_id: str, body: bytes) -> bytes:
    """``timestamp.delivery_id.body``: what the MAC covers (see the module docstring)."""
    if not delivery_id or "." in delivery_id:
        raise ValueError("delivery id must be non-empty and contain no '.'")
    return f"{timestamp}.{delivery_id}.".encode("ascii") + body


def _mac(secret: str, timestamp: int, delivery_id: str, body: bytes) -> str:
    return hmac.new(secret.encode("utf-8"), signed_content(timestamp, delivery_id, body), hashlib.sha256).hexdigest()


def sign(secrets: str | Sequence[str], body: bytes, delivery_id: str, timestamp: int | None = None) -> str:
    """The header value for one delivery: one ``v1`` per secret (two while a rotation's grace period runs);
    ``timestamp`` defaults to now."""
    keys = [secrets] if isinstance(secrets, str) else list(secrets)
    if not keys or not all(keys):
        raise ValueError("webhook secret is empty")
    stamp = int(time.time()) if timestamp is None else timestamp
    return ",".join([f"t={stamp}", *(f"v1={_mac(key, stamp, delivery_id, body)}" for key in keys)])


def verify(
    secret: str,
    body: bytes,
    header: str | None,
    *,
    delivery_id: str | None,
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
    now: int | None = None,
) -> int:
    """Check a received delivery (what a receiver runs); returns its timestamp or raises :class:`SignatureError`
    saying why. ``delivery_id`` is the ``X-KYC-Delivery`` header as received."""
    if not header:
        raise SignatureError(f"{SIGNATURE_HEADER} header is missing")
    if not delivery_id or "." in delivery_id or not delivery_id.isascii():
        raise SignatureError(f"{DELIVERY_HEADER} header is missing or malformed")
    items = [item.split("=", 1) for item in header.split(",") if "=" in item]
    stamps = [value.strip() for key, value in items if key.strip() == "t"]
    macs = [value.strip() for key, value in items if key.strip() == "v1"]
    # Strict ASCII shapes, checked before use: int() takes Unicode digits and raises past 4300 of them, and
    # hmac.compare_digest raises TypeError on a non-ASCII str; a sender must only ever get SignatureError.
    if len(stamps) != 1 or not _TIMESTAMP.fullmatch(stamps[0]) or not macs:
        raise SignatureError(f"{SIGNATURE_HEADER} header is malformed")
    stamp = int(stamps[0])
    current = int(time.time()) if now is None else now
    if abs(current - stamp) > tolerance:
        raise SignatureError(f"signature timestamp is {current - stamp} s off (tolerance {tolerance} s)")
    expected = _mac(secret, stamp, delivery_id, body).encode("ascii")
    if not any(hmac.compare_digest(expected, mac.encode("utf-8", "surrogatepass")) for mac in macs):
        raise SignatureError("signature does not match the delivery")
    return stamp


# --- per-client secrets --------------------------------------------------------------------------------------------


def client_secret(master: str, client_id: str, generation: int) -> str:
    """The secret of one client's ``generation``, derived with HKDF-SHA256 from the master secret (nothing stored)."""
    if not master:
        raise ValueError("webhook master secret is empty")
    if generation < 1:
        raise ValueError("generation starts at 1")
    key = HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=_HKDF_SALT,
        info=f"client:{client_id}\x00generation:{generation}".encode(),
    ).derive(master.encode("utf-8"))
    return SECRET_PREFIX + base64.urlsafe_b64encode(key).rstrip(b"=").decode("ascii")


def _key_row(session: Session, client_id: str, *, lock: bool = False) -> WebhookKey | None:
    return session.get(WebhookKey, client_id, with_for_update=lock)


def signing_secrets(session: Session, master: str, client_id: str, now: datetime | None = None) -> list[str]:
    """The secrets that sign a delivery to ``client_id`` now: the current generation's, and the previous one's while
    a rotation's grace period lasts."""
    row = _key_row(session, client_id)
    if row is None:
        return [client_secret(master, client_id, 1)]
    secrets = [client_secret(master, client_id, row.generation)]
    moment = now or utcnow()
    if row.previous_generation is not None and row.previous_until is not None and moment < row.previous_until:
        secrets.append(client_secret(master, client_id, row.previous_generation))
    return secrets


def current_secret(session: Session, master: str, client_id: str, *, actor: Principal | str) -> tuple[int, str]:
    """The client's current generation and secret, to hand to the client out of band (audited, never logged)."""
    row = _key_row(session, client_id)
    generation = row.generation if row is not None else 1
    audit.record(
        session,
        actor=actor,
        action="webhook_secret.issue",
        object_type="user",
        object_id=client_id,
        purpose="security",
        details={"generation": generation},
    )
    return generation, client_secret(master, client_id, generation)


def rotate_secret(
    session: Session,
    master: str,
    client_id: str,
    *,
    actor: Principal | str,
    grace: timedelta = DEFAULT_ROTATION_GRACE,
    now: datetime | None = None,
) -> tuple[int, str]:
    """Move the client to a new generation; the old secret keeps signing alongside for ``grace`` (0: stops now,
    e.g. after a leak). Returns the new generation and its secret."""
    moment = now or utcnow()
    row = _key_row(session, client_id, lock=True)
    if row is None:
        row = WebhookKey(client_id=client_id, generation=1, rotated_at=moment, rotated_by="")
        session.add(row)
    previous = row.generation
    row.generation, row.previous_generation = previous + 1, previous
    row.previous_until = moment + grace if grace > timedelta(0) else None
    row.rotated_at = moment
    row.rotated_by = actor.user_id if isinstance(actor, Principal) else actor
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="webhook_secret.rotate",
        object_type="user",
        object_id=client_id,
        purpose="security",
        details={"generation": row.generation, "grace_seconds": int(grace.total_seconds())},
    )
    return row.generation, client_secret(master, client_id, row.generation)


def backoff_seconds(attempt: int, base: float, cap: float = 3600.0) -> float:
    """Exponential backoff for retry ``attempt`` (1-based): base, 2·base, 4·base… capped."""
    return float(min(cap, base * (2 ** max(0, attempt - 1))))


# --- where callbacks may go (SSRF) ---------------------------------------------------------------------------------


class CallbackRefused(Invalid):
    """The callback URL points somewhere the service must not send requests (the reason names what is wrong)."""


class CallbackUnresolvable(CallbackRefused):
    """The callback host does not resolve now (at send time worth a retry: DNS may be down for a moment)."""


@dataclass(frozen=True)
class CallbackTarget:
    """A checked callback: connect to ``addresses`` (checked), send ``Host`` and TLS SNI for ``host``."""

    url: str
    host: str
    port: int
    addresses: tuple[str, ...]


_NAT64 = (ipaddress.IPv6Network("64:ff9b::/96"), ipaddress.IPv6Network("64:ff9b:1::/48"))
"""NAT64 prefixes: the low 32 bits are an IPv4 address the translator connects to."""


def _refusal(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """Why an address is not a public unicast one (None when it is).

    IPv6 transition addresses carry an IPv4 address inside: 6to4 (``2002::/16``) and Teredo (``2001::/32``) are
    refused outright — relays route them to whatever IPv4 address they embed, private ones included, and no real
    callback receiver needs them — and IPv4-mapped and NAT64 addresses are judged by the IPv4 address they embed.
    """
    if isinstance(address, ipaddress.IPv6Address):
        if address.sixtofour is not None:
            return "6to4 transition address"
        if address.teredo is not None:
            return "Teredo transition address"
        if address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        elif any(address in network for network in _NAT64):
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
            inner = _refusal(embedded)
            if inner is not None:
                return f"NAT64 address of a {inner} IPv4 address"
    for label, flag in (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("private", address.is_private),
        ("reserved", address.is_reserved),
    ):
        if flag:
            return label
    return None if address.is_global else "not globally routable"


def _resolve(host: str, port: int) -> tuple[str, ...]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise CallbackUnresolvable("callback_url host does not resolve") from exc
    addresses = tuple(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        raise CallbackUnresolvable("callback_url host does not resolve")
    return addresses


def check_callback_url(url: str, *, allow_http: bool = False, allow_private: bool = False) -> CallbackTarget:
    """Refuse a callback that could reach the service's own network (SSRF): https only (http when ``allow_http``),
    no credentials in the URL, and every address the host resolves to must be public unicast unless
    ``allow_private`` (development and tests with receivers on 127.0.0.1). Every address is checked, not just one,
    because the connection may go to any of them; the sender connects only to the addresses returned here.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme != "https" and not (scheme == "http" and allow_http):
        raise CallbackRefused("callback_url must be an https URL")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise CallbackRefused("callback_url must not contain user credentials")
    host = parts.hostname
    if not host:
        raise CallbackRefused("callback_url has no host")
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError as exc:
        raise CallbackRefused("callback_url has an invalid port") from exc
    addresses = _resolve(host, port)
    if not allow_private:
        for address in addresses:
            reason = _refusal(ipaddress.ip_address(address.split("%", 1)[0]))
            if reason is not None:
                raise CallbackRefused(f"callback_url host resolves to a non-public address ({reason})")
    return CallbackTarget(url=url, host=host, port=port, addresses=addresses)
