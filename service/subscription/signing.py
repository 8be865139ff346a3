"""Webhook signatures, two of them on every delivery, both HMAC-SHA256 with the
subscription's secret:

- ours, ``X-Ceasefire-Signature: v1=<hex>`` over ``<timestamp>.<body>``, keyed with the
  secret's UTF-8 bytes. Receivers verify with :func:`verify` (or the same few lines in their
  language, see the README): recompute the HMAC over the timestamp header, a dot and the raw
  body bytes, compare in constant time, and refuse timestamps too far from their clock.
- Standard Webhooks (https://www.standardwebhooks.com): ``webhook-id``,
  ``webhook-timestamp`` and ``webhook-signature: v1,<base64>`` over
  ``<id>.<timestamp>.<body>``, verifiable by the ``standardwebhooks`` libraries with the
  secret in ``whsec_<base64 of the key>`` form (:func:`standard_secret`). A secret given as
  ``whsec_<base64>`` is keyed with the bytes it encodes; any other with its UTF-8 bytes.
  Generated secrets are ``whsec_`` secrets, so they work as they are with both schemes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import time

SIGNATURE_HEADER = "X-Ceasefire-Signature"
TIMESTAMP_HEADER = "X-Ceasefire-Timestamp"
DELIVERY_HEADER = "X-Ceasefire-Delivery"
EVENT_HEADER = "X-Ceasefire-Event"
SCHEME = "v1"

STANDARD_ID_HEADER = "webhook-id"
STANDARD_TIMESTAMP_HEADER = "webhook-timestamp"
STANDARD_SIGNATURE_HEADER = "webhook-signature"
WHSEC_PREFIX = "whsec_"
# The Standard Webhooks specification asks for keys of 24 to 64 bytes.
STANDARD_KEY_BYTES = (24, 64)


def generate_secret() -> str:
    """A new secret, in the form Standard Webhooks libraries take as it is."""
    return WHSEC_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def whsec_key(secret: str) -> bytes | None:
    """The key a ``whsec_<base64>`` secret encodes, or None when it is not one."""
    if not secret.startswith(WHSEC_PREFIX):
        return None
    try:
        key = base64.b64decode(secret[len(WHSEC_PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        return None
    return key or None


def standard_key(secret: str) -> bytes:
    """The HMAC key of the Standard Webhooks signature."""
    return whsec_key(secret) or secret.encode()


def standard_secret(secret: str) -> str:
    """The secret as ``standardwebhooks.Webhook`` takes it (``whsec_<base64>``)."""
    return WHSEC_PREFIX + base64.b64encode(standard_key(secret)).decode()


def standard_signature(secret: str, msg_id: str, timestamp: str, body: bytes) -> str:
    signed = f"{msg_id}.{timestamp}.".encode() + body
    mac = hmac.new(standard_key(secret), signed, hashlib.sha256).digest()
    return f"v1,{base64.b64encode(mac).decode()}"


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
