"""Callback signatures: HMAC-SHA256 over a timestamp and the exact body bytes.

The timestamp is part of the signed text so that a captured delivery cannot be replayed later; the receiver
checks both the MAC (in constant time) and the age. The scheme is the one Stripe and GitHub users know:
``X-KYC-Signature: t=<unix seconds>,v1=<hex digest>``. The worker does the sending; this module also decides
where a callback may go at all (``check_callback_url``), for the API at submission and the worker at send time.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

SIGNATURE_HEADER = "X-KYC-Signature"
EVENT_HEADER = "X-KYC-Event"
DELIVERY_HEADER = "X-KYC-Delivery"
DEFAULT_TOLERANCE_SECONDS = 300


class SignatureError(ValueError):
    """The signature header is missing, malformed, expired or does not match the body."""


def body_bytes(payload: Mapping[str, Any]) -> bytes:
    """The canonical body: what is signed is exactly what is sent."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _mac(secret: str, timestamp: int, body: bytes) -> str:
    message = str(timestamp).encode("ascii") + b"." + body
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The header value for ``body``; ``timestamp`` defaults to now."""
    if not secret:
        raise ValueError("webhook secret is empty")
    stamp = int(time.time()) if timestamp is None else timestamp
    return f"t={stamp},v1={_mac(secret, stamp, body)}"


def verify(
    secret: str, body: bytes, header: str | None, *, tolerance: int = DEFAULT_TOLERANCE_SECONDS, now: int | None = None
) -> int:
    """Check a received signature; returns its timestamp or raises :class:`SignatureError` saying why."""
    if not header:
        raise SignatureError(f"{SIGNATURE_HEADER} header is missing")
    parts = dict(item.split("=", 1) for item in header.split(",") if "=" in item)
    if "t" not in parts or "v1" not in parts or not parts["t"].isdigit():
        raise SignatureError(f"{SIGNATURE_HEADER} header is malformed")
    stamp = int(parts["t"])
    current = int(time.time()) if now is None else now
    if abs(current - stamp) > tolerance:
        raise SignatureError(f"signature timestamp is {current - stamp} s off (tolerance {tolerance} s)")
    if not hmac.compare_digest(_mac(secret, stamp, body), parts["v1"]):
        raise SignatureError("signature does not match the body")
    return stamp


def backoff_seconds(attempt: int, base: float, cap: float = 3600.0) -> float:
    """Exponential backoff for retry ``attempt`` (1-based): base, 2·base, 4·base… capped."""
    return float(min(cap, base * (2 ** max(0, attempt - 1))))


# --- where callbacks may go (SSRF) ---------------------------------------------------------------------------------


class CallbackRefused(ValueError):
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


def _refusal(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """Why an address is not a public unicast one (None when it is)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
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
