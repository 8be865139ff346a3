"""Choosing a digest format from ?format= and Accept."""

import pytest

from service.digest.router import negotiate
from service.errors import NotAcceptable


@pytest.mark.parametrize(
    ("fmt", "accept", "expected"),
    [
        (None, None, "json"),
        (None, "", "json"),
        ("csv", "application/json", "csv"),  # the query parameter wins
        (None, "text/csv", "csv"),
        (None, "text/markdown; charset=utf-8", "md"),
        (None, "TEXT/CSV", "csv"),
        (None, "text/csv;q=0.2, application/json;q=0.9", "json"),
        (None, "text/html, text/*;q=0.5", "md"),
        (None, "image/png, */*;q=0.01", "json"),
        (None, "text/csv;q=bogus, text/markdown", "md"),
    ],
)
def test_negotiate(fmt, accept, expected):
    assert negotiate(fmt, accept) == expected


@pytest.mark.parametrize("accept", ["application/xml", "text/html", "text/csv;q=0"])
def test_nothing_acceptable(accept):
    with pytest.raises(NotAcceptable):
        negotiate(None, accept)
