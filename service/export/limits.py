"""Bounds on exports: how many run at once per server process, and the disk a GeoPackage
may use while it is written and sent. A request over a bound is answered 503 with
``Retry-After`` (a problem document), having changed nothing."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from service.config import get_settings
from service.errors import Unavailable

RETRY_AFTER_S = 30
TEMPORARY_PREFIX = "ceasefire-export-"
# A temporary GeoPackage older than this is left over by a process that died while writing
# it (a normal one is removed as soon as it is written: exports of 1M incidents take minutes).
STALE_AFTER_S = 6 * 3600


class Slots:
    """At most ``limit()`` holders at once; ``take`` answers a release function or raises
    ``Unavailable``. Never waits: a queued export would hold a worker thread idle."""

    def __init__(self, what: str, limit: Callable[[], int]) -> None:
        self._what = what
        self._limit = limit
        self._taken = 0
        self._lock = threading.Lock()

    @property
    def taken(self) -> int:
        return self._taken

    def take(self) -> Callable[[], None]:
        with self._lock:
            limit = self._limit()
            if self._taken >= limit:
                raise Unavailable(
                    f"{limit} {self._what} are running on this server, the most it runs at"
                    f" once; retry in {RETRY_AFTER_S} s",
                    headers={"Retry-After": str(RETRY_AFTER_S)},
                )
            self._taken += 1
        released = threading.Event()

        def release() -> None:
            with self._lock:
                if not released.is_set():
                    released.set()
                    self._taken -= 1

        return release


EXPORTS = Slots("exports", lambda: get_settings().export_max_concurrent)
GEOPACKAGES = Slots("GeoPackage exports", lambda: get_settings().export_gpkg_max_concurrent)


def export_directory() -> Path:
    return get_settings().export_dir or Path(tempfile.gettempdir())


def check_free_space(directory: Path) -> None:
    """Unavailable when ``directory`` has less free space than ``export_min_free_mb``."""
    minimum = get_settings().export_min_free_mb * 1024 * 1024
    if shutil.disk_usage(directory).free < minimum:
        raise Unavailable(
            "too little free disk space to write a GeoPackage now; retry later, or export"
            " fewer incidents (filters) or as CSV",
            headers={"Retry-After": str(RETRY_AFTER_S)},
        )


def remove_stale(directory: Path) -> None:
    """Remove temporary GeoPackages a crashed or killed process left behind (a process
    removes its own file's name as soon as the file is written)."""
    cutoff = time.time() - STALE_AFTER_S
    for path in directory.glob(f"{TEMPORARY_PREFIX}*.gpkg"):
        with contextlib.suppress(OSError):
            if path.stat().st_mtime < cutoff:
                path.unlink()
