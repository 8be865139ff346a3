from __future__ import annotations

from typing import Literal

from pydantic import BaseModel


class AreaRead(BaseModel):
    pcode: str
    name_en: str
    name_ar: str | None


class LocationRead(BaseModel):
    province: AreaRead
    district: AreaRead | None
    match: Literal["inside", "nearest"]
    distance_km: float
