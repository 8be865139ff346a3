"""Small GeoJSON boundary files for loader tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def square(x: float, y: float, size: float = 0.1) -> dict[str, Any]:
    ring = [[x, y], [x + size, y], [x + size, y + size], [x, y + size], [x, y]]
    return {"type": "Polygon", "coordinates": [ring]}


def feature(props: dict[str, Any], geometry: dict[str, Any] | None) -> dict[str, Any]:
    return {"type": "Feature", "properties": props, "geometry": geometry}


def write_collection(path: Path, features: list[dict[str, Any]], **extra: Any) -> Path:
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features, **extra}))
    return path
