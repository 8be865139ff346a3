"""The request context every map endpoint needs: session, caller, data versions, view."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends
from sqlalchemy.orm import Session

from service.auth.dependencies import OptionalPrincipal
from service.auth.service import Principal
from service.config import get_settings
from service.db import SessionDep
from service.incident.view import IncidentView
from service.stats.service import DataState, data_state


@dataclass(frozen=True)
class MapContext:
    session: Session
    principal: Principal | None
    state: DataState
    view: IncidentView

    def tag_parts(self) -> tuple[str, str]:
        """What every map ETag depends on besides the request itself."""
        return self.state.versions, self.view.name


def map_context(session: SessionDep, principal: OptionalPrincipal) -> MapContext:
    state = data_state(session=session)
    view = IncidentView.for_principal(
        principal, cell=get_settings().public_cell_deg, timezone=state.timezone
    )
    return MapContext(session=session, principal=principal, state=state, view=view)


MapDep = Annotated[MapContext, Depends(map_context)]
