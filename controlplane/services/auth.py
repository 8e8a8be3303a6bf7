"""Logins, sessions and API tokens.

A password login creates a short-lived session token (for the console's cookie, or returned by
POST /auth/token); API tokens are long-lived and named, for scripts. Both are random 256-bit
bearer tokens stored as SHA-256 hashes and shown exactly once. A token belongs to a user, and
through the user to one tenant: that is where every request's tenant scope comes from.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlmodel import col, select

from controlplane.core.security import hash_token, new_token, token_display, verify_password
from controlplane.db.types import utcnow
from controlplane.models import ApiToken, Role, Tenant, TokenKind, User
from controlplane.schemas import AccessToken, TokenCreate, TokenCreated, TokenOut, UserOut
from controlplane.services.common import ID_MAX, audit
from controlplane.services.errors import NotFound, Unauthorized
from controlplane.services.principal import Principal

if TYPE_CHECKING:
    from controlplane.runtime import ControlPlane

LAST_USED_RESOLUTION = dt.timedelta(minutes=1)


def _principal(user: User, token: ApiToken) -> Principal:
    assert user.id is not None
    return Principal(
        user_id=user.id,
        tenant_id=user.tenant_id,
        username=user.username,
        role=Role(user.role),
        token_id=token.id,
        via="api" if token.kind == TokenKind.API.value else "session",
    )


async def login(cp: ControlPlane, username: str, password: str) -> AccessToken:
    """Check the password and open a session. Unknown users and wrong passwords fail alike."""
    async with cp.session() as s:
        user = (await s.exec(select(User).where(User.username == username))).first()
    ok = await asyncio.to_thread(verify_password, password, user.password_hash if user else None)
    if user is None or not ok or user.disabled:
        if user is not None:
            who = Principal(user.id or 0, user.tenant_id, user.username, Role(user.role))
            await audit(cp, who, "auth.login", f"user:{user.id}", "refused")
        raise Unauthorized("wrong username or password")
    token = new_token()
    expires = utcnow() + dt.timedelta(seconds=cp.settings.session_ttl_seconds)
    async with cp.session() as s:
        row = ApiToken(
            tenant_id=user.tenant_id,
            user_id=user.id or 0,
            name="session",
            kind=TokenKind.SESSION.value,
            token_hash=hash_token(token),
            display=token_display(token),
            expires_at=expires,
        )
        s.add(row)
        await audit(cp, _principal(user, row), "auth.login", f"user:{user.id}", "ok", s)
        await s.commit()
    return AccessToken(access_token=token, expires_at=expires)


async def authenticate(cp: ControlPlane, token: str) -> Principal:
    if not token or len(token) > 512:
        raise Unauthorized("missing or invalid token")
    now = utcnow()
    async with cp.session() as s:
        row = (
            await s.exec(
                select(ApiToken, User)
                .join(User, col(User.id) == ApiToken.user_id)
                .where(ApiToken.token_hash == hash_token(token))
            )
        ).first()
        if row is None:
            raise Unauthorized("missing or invalid token")
        tok, user = row
        if tok.revoked_at is not None or user.disabled:
            raise Unauthorized("token revoked")
        if tok.expires_at is not None and tok.expires_at <= now:
            raise Unauthorized("token expired")
        if tok.last_used_at is None or now - tok.last_used_at > LAST_USED_RESOLUTION:
            await s.exec(
                sa.update(ApiToken).where(col(ApiToken.id) == tok.id).values(last_used_at=now)
            )
            await s.commit()
    return _principal(user, tok)


async def logout(cp: ControlPlane, who: Principal) -> None:
    if who.token_id is None or who.via != "session":
        return
    async with cp.session() as s:
        await s.exec(
            sa.update(ApiToken).where(col(ApiToken.id) == who.token_id).values(revoked_at=utcnow())
        )
        await audit(cp, who, "auth.logout", f"user:{who.user_id}", "ok", s)
        await s.commit()


async def me(cp: ControlPlane, who: Principal) -> UserOut:
    async with cp.session() as s:
        tenant = await s.get(Tenant, who.tenant_id)
    return UserOut(
        id=who.user_id,
        username=who.username,
        role=who.role.value,
        tenant_id=who.tenant_id,
        tenant=tenant.name if tenant else "",
    )


def _out(t: ApiToken) -> TokenOut:
    assert t.id is not None
    return TokenOut(
        id=t.id,
        name=t.name,
        kind=t.kind,
        display=t.display,
        created_at=t.created_at,
        expires_at=t.expires_at,
        last_used_at=t.last_used_at,
    )


async def create_token(cp: ControlPlane, who: Principal, body: TokenCreate) -> TokenCreated:
    """A long-lived API token for the caller (same user, same role). Shown once."""
    who.require(Role.VIEWER, "creating an API token")
    token = new_token()
    expires = utcnow() + dt.timedelta(days=body.expires_in_days) if body.expires_in_days else None
    async with cp.session() as s:
        row = ApiToken(
            tenant_id=who.tenant_id,
            user_id=who.user_id,
            name=body.name,
            kind=TokenKind.API.value,
            token_hash=hash_token(token),
            display=token_display(token),
            expires_at=expires,
        )
        s.add(row)
        await s.flush()
        await audit(cp, who, "token.create", f"token:{row.id}", "ok", s, name=body.name)
        await s.commit()
        await s.refresh(row)
    return TokenCreated(**_out(row).model_dump(), token=token)


async def list_tokens(cp: ControlPlane, who: Principal) -> list[TokenOut]:
    """The caller's API tokens (admins see every API token of the tenant)."""
    q = select(ApiToken).where(
        ApiToken.tenant_id == who.tenant_id,
        ApiToken.kind == TokenKind.API.value,
        col(ApiToken.revoked_at).is_(None),
    )
    if who.role is not Role.ADMIN:
        q = q.where(ApiToken.user_id == who.user_id)
    async with cp.session() as s:
        rows = (await s.exec(q.order_by(col(ApiToken.id)))).all()
    return [_out(t) for t in rows]


async def revoke_token(cp: ControlPlane, who: Principal, token_id: int) -> None:
    if not 1 <= token_id <= ID_MAX:
        raise NotFound(f"no token {token_id}")
    async with cp.session() as s:
        tok = (
            await s.exec(
                select(ApiToken).where(
                    ApiToken.id == token_id,
                    ApiToken.tenant_id == who.tenant_id,
                    ApiToken.kind == TokenKind.API.value,
                    col(ApiToken.revoked_at).is_(None),
                )
            )
        ).first()
        if tok is None or (who.role is not Role.ADMIN and tok.user_id != who.user_id):
            raise NotFound(f"no token {token_id}")
        tok.revoked_at = utcnow()
        s.add(tok)
        await audit(cp, who, "token.revoke", f"token:{token_id}", "ok", s)
        await s.commit()
