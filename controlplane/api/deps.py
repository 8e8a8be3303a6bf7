"""Request dependencies: the ControlPlane, and the caller (bearer token or session cookie).

Bearer tokens (API tokens, or session tokens from POST /auth/token) suit scripts. The console's
session cookie is HttpOnly and SameSite=Strict; on top of that, a state-changing request
authenticated by the cookie must echo the CSRF cookie in the X-CSRF-Token header (double
submit), so another site can never make a logged-in browser steer a bot.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer

from controlplane.runtime import ControlPlane
from controlplane.services import auth
from controlplane.services.errors import Forbidden, Unauthorized
from controlplane.services.principal import Principal

CSRF_COOKIE = "mmbot_csrf"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

oauth2 = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


def get_cp(request: Request) -> ControlPlane:
    cp: ControlPlane = request.app.state.cp
    return cp


CP = Annotated[ControlPlane, Depends(get_cp)]


async def get_principal(
    request: Request, cp: CP, bearer: Annotated[str | None, Depends(oauth2)]
) -> Principal:
    if bearer:
        return await auth.authenticate(cp, bearer)
    cookie = request.cookies.get(cp.settings.session_cookie)
    if not cookie:
        raise Unauthorized("not authenticated: send 'Authorization: Bearer <token>'")
    who = await auth.authenticate(cp, cookie)
    if request.method not in SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        expected = request.cookies.get(CSRF_COOKIE, "")
        if not expected or not hmac.compare_digest(sent, expected):
            raise Forbidden("missing or wrong X-CSRF-Token header for a cookie session")
    return who


Who = Annotated[Principal, Depends(get_principal)]
