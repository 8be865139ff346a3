from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy.orm import Session

from service.db import SessionDep
from service.geography import service
from service.geography.schemas import LocationRead
from service.geojson import Feature, FeatureCollection, GeoJSONResponse

router = APIRouter(prefix="/v1", tags=["geography"])

Simplify = Annotated[
    float,
    Query(
        ge=0,
        le=1,
        allow_inf_nan=False,
        description="Simplification tolerance in degrees (0 = full resolution).",
    ),
]
PCode = Annotated[str, Query(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_-]+$")]


def _area(session: Session, level: int, pcode: str, simplify: float) -> GeoJSONResponse:
    """One area as a GeoJSON Feature (id = P-code)."""
    return GeoJSONResponse(
        service.feature(session=session, level=level, pcode=pcode, simplify=simplify)
    )


@router.get(
    "/provinces", response_class=GeoJSONResponse, responses={200: {"model": FeatureCollection}}
)
def list_provinces(session: SessionDep, simplify: Simplify = 0.0) -> GeoJSONResponse:
    """Every governorate as a GeoJSON FeatureCollection (feature id = P-code)."""
    return GeoJSONResponse(
        service.feature_collection(session=session, level=service.PROVINCE_LEVEL, simplify=simplify)
    )


@router.get(
    "/provinces/{pcode}", response_class=GeoJSONResponse, responses={200: {"model": Feature}}
)
def get_province(pcode: str, session: SessionDep, simplify: Simplify = 0.0) -> GeoJSONResponse:
    return _area(session, service.PROVINCE_LEVEL, pcode, simplify)


@router.get(
    "/districts", response_class=GeoJSONResponse, responses={200: {"model": FeatureCollection}}
)
def list_districts(
    session: SessionDep,
    province: Annotated[
        str | None, Query(max_length=200, description="The governorate's P-code or name.")
    ] = None,
    simplify: Simplify = 0.0,
) -> GeoJSONResponse:
    """The districts of one governorate (or all of them), as GeoJSON."""
    parent = None
    if province is not None:
        parent = service.resolve_province(session=session, name=province).pcode
    return GeoJSONResponse(
        service.feature_collection(
            session=session, level=service.DISTRICT_LEVEL, simplify=simplify, parent=parent
        )
    )


@router.get(
    "/districts/{pcode}", response_class=GeoJSONResponse, responses={200: {"model": Feature}}
)
def get_district(pcode: str, session: SessionDep, simplify: Simplify = 0.0) -> GeoJSONResponse:
    return _area(session, service.DISTRICT_LEVEL, pcode, simplify)


@router.get("/locate", response_model=LocationRead)
def locate(
    session: SessionDep,
    lon: Annotated[float, Query(ge=-180, le=180, allow_inf_nan=False)],
    lat: Annotated[float, Query(ge=-90, le=90, allow_inf_nan=False)],
) -> LocationRead:
    """The governorate and district of a point (WGS 84). Outside the area monitored -> 422."""
    return LocationRead.model_validate(asdict(service.locate(session=session, lon=lon, lat=lat)))
