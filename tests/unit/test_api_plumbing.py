"""Strict JSON parsing and the body size limit, without a database or a server."""

import asyncio

import pytest

from service.api import BodySizeLimitMiddleware, BodyTooLarge, parse_json
from service.errors import BadRequest


@pytest.mark.parametrize(
    "body",
    [b"", b"   ", b"{", b'{"a": 1} x', b'{"a": 1}{"a": 1}', b'{"a": 1, "a": 2}',
     b'{"a": {"b": 1, "b": 1}}', b"\xff", b'"\\ud800"', b'{"\\udc00": 1}', b"[" * 50_000],
)  # fmt: skip
def test_malformed_json_is_a_bad_request(body):
    with pytest.raises(BadRequest):
        parse_json(body)


def test_well_formed_json_parses_including_escaped_pairs_and_nan():
    value = parse_json(b'{"a": [1, 2.5, "\\ud83d\\udd4a", null], "b": NaN}')
    assert value["a"] == [1, 2.5, "\U0001f54a", None]
    assert value["b"] != value["b"]  # NaN reaches the models, which refuse it with a 422


def _app_reading_everything(read: list[int]):
    async def app(scope, receive, send):
        while True:
            message = await receive()
            read.append(len(message.get("body", b"")))
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    return app


def _run(middleware, headers, chunks):
    sent, received = [], []
    pending = list(chunks)

    async def receive():
        body = pending.pop(0)
        received.append(len(body))
        return {"type": "http.request", "body": body, "more_body": bool(pending)}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/v1/reports", "headers": headers}
    asyncio.run(middleware(scope, receive, send))
    return sent, received


def test_a_declared_length_over_the_limit_is_refused_without_reading():
    read: list[int] = []
    middleware = BodySizeLimitMiddleware(
        _app_reading_everything(read), default_limit=1000, limits={}
    )
    sent, received = _run(middleware, [(b"content-length", b"1001")], [b"x" * 1001])
    assert sent[0]["status"] == 413 and received == [] and read == []


def test_a_streamed_body_stops_at_the_limit():
    read: list[int] = []
    middleware = BodySizeLimitMiddleware(
        _app_reading_everything(read), default_limit=1000, limits={}
    )
    with pytest.raises(BodyTooLarge):
        _run(middleware, [], [b"x" * 300] * 100)
    assert len(read) == 3  # the fourth chunk passes the limit: nothing after it is read


def test_paths_can_have_their_own_limit():
    read: list[int] = []
    middleware = BodySizeLimitMiddleware(
        _app_reading_everything(read), default_limit=10, limits={"/v1/reports": 100}
    )
    sent, _ = _run(middleware, [(b"content-length", b"50")], [b"x" * 50])
    assert sent[0]["status"] == 200 and read == [50]
