"""Stripe-style webhook signatures: `Travel-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "t.body">`."""

from __future__ import annotations

import hashlib
import hmac

HEADER = "Travel-Signature"


class SignatureError(Exception):
    """The signature header is missing, malformed, stale, or does not match the body."""


def _digest(secret: str, timestamp: int, body: bytes) -> str:
    payload = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), payload, hashlib.sha256).hexdigest()


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The header value signing `body` at `timestamp` (unix seconds)."""
    return f"t={timestamp},v1={_digest(secret, timestamp, body)}"


def verify(secret: str, header: str | None, body: bytes, now: float, tolerance_seconds: int = 300) -> int:
    """Check a header against the raw body; returns its timestamp or raises SignatureError."""
    if not header:
        raise SignatureError(f"missing {HEADER} header")
    timestamp: int | None = None
    candidates: list[str] = []
    for item in header.split(","):
        name, sep, value = item.strip().partition("=")
        if not sep:
            raise SignatureError(f"malformed {HEADER} header")
        if name == "t":
            try:
                timestamp = int(value)
            except ValueError:
                raise SignatureError(f"malformed timestamp in {HEADER} header") from None
        elif name == "v1":
            candidates.append(value)
    if timestamp is None or not candidates:
        raise SignatureError(f"{HEADER} header needs t= and v1=")
    if abs(now - timestamp) > tolerance_seconds:
        raise SignatureError(f"signature timestamp is outside the {tolerance_seconds} s tolerance")
    expected = _digest(secret, timestamp, body)
    # Several v1 values let a sender roll its secret; compare in constant time.
    if not any(hmac.compare_digest(expected, c) for c in candidates):
        raise SignatureError("signature does not match the body")
    return timestamp
