"""Event filters for the ``/v1`` lists, read by the same resolver as the map routes.

FastAPI does not validate these parameters itself (it would answer 422 with its own
wording): the route documents them with ``EVENT_FILTERS`` (``openapi_extra``) and this
dependency hands their raw values to ``read_filters``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from service.db import SessionDep
from service.event.filters import EventFilters
from service.event.parameters import FILTER_PARAMS, INCIDENT_PARAMS
from service.event.resolve import read_filters


def _raw(request: Request, names: frozenset[str]) -> dict[str, list[str]]:
    raw: dict[str, list[str]] = {}
    for name, value in request.query_params.multi_items():
        if name in names:
            raw.setdefault(name, []).append(value)
    return raw


def event_filters(request: Request, session: SessionDep) -> EventFilters:
    """The event filters of a list of reports (no review status: reports have none)."""
    return read_filters(session=session, raw=_raw(request, FILTER_PARAMS))


def incident_filters(request: Request, session: SessionDep) -> EventFilters:
    """The event filters of a list of incidents, with their review ``status``."""
    return read_filters(session=session, raw=_raw(request, FILTER_PARAMS | INCIDENT_PARAMS))


EventFiltersDep = Annotated[EventFilters, Depends(event_filters)]
IncidentFiltersDep = Annotated[EventFilters, Depends(incident_filters)]
