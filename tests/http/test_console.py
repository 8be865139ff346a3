"""The console's pages and assets (service/console/): served from the build's directory only,
by name from an allow-list, under a strict Content-Security-Policy. A small build made here
stands in for web/build.mjs's output, so these tests need no Node.js."""

from __future__ import annotations

import re

import pytest

from service.config import get_settings
from service.console.router import CONTENT_SECURITY_POLICY

PAGE = b'<!doctype html><script type="module" src="assets/map-ABC123.js"></script>'


@pytest.fixture
def build(tmp_path, monkeypatch):
    directory = tmp_path / "console"
    (directory / "assets").mkdir(parents=True)
    (directory / "map.html").write_bytes(PAGE)
    (directory / "digest.html").write_bytes(b"<!doctype html><title>digest</title>")
    (directory / "assets" / "map-ABC123.js").write_bytes(b"export {};\n" * 200)
    (directory / "assets" / "map-ABC123.css").write_bytes(b"body{}")
    (directory / "assets" / "notes.exe").write_bytes(b"MZ")  # not a kind the console serves
    (tmp_path / "secret.txt").write_text("outside the build")
    monkeypatch.setattr(get_settings(), "console_dir", directory)
    return directory


def test_the_map_page_is_served_with_a_strict_policy(client, build):
    response = client.get("/console/")
    assert response.status_code == 200
    assert response.content == PAGE
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    policy = response.headers["content-security-policy"]
    assert policy == CONTENT_SECURITY_POLICY
    for directive in (
        "default-src 'self'",
        "script-src 'self';",
        "style-src 'self';",
        "connect-src 'self'",
        "object-src 'none'",
        "frame-ancestors 'none'",
    ):
        assert directive in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "no-cache"
    assert client.head("/console/").status_code == 200


def test_hashed_assets_are_cached_for_long_and_compressed(client, build):
    response = client.get("/console/assets/map-ABC123.js", headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/javascript; charset=utf-8"
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert response.headers["content-encoding"] == "gzip"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert (
        client.get("/console/assets/map-ABC123.css").headers["content-type"].startswith("text/css")
    )


@pytest.mark.parametrize(
    "path",
    [
        "/console/assets/notes.exe",
        "/console/assets/nothing.js",
        "/console/assets/..%2Fmap.html",
        "/console/assets/..%2F..%2Fsecret.txt",
        "/console/assets/%2e%2e%2fmap.html",
        "/console/assets/map.html",
        "/console/queue",  # a page the build did not make
        "/console/map",
    ],
)
def test_only_the_builds_files_are_served(client, build, path):
    response = client.get(path)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert "outside the build" not in response.text


def test_other_pages_are_served_when_built(client, build):
    assert client.get("/console/digest").text == "<!doctype html><title>digest</title>"


def test_a_missing_build_says_how_to_make_it(client, tmp_path, monkeypatch):
    monkeypatch.setattr(get_settings(), "console_dir", tmp_path / "not-built")
    response = client.get("/console/")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert ".ci/provision" in response.json()["detail"]
    assert client.get("/console/assets/map-ABC123.js").status_code == 404


def test_a_rebuild_is_served_without_a_restart(client, build, tmp_path):
    assert client.get("/console/").content == PAGE
    fresh = tmp_path / "fresh"
    (fresh / "assets").mkdir(parents=True)
    (fresh / "map.html").write_bytes(b"<!doctype html><title>rebuilt</title>")
    build.rename(tmp_path / "old")
    fresh.rename(build)  # the build replaces its directory as web/build.mjs does
    assert client.get("/console/").text == "<!doctype html><title>rebuilt</title>"
    assert client.get("/console/assets/map-ABC123.js").status_code == 404


def test_the_pages_are_not_in_the_api_description(client, build):
    assert not [path for path in client.get("/openapi.json").json()["paths"] if "console" in path]


def test_the_landing_page_links_the_console(client):
    links = client.get("/").json()["links"]
    console = [link for link in links if link["href"].endswith("/console/")]
    assert console and console[0]["type"] == "text/html"
    assert console[0]["rel"] == "service-doc"


def test_the_real_build_has_no_inline_code_and_names_only_its_own_assets():
    """Every page web/build.mjs made (the map's and any other's) keeps to the CSP: no inline
    script or style, nothing from another origin, and every asset it names exists."""
    directory = get_settings().console_dir
    pages = sorted(directory.glob("*.html"))
    # Not a skip: `make test` builds the console (.ci/provision); no pages means it broke.
    assert pages, "the console is not built: run .ci/provision (or npm run build in web/)"
    for page in pages:
        html = page.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), page.name
        assert "<style" not in html and not re.search(r"\sstyle=", html), page.name
        assert not re.search(r"\bon[a-z]+=", html), page.name  # no inline event handlers
        assert not re.search(r"(src|href)=\"(https?:)?//", html), page.name
        for ref in re.findall(r"(?:src|href)=\"(assets/[^\"]+)\"", html):
            assert (directory / ref).is_file(), f"{page.name} names {ref}, which is not built"
