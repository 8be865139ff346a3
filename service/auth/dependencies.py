"""Who is calling, and may they: bearer keys, roles (deny by default), rate limits per key,
per anonymous client address and per address failing to authenticate."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import anyio.to_thread
from fastapi import Depends, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from service.audit.service import record
from service.auth import keycache, ratelimit
from service.auth.models import Role
from service.auth.service import Principal
from service.config import get_settings
from service.db import SessionDep
from service.errors import Forbidden, Unauthorized

_bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer <secret>`")
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="ceasefire-monitor"'}
_INVALID = {"WWW-Authenticate": 'Bearer realm="ceasefire-monitor", error="invalid_token"'}
# Map endpoints also take the key as the password of HTTP Basic (desktop GIS clients).
BASIC_CHALLENGE = {
    "WWW-Authenticate": 'Basic realm="ceasefire-monitor", charset="UTF-8",'
    ' Bearer realm="ceasefire-monitor"'
}

# What any route behind a key may answer besides its own errors (OpenAPI ``responses``).
KEY_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing, unknown or revoked API key"},
    403: {"description": "Not allowed for this key's role"},
    429: {"description": "Rate limited (see Retry-After)"},
}

Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def _failures_bucket(request: Request) -> str:
    return f"authfail:{ratelimit.client_address(request)}"


def _failures_limit() -> dict[str, Any]:
    settings = get_settings()
    return {
        "limit": settings.rate_limit_auth_failures,
        "window_s": settings.rate_limit_window_s,
        "what": "failed authentications",
    }


def refuse_spent_failures(request: Request) -> bytes | None:
    """429 for an address that failed to authenticate too often this window, before any
    key is looked up (guessing keys gets nowhere). Returns the key revocation counter, read
    in the same round trip (see ``service.auth.keycache``)."""
    return ratelimit.refuse_if_spent(
        _failures_bucket(request), **_failures_limit(), also=keycache.REVOCATIONS
    )


def authentication_failed(request: Request, error: Unauthorized) -> Unauthorized:
    """Count a failed authentication of the caller's address; the error to raise."""
    ratelimit.check(_failures_bucket(request), **_failures_limit())
    return error


def optional_principal(
    request: Request, session: SessionDep, credentials: Credentials
) -> Principal | None:
    """The caller's key, or None for the public. A key that is given must be valid."""
    if credentials is None:
        count_anonymous(request)
        return None
    principal = check_key(request, session, credentials)
    settings = get_settings()
    ratelimit.check(
        f"key:{principal.key_id}",
        limit=settings.rate_limit_requests,
        window_s=settings.rate_limit_window_s,
    )
    return principal


def check_key(
    request: Request, session: Session, credentials: HTTPAuthorizationCredentials
) -> Principal:
    """The principal of a Bearer key, or 401. An address that failed too often this window
    is refused (429) before any key is looked up; every failure counts against it."""
    revocations = refuse_spent_failures(request)
    if credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise authentication_failed(
            request, Unauthorized("use `Authorization: Bearer <API key>`", headers=_CHALLENGE)
        )
    found = keycache.verify(
        session=session, secret=credentials.credentials, revocations=revocations
    )
    if found.revoked:
        raise authentication_failed(
            request, Unauthorized("this API key has been revoked", headers=_INVALID)
        )
    if found.principal is None:
        raise authentication_failed(request, Unauthorized("unknown API key", headers=_INVALID))
    return found.principal


def refuse_role(
    request: Request, session: Session, principal: Principal, allowed: frozenset[Role]
) -> None:
    """403 unless the key's role is allowed. A key trying what its role may not is worth a
    trace (OWASP API5): audited in its own commit, before anything else of this request."""
    if principal.role in allowed:
        return
    needed = " or ".join(sorted(r.value for r in allowed))
    route = getattr(request.scope.get("route"), "path", request.url.path)
    record(
        session,
        actor=principal.actor,
        action="access.denied",
        entity_type="route",
        entity_id=f"{request.method} {route}",
        reason=f"role {principal.role.value}; needs {needed}",
    )
    session.commit()
    raise Forbidden(f"a {principal.role.value} key may not do this (needs {needed})")


# The OpenAPI document marks operations that depend on a function carrying this attribute
# (and on no `require`) as taking a key optionally.
optional_principal.optional_auth = True  # type: ignore[attr-defined]

OptionalPrincipal = Annotated[Principal | None, Depends(optional_principal)]


def _reads_key(dependant: Dependant) -> bool:
    return getattr(dependant.call, "optional_auth", False) or any(
        _reads_key(d) for d in dependant.dependencies
    )


def count_anonymous(request: Request) -> None:
    """Count a request without a key against its client address's limit (health checks
    are never limited)."""
    route: Any = request.scope.get("route")
    if "health" in getattr(route, "tags", ()):
        return
    settings = get_settings()
    ratelimit.check(
        f"anon:{ratelimit.client_address(request)}",
        limit=settings.rate_limit_anonymous_requests,
        window_s=settings.rate_limit_window_s,
        what="requests without an API key",
    )


async def anonymous_rate_limit(request: Request) -> None:
    """An application-wide dependency: a request to an endpoint that reads no key counts
    against its client address's limit. Endpoints that read keys count their anonymous
    callers themselves (``optional_principal``), keyed ones against the key and failed ones
    against the address's failures. Health checks are never limited, and are answered
    without waiting for a worker thread (this is async; only Redis work takes a thread)."""
    route: Any = request.scope.get("route")
    if "health" in getattr(route, "tags", ()):
        return
    if isinstance(route, APIRoute) and not _reads_key(route.dependant):
        await anyio.to_thread.run_sync(count_anonymous, request)


def require(*roles: Role) -> Callable[..., Principal]:
    """A dependency admitting only keys with one of ``roles``."""
    allowed = frozenset(roles)

    def dependency(
        request: Request, session: SessionDep, principal: OptionalPrincipal
    ) -> Principal:
        if principal is None:
            raise Unauthorized("an API key is required", headers=_CHALLENGE)
        refuse_role(request, session, principal, allowed)
        return principal

    return dependency


Reporter = Annotated[Principal, Depends(require(Role.reporter, Role.verifier, Role.admin))]
Verifier = Annotated[Principal, Depends(require(Role.verifier, Role.admin))]
Reader = Annotated[Principal, Depends(require(Role.verifier, Role.monitor, Role.admin))]
AnyKey = Annotated[Principal, Depends(require(*Role))]
Admin = Annotated[Principal, Depends(require(Role.admin))]
Monitor = Annotated[Principal, Depends(require(Role.monitor, Role.admin))]
