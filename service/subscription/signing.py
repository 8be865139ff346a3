"""Webhook signatures: HMAC-SHA256 over ``<timestamp>.<body>`` with the subscription's secret.

Receivers verify with :func:`verify` (or the same few lines in their language, see the
README): recompute the HMAC over the timestamp header, a dot and the raw body bytes,
compare in constant time, and refuse timestamps too far from their clock (replays).
"""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_HEADER = "X-Ceasefire-Signature"
TIMESTAMP_HEADER = "X-Ceasefire-Timestamp"
DELIVERY_HEADER = "X-Ceasefire-Delivery"
EVENT_HEADER = "X-Ceasefire-Event"
SCHEME = "v1"


def signature(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"{SCHEME}={mac.hexdigest()}"


def verify(
    secret: str,
    *,
    timestamp: str,
    body: bytes,
    signature_header: str,
    tolerance_s: int = 300,
    now: float | None = None,
) -> bool:
    """True when the signature is the secret's and the timestamp is recent enough."""
    try:
        sent = int(timestamp)
    except ValueError:
        return False
    if abs((time.time() if now is None else now) - sent) > tolerance_s:
        return False
    expected = signature(secret, timestamp, body)
    offered = [s.strip() for s in signature_header.split(",")]
    return any(hmac.compare_digest(expected, s) for s in offered)
