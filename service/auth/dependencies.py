"""Who is calling, and may they: bearer keys, roles (deny by default), per-key rate limit."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from service.audit.service import record
from service.auth import ratelimit
from service.auth.models import Role
from service.auth.service import Principal, authenticate
from service.config import get_settings
from service.db import SessionDep
from service.errors import Forbidden, Unauthorized

_bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer <secret>`")
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="ceasefire-monitor"'}
_INVALID = {"WWW-Authenticate": 'Bearer realm="ceasefire-monitor", error="invalid_token"'}

Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def optional_principal(session: SessionDep, credentials: Credentials) -> Principal | None:
    """The caller's key, or None for the public. A key that is given must be valid."""
    if credentials is None:
        return None
    if credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise Unauthorized("use `Authorization: Bearer <API key>`", headers=_CHALLENGE)
    found = authenticate(session=session, secret=credentials.credentials)
    if found.revoked:
        raise Unauthorized("this API key has been revoked", headers=_INVALID)
    if found.principal is None:
        raise Unauthorized("unknown API key", headers=_INVALID)
    settings = get_settings()
    ratelimit.check(
        f"key:{found.principal.key_id}",
        limit=settings.rate_limit_requests,
        window_s=settings.rate_limit_window_s,
    )
    return found.principal


# The OpenAPI document marks operations that depend on a function carrying this attribute
# (and on no `require`) as taking a key optionally.
optional_principal.optional_auth = True  # type: ignore[attr-defined]

OptionalPrincipal = Annotated[Principal | None, Depends(optional_principal)]


def require(*roles: Role) -> Callable[..., Principal]:
    """A dependency admitting only keys with one of ``roles``."""
    allowed = frozenset(roles)

    def dependency(
        request: Request, session: SessionDep, principal: OptionalPrincipal
    ) -> Principal:
        if principal is None:
            raise Unauthorized("an API key is required", headers=_CHALLENGE)
        if principal.role not in allowed:
            needed = " or ".join(sorted(r.value for r in allowed))
            # A key trying what its role may not is worth a trace (OWASP API5): audited in
            # its own commit, before anything else of this request has happened.
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
        return principal

    return dependency


Reporter = Annotated[Principal, Depends(require(Role.reporter, Role.verifier, Role.admin))]
Verifier = Annotated[Principal, Depends(require(Role.verifier, Role.admin))]
Reader = Annotated[Principal, Depends(require(Role.verifier, Role.monitor, Role.admin))]
AnyKey = Annotated[Principal, Depends(require(*Role))]
Admin = Annotated[Principal, Depends(require(Role.admin))]
Monitor = Annotated[Principal, Depends(require(Role.monitor, Role.admin))]
