"""Tenants and users: bootstrap and administration (CLI, `mmbot demo`, tests).

These take no Principal: they are for the operator of the control plane itself (a SaaS admin
tool later), not for tenants, and no REST route exposes them.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlmodel import select

from controlplane.core.security import hash_password
from controlplane.models import Role, Tenant, User
from controlplane.services.errors import Conflict, Invalid

if TYPE_CHECKING:
    from controlplane.runtime import ControlPlane

MIN_PASSWORD_CHARS = 8


async def create_tenant(cp: ControlPlane, name: str) -> Tenant:
    if not name or len(name) > 100:
        raise Invalid.one(("name",), "must be 1-100 characters")
    async with cp.session() as s:
        tenant = Tenant(name=name)
        s.add(tenant)
        try:
            await s.commit()
        except sa.exc.IntegrityError:
            raise Conflict(f"a tenant named {name!r} exists") from None
        await s.refresh(tenant)
        return tenant


async def get_or_create_tenant(cp: ControlPlane, name: str) -> Tenant:
    async with cp.session() as s:
        t = (await s.exec(select(Tenant).where(Tenant.name == name))).first()
    return t if t is not None else await create_tenant(cp, name)


async def create_user(
    cp: ControlPlane, tenant_id: int, username: str, password: str, role: Role = Role.ADMIN
) -> User:
    if len(password) < MIN_PASSWORD_CHARS:
        raise Invalid.one(("password",), f"must be at least {MIN_PASSWORD_CHARS} characters")
    if not username or len(username) > 64 or any(c.isspace() for c in username):
        raise Invalid.one(("username",), "must be 1-64 characters without spaces")
    hashed = await asyncio.to_thread(hash_password, password)  # argon2 is slow on purpose
    async with cp.session() as s:
        user = User(tenant_id=tenant_id, username=username, password_hash=hashed, role=role)
        s.add(user)
        try:
            await s.commit()
        except sa.exc.IntegrityError:
            raise Conflict(f"a user named {username!r} exists") from None
        await s.refresh(user)
        return user


async def set_password(cp: ControlPlane, username: str, password: str) -> None:
    if len(password) < MIN_PASSWORD_CHARS:
        raise Invalid.one(("password",), f"must be at least {MIN_PASSWORD_CHARS} characters")
    async with cp.session() as s:
        user = (await s.exec(select(User).where(User.username == username))).first()
        if user is None:
            raise Invalid.one(("username",), f"no user {username!r}")
        user.password_hash = await asyncio.to_thread(hash_password, password)
        s.add(user)
        await s.commit()


async def find_user(cp: ControlPlane, username: str) -> User | None:
    async with cp.session() as s:
        return (await s.exec(select(User).where(User.username == username))).first()


async def ensure_user(
    cp: ControlPlane,
    username: str,
    password: str,
    *,
    tenant: str = "default",
    role: Role = Role.ADMIN,
) -> User:
    """The user, created (with its tenant) if missing; an existing user's password is set to
    `password`. For `mmbot demo`, which must work on a fresh and on a reused data dir."""
    user = await find_user(cp, username)
    if user is None:
        t = await get_or_create_tenant(cp, tenant)
        assert t.id is not None
        return await create_user(cp, t.id, username, password, role)
    await set_password(cp, username, password)
    return user
