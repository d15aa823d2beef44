"""Callback signatures: HMAC-SHA256 over a timestamp and the exact body bytes.

The timestamp is part of the signed text so that a captured delivery cannot be replayed later; the receiver
checks both the MAC (in constant time) and the age. The scheme is the one Stripe and GitHub users know:
``X-KYC-Signature: t=<unix seconds>,v1=<hex digest>``. Pure functions: the worker does the sending.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import Any

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
