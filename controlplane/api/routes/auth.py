"""Login (OAuth2 password form for scripts, JSON + cookie for the console) and logout."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Response, status
from fastapi.security import OAuth2PasswordRequestForm

from controlplane.api.deps import CP, CSRF_COOKIE, Who
from controlplane.schemas import AccessToken, LoginIn, UserOut
from controlplane.services import auth
from controlplane.services.errors import Invalid

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post("/token", response_model=AccessToken)
async def token(cp: CP, form: Annotated[OAuth2PasswordRequestForm, Depends()]) -> AccessToken:
    """Exchange username and password for a session bearer token (expires; see expires_at)."""
    try:
        creds = LoginIn(username=form.username, password=form.password)
    except ValueError:
        raise Invalid.one(("body", "username"), "invalid username or password format") from None
    return await auth.login(cp, creds.username, creds.password)


@router.post("/login", response_model=UserOut)
async def login(cp: CP, body: LoginIn, response: Response) -> UserOut:
    """Console login: sets the HttpOnly session cookie and the CSRF cookie."""
    tok = await auth.login(cp, body.username, body.password)
    who = await auth.authenticate(cp, tok.access_token)
    s = cp.settings
    response.set_cookie(
        s.session_cookie,
        tok.access_token,
        max_age=s.session_ttl_seconds,
        httponly=True,
        samesite="strict",
        secure=s.cookie_secure,
        path="/",
    )
    response.set_cookie(
        CSRF_COOKIE,
        secrets.token_urlsafe(24),
        max_age=s.session_ttl_seconds,
        httponly=False,
        samesite="strict",
        secure=s.cookie_secure,
        path="/",
    )
    return await auth.me(cp, who)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(cp: CP, who: Who, response: Response) -> Response:
    await auth.logout(cp, who)
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    response.delete_cookie(cp.settings.session_cookie, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")
    return response


@router.get("/me", response_model=UserOut)
async def me(cp: CP, who: Who) -> UserOut:
    return await auth.me(cp, who)
