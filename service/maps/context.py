"""The request context every map endpoint needs: session, caller, data versions, view."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials
from sqlalchemy.orm import Session
from starlette.responses import Response

from service import caching
from service.auth.dependencies import (
    BASIC_CHALLENGE,
    Credentials,
    authentication_failed,
    optional_principal,
    refuse_spent_failures,
)
from service.auth.service import Principal
from service.config import get_settings
from service.db import SessionDep, read_without_transaction
from service.errors import Unauthorized
from service.maps.state import DataState, data_state
from service.maps.view import IncidentView


class MapContext:
    """A map request's session, caller, data state and view.

    Made on the event loop without any I/O; the caller's key and the data state are read
    on first use, in the endpoint's worker thread (``resolve``). FastAPI runs each
    synchronous dependency on a worker thread of its own, and on a busy machine each hop
    costs a map request about a tenth of a millisecond (bench/overhead.py): a single item
    now takes one hop, its endpoint's, instead of three.
    """

    def __init__(self, request: Request, session: Session, credentials: Credentials) -> None:
        self.request = request
        self.session = session
        self._credentials = credentials
        self._resolved: tuple[Principal | None, DataState, IncidentView] | None = None

    def resolve(self) -> tuple[Principal | None, DataState, IncidentView]:
        """The caller (401/429 for a bad key, as before any other work), the data state
        and the view; read once."""
        if self._resolved is None:
            read_without_transaction(self.session)
            principal = map_principal(self.request, self.session, self._credentials)
            state = data_state(session=self.session)
            view = IncidentView.for_principal(
                principal, cell=get_settings().public_cell_deg, timezone=state.timezone
            )
            self._resolved = (principal, state, view)
        return self._resolved

    @property
    def principal(self) -> Principal | None:
        return self.resolve()[0]

    @property
    def state(self) -> DataState:
        return self.resolve()[1]

    @property
    def view(self) -> IncidentView:
        return self.resolve()[2]

    def tag_parts(self) -> tuple[str, str]:
        """What every map ETag depends on besides the request itself: for the public view,
        the public version of incidents (bumped only when a verified incident is written),
        so a public ETag does not tell when unverified reports arrive."""
        return self.state.tag_versions(public=self.view.public), self.view.name

    def conditional(
        self,
        request: Request,
        *tag_parts: object,
        media_type: str,
        build: Callable[[], bytes | list[bytes]],
    ) -> Response:
        """A map answer with its validators (ETag from ``tag_parts`` and what every map
        ETag depends on; public caching for the public view): 304 when the client holds
        it, else what ``build`` makes."""
        return caching.conditional(
            request,
            tag=caching.etag(*self.tag_parts(), *tag_parts),
            public=self.view.public,
            max_age_s=get_settings().map_public_max_age_s,
            media_type=media_type,
            build=build,
        )


def map_principal(
    request: Request, session: SessionDep, credentials: Credentials
) -> Principal | None:
    """The caller's key, from a Bearer header or, for desktop GIS clients that cannot send
    one (QGIS without a plugin), from HTTP Basic with the key as the password."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "basic":
        refuse_spent_failures(request)
        try:
            _, _, secret = base64.b64decode(value.strip(), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise authentication_failed(
                request,
                Unauthorized("Basic credentials: not base64 of user:key", headers=BASIC_CHALLENGE),
            ) from exc
        credentials = HTTPAuthorizationCredentials(scheme="Bearer", credentials=secret)
        try:
            return optional_principal(request, session, credentials)
        except Unauthorized as exc:
            # Answered in the scheme the client used, so it asks its user again.
            exc.headers = {**exc.headers, **BASIC_CHALLENGE}
            raise
    return optional_principal(request, session, credentials)


async def map_context(
    request: Request, session: SessionDep, credentials: Credentials
) -> MapContext:
    """The caller and the data state, read when the endpoint first needs them, in its own
    worker thread (no thread of this dependency's: it does no I/O)."""
    return MapContext(request, session, credentials)


# The OpenAPI document marks operations depending on this as taking a key optionally.
map_context.optional_auth = True  # type: ignore[attr-defined]

MapDep = Annotated[MapContext, Depends(map_context)]
