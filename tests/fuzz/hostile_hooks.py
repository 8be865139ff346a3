"""Schemathesis hooks (loaded through SCHEMATHESIS_HOOKS) for the hostile pass of the fuzz
run: every generated case gets one path parameter, query value or header made hostile, an
extreme date, a year-10000 string, NUL and other control characters, or an over-long value.
The pass checks only that the service never answers 5xx."""

from __future__ import annotations

import os

import schemathesis
from hypothesis import strategies as st

EXTREME_DATES = [
    "0001-01-01",
    "9999-12-31",
    "0001-01-01/..",
    "../9999-12-31",
    "../9999-12-31T23:59:59Z",
    "0001-01-01T00:00:00Z",
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59.999999-12:00",
    "0001-01-01/9999-12-31",
    "10000-01-01",
    "10000-01-01T00:00:00Z",
    "+10000-01-01T00:00:00Z/..",
]
CONTROLS = ["\x00", "a\x00b", "\x01", "x\x1b[2J", "\x7f", "\x00" * 3, "a\tb"]
LONG = ["x" * 3000, "9" * 5000, "\x00" * 1000, "x" * 20_000]
HOSTILE = st.sampled_from(EXTREME_DATES + CONTROLS + LONG)
# In paths and queries anything goes (the client percent-encodes it): CR, LF, NEL included.
ANY_CONTROLS = st.text(
    alphabet=st.characters(max_codepoint=0x9F, categories=["Cc"]), min_size=1, max_size=5
)
HEADERS = ["Idempotency-Key", "If-None-Match", "If-Modified-Since", "Accept", "X-Request-ID"]


def _with(case, target: tuple[str, str], value: str):
    part, name = target
    if part == "headers":
        case.headers = {**(case.headers or {}), name: value}
    elif part == "query":
        case.query = {**(case.query or {}), name: value}
    else:
        case.path_parameters = {**(case.path_parameters or {}), name: value}
    return case


@schemathesis.hook
def flatmap_case(context, case):
    targets = [("path_parameters", n) for n in case.path_parameters or {}]
    targets += [("query", n) for n in case.query or {}]
    targets += [("query", n) for n in ("datetime", "since", "until")]
    targets += [("headers", n) for n in HEADERS]
    # The HTTP client itself refuses CR, LF and leading white space in header values.
    in_url = st.sampled_from(targets[: -len(HEADERS)]), HOSTILE | ANY_CONTROLS
    in_headers = st.sampled_from(targets[-len(HEADERS) :]), HOSTILE
    return st.one_of(st.tuples(*in_url), st.tuples(*in_headers)).map(lambda t: _with(case, *t))


@schemathesis.hook
def after_call(context, case, response):
    """Record each answer, so the test can show the hostile requests were really sent."""
    path = os.environ.get("HOSTILE_CALLS_FILE")
    if path:
        with open(path, "a", encoding="utf-8") as calls:
            calls.write(f"{response.status_code} {case.method} {case.operation.path}\n")
