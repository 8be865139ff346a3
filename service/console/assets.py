"""The console's built files (web/dist/console/, made by `web/build.mjs`), read once.

The pages and assets are an allow-list: a mapping from the names the build wrote to their
bytes, made by listing the build's directory. A request names an entry of that mapping and
nothing else; no part of a URL is ever joined to a filesystem path. When the build is missing
(a checkout where `.ci/provision` has not run), the mapping is empty and the pages answer 503
saying how to build; it is read again whenever the build directory is made anew.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from service.config import get_settings

# Names the build gives its files: `<name>-<HASH>.<ext>` is content-hashed, cached for a year.
MEDIA_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".png": "image/png",
    ".svg": "image/svg+xml",
    ".txt": "text/plain; charset=utf-8",
}


@dataclass(frozen=True)
class Asset:
    body: bytes
    media_type: str


@dataclass(frozen=True)
class Build:
    """The pages (by page name: `map`, `digest`, ...) and the assets (by file name)."""

    pages: dict[str, Asset]
    assets: dict[str, Asset]

    @property
    def empty(self) -> bool:
        return not self.pages


def _read(directory: Path) -> dict[str, Asset]:
    if not directory.is_dir():
        return {}
    found = {}
    for path in sorted(directory.iterdir()):
        media_type = MEDIA_TYPES.get(path.suffix)
        if media_type and path.is_file():
            found[path.name] = Asset(path.read_bytes(), media_type)
    return found


def scan(directory: Path) -> Build:
    pages = {
        name.removesuffix(".html"): asset
        for name, asset in _read(directory).items()
        if name.endswith(".html")
    }
    return Build(pages=pages, assets=_read(directory / "assets"))


def _version(directory: Path) -> int | None:
    """When the build was made: the build replaces its directory, so its change time moves."""
    try:
        return directory.stat().st_mtime_ns
    except OSError:
        return None


_lock = threading.Lock()
_build: tuple[int | None, Build] | None = None


def current() -> Build:
    """The build as last read; read again when the build directory was made anew (a rebuild
    while the service runs needs no restart) and while none exists."""
    global _build
    directory = get_settings().console_dir
    version = _version(directory)
    with _lock:
        if _build is None or _build[0] != version or _build[1].empty:
            _build = (version, scan(directory))
        return _build[1]
