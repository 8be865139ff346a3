"""Subscriptions: who may create and see them, which callback URLs are refused, the secret."""

import base64
import datetime as dt

import pytest
from sqlalchemy import text

from service.config import get_settings
from service.digest.service import build_days
from service.links import absolute
from service.subscription import secret_store


def auth(secret):
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def monitor(make_key):
    return make_key("monitor", "monitor A")


@pytest.fixture
def loopback_allowed(monkeypatch):
    monkeypatch.setattr(get_settings(), "webhook_allow_private", True)
    monkeypatch.setattr(get_settings(), "webhook_allowed_ports", [80, 443, 8420])


SECRET = "s3cret-for-signing-0123456789"  # noqa: S105 - a test subscription's secret


def create(client, secret, **body):
    payload = {"callback_url": "http://127.0.0.1:8420/hook", "secret": SECRET, **body}
    return client.post("/v1/subscriptions", json=payload, headers=auth(secret))


def test_a_monitor_subscribes_and_the_secret_is_never_returned(client, monitor, loopback_allowed):
    principal, secret = monitor
    response = create(client, secret, province="Idlib")
    assert response.status_code == 201
    created = response.json()
    assert response.headers["location"] == absolute(f"/v1/subscriptions/{created['id']}")
    assert created["secret"] is None  # given by the client: not echoed
    assert created["province"] == {"pcode": "SY07", "name_en": "Idleb"}
    assert created["owner_key_id"] == str(principal.key_id)
    fetched = client.get(response.headers["location"], headers=auth(secret))
    assert "secret" not in fetched.json()
    listed = client.get("/v1/subscriptions", headers=auth(secret)).json()
    assert [s["id"] for s in listed] == [created["id"]]
    assert SECRET not in fetched.text + str(listed)


def test_a_generated_secret_is_shown_once_and_stored_encrypted(
    client, db, monitor, loopback_allowed
):
    _, secret = monitor
    response = client.post(
        "/v1/subscriptions",
        json={"callback_url": "http://127.0.0.1:8420/hook"},
        headers=auth(secret),
    )
    generated = response.json()["secret"]
    # A Standard Webhooks secret: whsec_ and the base64 of 32 random bytes.
    assert generated.startswith("whsec_")
    assert len(base64.b64decode(generated.removeprefix("whsec_"), validate=True)) == 32
    stored = db.execute(
        text("SELECT secret_encrypted FROM subscriptions WHERE id = :id"),
        {"id": response.json()["id"]},
    ).scalar_one()
    assert generated not in stored
    assert generated.removeprefix("whsec_") not in stored
    assert secret_store.unseal(stored, get_settings()) == generated
    again = client.get(f"/v1/subscriptions/{response.json()['id']}", headers=auth(secret))
    assert generated not in again.text


def test_subscribing_is_recorded_in_the_audit_trail_without_the_secret(
    client, db, monitor, loopback_allowed
):
    _, secret = monitor
    subscription_id = create(client, secret).json()["id"]
    after = db.execute(
        text(
            "SELECT after::text FROM audit_events WHERE entity_id = :id"
            " AND action = 'subscription.created'"
        ),
        {"id": subscription_id},
    ).scalar_one()
    assert "127.0.0.1:8420" in after and SECRET not in after


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "http://localhost/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://224.0.0.1/hook",
        "http://0.0.0.0/hook",
        "http://user:pass@93.184.216.34/hook",
    ],
)
def test_private_loopback_and_link_local_callbacks_are_refused(client, monitor, url):
    _, secret = monitor
    response = create(client, secret, callback_url=url)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body.callback_url"


@pytest.mark.parametrize(
    "body",
    [
        {"callback_url": "ftp://93.184.216.34/hook"},
        {"callback_url": "file:///etc/passwd"},
        {"callback_url": "not a url"},
        {"callback_url": "http://127.0.0.1:8420/hook", "secret": "short"},
        {"callback_url": "http://127.0.0.1:8420/hook", "owner_key_id": "x"},
    ],
)
def test_bad_subscriptions_are_422(client, monitor, loopback_allowed, body):
    _, secret = monitor
    response = client.post("/v1/subscriptions", json=body, headers=auth(secret))
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


def test_an_unknown_province_is_refused_as_on_every_reader(client, monitor, loopback_allowed):
    # The province resolver's own answer (tests/http/test_filters_agree.py): 400.
    _, secret = monitor
    body = {"callback_url": "http://127.0.0.1:8420/hook", "province": "Atlantis"}
    response = client.post("/v1/subscriptions", json=body, headers=auth(secret))
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"field": "body.province", "message": "no province is known as 'Atlantis'"}
    ]


def test_only_monitors_and_admins(client, make_key, loopback_allowed):
    assert create(client, "nothing").status_code == 401
    for role in ("reporter", "verifier"):
        _, secret = make_key(role)
        assert create(client, secret).status_code == 403
        assert client.get("/v1/subscriptions", headers=auth(secret)).status_code == 403
    _, admin_secret = make_key("admin")
    assert create(client, admin_secret).status_code == 201


def test_a_subscription_is_its_owners(client, make_key, monitor, loopback_allowed):
    _, secret = monitor
    subscription_id = create(client, secret).json()["id"]
    _, other = make_key("monitor", "monitor B")
    path = f"/v1/subscriptions/{subscription_id}"
    assert client.get(path, headers=auth(other)).status_code == 404
    assert client.get(f"{path}/deliveries", headers=auth(other)).status_code == 404
    assert client.delete(path, headers=auth(other)).status_code == 404
    assert client.get("/v1/subscriptions", headers=auth(other)).json() == []
    _, admin = make_key("admin")
    assert client.get(path, headers=auth(admin)).status_code == 200


def test_delete_cancels_pending_deliveries_and_erases_the_secret(
    client, db, monitor, loopback_allowed
):
    _, secret = monitor
    subscription_id = create(client, secret).json()["id"]
    build_days(session=db, first=dt.date(2017, 1, 3), last=dt.date(2017, 1, 4))
    assert (
        client.delete(f"/v1/subscriptions/{subscription_id}", headers=auth(secret)).status_code
        == 204
    )
    row = db.execute(
        text("SELECT secret_encrypted, deleted_at FROM subscriptions WHERE id = :id"),
        {"id": subscription_id},
    ).one()
    assert row.secret_encrypted is None and row.deleted_at is not None
    statuses = db.execute(
        text("SELECT DISTINCT status FROM deliveries WHERE subscription_id = :id"),
        {"id": subscription_id},
    ).scalars()
    assert list(statuses) == ["cancelled"]
    assert (
        client.get(f"/v1/subscriptions/{subscription_id}", headers=auth(secret)).status_code == 404
    )
    assert (
        client.delete(f"/v1/subscriptions/{subscription_id}", headers=auth(secret)).status_code
        == 404
    )


def test_deliveries_are_listed_newest_first_with_paging(client, db, monitor, loopback_allowed):
    _, secret = monitor
    subscription_id = create(client, secret).json()["id"]
    build_days(session=db, first=dt.date(2017, 1, 3), last=dt.date(2017, 1, 5))
    path = f"/v1/subscriptions/{subscription_id}/deliveries"
    first = client.get(path, params={"limit": 2}, headers=auth(secret)).json()
    assert len(first["items"]) == 2 and first["next_cursor"]
    rest = client.get(
        path, params={"limit": 2, "cursor": first["next_cursor"]}, headers=auth(secret)
    ).json()
    assert len(rest["items"]) == 1 and rest["next_cursor"] is None
    items = first["items"] + rest["items"]
    assert sorted(i["date"] for i in items) == ["2017-01-03", "2017-01-04", "2017-01-05"]
    assert all(i["status"] == "pending" and i["attempt_log"] == [] for i in items)
    assert client.get(path, params={"cursor": "garbage"}, headers=auth(secret)).status_code == 400


@pytest.mark.parametrize(
    "url",
    [
        "http://[2002:a9fe:a9fe::]/hook",  # 6to4 of 169.254.169.254
        "http://[2002:a00:1::]/hook",  # 6to4 of 10.0.0.1
        "http://[2001:0:4136:e378:8000:63bf:f5ff:fffe]/hook",  # Teredo, client 10.0.0.1
        "http://[64:ff9b::a9fe:a9fe]/hook",  # NAT64
        "http://[64:ff9b:1::a00:1]/hook",  # local-use NAT64
        "http://[::ffff:a9fe:a9fe]/hook",  # IPv4-mapped
        "http://[::a00:1]/hook",  # IPv4-compatible
        "http://[2606:4700::5efe:a9fe:a9fe]/hook",  # ISATAP
        "http://2852039166/hook",  # 169.254.169.254 as a number
        "http://0xa9.0xfe.0xa9.0xfe/hook",
        "http://0251.0376.0251.0376/hook",
        "http://100.64.0.1/hook",  # shared address space
        "http://192.0.2.10/hook",  # documentation
        "http://[2001:db8::1]/hook",
        "http://[ff02::1]/hook",
        "http://240.0.0.1/hook",
    ],
)
def test_embedded_private_and_non_global_callbacks_are_refused(client, db, monitor, url):
    _, secret = monitor
    response = create(client, secret, callback_url=url)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"][0]["field"] == "body.callback_url"
    assert db.execute(text("SELECT count(*) FROM subscriptions")).scalar_one() == 0


@pytest.mark.parametrize(
    "url", ["http://93.184.216.34:8080/hook", "https://93.184.216.34:8443/", "http://1.1.1.1:22/"]
)
def test_callbacks_on_other_ports_than_80_and_443_are_refused(client, monitor, url):
    _, secret = monitor
    response = create(client, secret, callback_url=url)
    assert response.status_code == 422
    assert "is not allowed; only 80, 443" in response.json()["detail"]


def test_allowing_private_addresses_does_not_allow_other_ports(client, monitor, loopback_allowed):
    _, secret = monitor
    response = create(client, secret, callback_url="http://127.0.0.1:8421/hook")
    assert response.status_code == 422
    assert "port 8421 is not allowed" in response.json()["detail"]
    assert create(client, secret, callback_url="http://127.0.0.1:8420/hook").status_code == 201


def test_the_stored_row_does_not_contain_the_secret(client, db, monitor, loopback_allowed):
    _, secret = monitor
    subscription_id = create(client, secret).json()["id"]
    row = db.execute(
        text("SELECT s::text FROM subscriptions s WHERE id = :id"), {"id": subscription_id}
    ).scalar_one()
    assert SECRET not in row
    assert base64.b64encode(SECRET.encode()).decode()[:20] not in row


@pytest.mark.parametrize(
    "given",
    [
        "whsec_" + base64.b64encode(b"k" * 24).decode(),
        "whsec_" + base64.b64encode(bytes(range(64))).decode(),
    ],
)
def test_a_standard_webhooks_secret_is_accepted(client, monitor, loopback_allowed, given):
    _, key = monitor
    body = {"callback_url": "http://127.0.0.1:8420/hook", "secret": given}
    response = client.post("/v1/subscriptions", json=body, headers=auth(key))
    assert response.status_code == 201, response.text
    assert response.json()["secret"] is None


@pytest.mark.parametrize(
    "given",
    [
        "whsec_not-base64-at-all!!",  # a whsec_ secret that is not one
        "whsec_" + base64.b64encode(b"k" * 16).decode(),  # too short a key
        "whsec_" + base64.b64encode(b"k" * 65).decode(),  # too long
    ],
)
def test_a_malformed_whsec_secret_is_422(client, db, monitor, loopback_allowed, given):
    _, key = monitor
    body = {"callback_url": "http://127.0.0.1:8420/hook", "secret": given}
    response = client.post("/v1/subscriptions", json=body, headers=auth(key))
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert db.execute(text("SELECT count(*) FROM subscriptions")).scalar_one() == 0


def test_without_a_secrets_key_nothing_is_subscribed(
    client, db, monitor, loopback_allowed, monkeypatch, tmp_path
):
    monkeypatch.setattr(get_settings(), "secrets_key", None)
    monkeypatch.setattr(get_settings(), "secrets_key_file", tmp_path / "no-such-file")
    _, secret = monitor
    response = create(client, secret)
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert "CEASEFIRE_SECRETS_KEY" in response.json()["detail"]
    assert db.execute(text("SELECT count(*) FROM subscriptions")).scalar_one() == 0

    key_file = tmp_path / "secrets-key"
    key_file.write_text(secret_store.generate_key() + "\n")  # what `make provision` writes
    monkeypatch.setattr(get_settings(), "secrets_key_file", key_file)
    assert create(client, secret).status_code == 201
