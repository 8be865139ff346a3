"""Webhook signatures, backoff and callback checks: pure functions, no database."""

import base64
import datetime as dt
import hashlib
import hmac

import pytest
import standardwebhooks

from service.config import Settings
from service.subscription import signing
from service.subscription.delivery import backoff_s
from service.subscription.service import RefusedAddress, check_callback_url

SECRET = "0123456789abcdef-secret"  # noqa: S105 - a test vector


def test_the_signature_is_hmac_sha256_of_timestamp_dot_body():
    body = b'{"event":"digest.revision"}'
    expected = hmac.new(SECRET.encode(), b"1700000000." + body, hashlib.sha256).hexdigest()
    assert signing.signature(SECRET, "1700000000", body) == f"v1={expected}"


def test_verify_accepts_the_right_signature_and_nothing_else():
    body = b'{"a":1}'
    sig = signing.signature(SECRET, "1700000000", body)
    ok = {"timestamp": "1700000000", "body": body, "signature_header": sig, "now": 1700000100}
    assert signing.verify(SECRET, **ok)
    assert signing.verify(SECRET, **{**ok, "signature_header": f"v0=abc, {sig}"})
    assert not signing.verify("wrong-secret-wrong-secret", **ok)
    assert not signing.verify(SECRET, **{**ok, "body": b'{"a":2}'})
    assert not signing.verify(SECRET, **{**ok, "timestamp": "1700000001"})
    assert not signing.verify(SECRET, **{**ok, "now": 1700000000 + 301})  # a replay
    assert not signing.verify(SECRET, **{**ok, "timestamp": "yesterday"})


def test_backoff_doubles_up_to_the_cap():
    settings = Settings(webhook_backoff_base_s=30, webhook_backoff_max_s=3600)
    assert [backoff_s(n, settings) for n in (1, 2, 3, 4, 7, 8)] == [30, 60, 120, 240, 1920, 3600]


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://10.0.0.1/",
        "http://172.16.5.4/",
        "http://169.254.169.254/",
        "http://[fe80::1]/",
        "http://[fc00::1]/",
        "http://[::ffff:10.0.0.1]/",
        "http://239.1.2.3/",
        "http://100.64.0.1/",
        "gopher://93.184.216.34/",
        "http://93.184.216.34:99999/",
    ],
)
def test_addresses_the_service_must_not_call(url):
    with pytest.raises(RefusedAddress):
        check_callback_url(url, allow_private=False)


def test_public_addresses_and_allowed_private_ones_pass():
    check_callback_url("https://93.184.216.34/hook", allow_private=False)
    check_callback_url("http://[2606:2800:220:1:248:1893:25c8:1946]/", allow_private=False)
    check_callback_url("http://127.0.0.1:8420/hook", allow_private=True, allowed_ports=[8420])


def test_the_standard_webhooks_signature_is_the_librarys():
    body = b'{"event":"digest.revision","delivery_id":"d1"}'
    moment = dt.datetime.fromtimestamp(1700000000, dt.UTC)
    for secret in (signing.generate_secret(), SECRET):
        library = standardwebhooks.Webhook(signing.standard_secret(secret))
        expected = library.sign("d1", moment, body.decode())
        assert signing.standard_signature(secret, "d1", "1700000000", body) == expected


def test_secrets_and_their_standard_keys():
    generated = signing.generate_secret()
    assert generated.startswith("whsec_")
    assert signing.standard_key(generated) == base64.b64decode(generated[len("whsec_") :])
    assert signing.standard_secret(generated) == generated  # already in the standard form
    assert signing.standard_key(SECRET) == SECRET.encode()  # a plain secret: its own bytes
    assert signing.standard_key("whsec_***not base64***") == b"whsec_***not base64***"
    assert signing.generate_secret() != generated
