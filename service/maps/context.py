"""The request context every map endpoint needs: session, caller, data versions, view."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
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
from service.replica import ReplicaSessionDep, reads_replica, skip_replica


class MapContext:
    """A map request's session, caller, data state and view.

    Made on the event loop without any I/O; the caller's key and the data state are read
    on first use, in the endpoint's worker thread (``resolve``). FastAPI runs each
    synchronous dependency on a worker thread of its own, and on a busy machine each hop
    costs a map request about a tenth of a millisecond (bench/overhead.py): a single item
    now takes one hop, its endpoint's, instead of three.

    The key is checked on the primary (a key made a moment ago is not yet on the replica);
    the public's and monitors' data state and data then come from the replica, if one is
    configured and answers (``service.replica``), else from the primary: ``session`` is
    the one the data is read from.
    """

    def __init__(
        self,
        request: Request,
        primary: Session,
        replica: Session | None,
        credentials: Credentials,
        *,
        in_transaction: bool = False,
    ) -> None:
        self.request = request
        self._primary = primary
        self._replica = replica
        self._credentials = credentials
        # Reads in the session's transaction, as any other route does (a server-side cursor,
        # as an export reads, lives in one); otherwise each statement is its own.
        self._in_transaction = in_transaction
        self._resolved: tuple[Session, Principal | None, DataState, IncidentView] | None = None
        # With the data from the replica: reads the primary's data state, only for a
        # conditional request whose validator is not the replica's (see ``conditional``).
        self.primary_state: Callable[[], DataState] | None = None

    def resolve(self) -> tuple[Session, Principal | None, DataState, IncidentView]:
        """The data's session, the caller (401/429 for a bad key, before any data is
        read), the data state and the view; read once."""
        if self._resolved is None:
            self._without_transaction(self._primary)
            principal = map_principal(self.request, self._primary, self._credentials)
            session, state = self._replica_state(principal) or (
                self._primary,
                data_state(session=self._primary),
            )
            view = IncidentView.for_principal(
                principal, cell=get_settings().public_cell_deg, timezone=state.timezone
            )
            self._resolved = (session, principal, state, view)
        return self._resolved

    def _without_transaction(self, session: Session) -> None:
        if not self._in_transaction:
            read_without_transaction(session)
        else:
            session.connection()  # connects now, as without a transaction

    def _replica_state(self, principal: Principal | None) -> tuple[Session, DataState] | None:
        replica = self._replica
        if replica is None or not reads_replica(principal):
            return None
        try:
            self._without_transaction(replica)  # connects: a refusal shows here
            state = data_state(session=replica)
        except OperationalError:
            replica.rollback()
            skip_replica()
            return None
        self.primary_state = lambda: data_state(session=self._primary)
        return replica, state

    @property
    def session(self) -> Session:
        return self.resolve()[0]

    @property
    def principal(self) -> Principal | None:
        return self.resolve()[1]

    @property
    def state(self) -> DataState:
        return self.resolve()[2]

    @property
    def view(self) -> IncidentView:
        return self.resolve()[3]

    def tag_parts(self, state: DataState | None = None) -> tuple[str, str]:
        """What every map ETag depends on besides the request itself: for the public view,
        the public version of incidents (bumped only when a verified incident is written),
        so a public ETag does not tell when unverified reports arrive."""
        return (state or self.state).tag_versions(public=self.view.public), self.view.name

    def conditional(
        self,
        request: Request,
        *tag_parts: object,
        media_type: str,
        build: Callable[[], bytes | list[bytes]],
    ) -> Response:
        """A map answer with its validators (ETag from ``tag_parts`` and what every map
        ETag depends on; public caching for the public view): 304 when the client holds
        it, else what ``build`` makes.

        An ETag never moves backwards: read from a replica, a validator that is not the
        replica's is compared with the primary's current one too. A client (or nginx) that
        holds the primary's newer answer gets 304, not the replica's older one."""
        tag = caching.etag(*self.tag_parts(), *tag_parts)
        max_age_s = get_settings().map_public_max_age_s
        if (
            self.primary_state is not None
            and request.headers.get("if-none-match")
            and not caching.matches(request, tag)
        ):
            try:
                newer = caching.etag(*self.tag_parts(self.primary_state()), *tag_parts)
            except (OperationalError, PoolTimeout):
                newer = None  # the primary is down or busy: the replica answers alone
            if newer is not None and caching.matches(request, newer):
                public = self.view.public and not caching.credentialed(request)
                headers = caching.cache_headers(newer, public=public, max_age_s=max_age_s)
                return Response(status_code=304, headers=headers)
        return caching.conditional(
            request,
            tag=tag,
            public=self.view.public,
            max_age_s=max_age_s,
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
    request: Request, session: SessionDep, replica: ReplicaSessionDep, credentials: Credentials
) -> MapContext:
    """The caller and the data state, read when the endpoint first needs them, in its own
    worker thread (no thread of this dependency's: it does no I/O)."""
    return MapContext(request, session, replica, credentials)


async def map_context_in_transaction(
    request: Request, session: SessionDep, replica: ReplicaSessionDep, credentials: Credentials
) -> MapContext:
    """As ``map_context``, for a route that reads in one transaction (an export's
    server-side cursor): its session closes with a rollback, on a worker thread."""
    return MapContext(request, session, replica, credentials, in_transaction=True)


# The OpenAPI document marks operations depending on these as taking a key optionally.
map_context.optional_auth = True  # type: ignore[attr-defined]
map_context_in_transaction.optional_auth = True  # type: ignore[attr-defined]

MapDep = Annotated[MapContext, Depends(map_context)]
MapTransactionDep = Annotated[MapContext, Depends(map_context_in_transaction)]
