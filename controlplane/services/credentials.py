"""Venue credentials and agents' Telegram bot tokens: write-only through every interface.

Stored encrypted (bound to their bot or agent), forwarded to the agent at once when it is
online and on its next connection otherwise; a delete is forwarded the same way (the row stays,
emptied and marked deleted, until the agent has deleted its copy). No function here, or
anywhere in the service layer, returns a secret; the answer is only whether one is set, since
when, and whether the agent has it.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from controlplane.db.types import utcnow
from controlplane.links.base import AgentConnection, AgentError, RemoteCredentials
from controlplane.links.sync import credentials_aad, settle_credential, telegram_aad
from controlplane.models import Role, TelegramToken, VenueCredential
from controlplane.schemas import CredentialsIn, CredentialsOut, TelegramTokenIn, TelegramTokenOut
from controlplane.services.common import agent_for, audit, bot_for, from_agent_error
from controlplane.services.principal import Principal

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from controlplane.runtime import ControlPlane


# ---------------------------------------------------------------------- when set (for listings)
async def venue_set_at(
    s: AsyncSession, *where: sa.ColumnElement[bool] | bool
) -> dict[int, dt.datetime]:
    """bot id -> when its (not deleted) venue keys were set, for the bots `where` selects."""
    rows = await s.exec(
        select(VenueCredential.bot_id, VenueCredential.updated_at).where(
            col(VenueCredential.deleted_at).is_(None), *where
        )
    )
    return dict(rows.all())


async def telegram_set_at(
    s: AsyncSession, *where: sa.ColumnElement[bool] | bool
) -> dict[int, dt.datetime]:
    """agent id -> when its (not deleted) Telegram token was set."""
    rows = await s.exec(
        select(TelegramToken.agent_id, TelegramToken.updated_at).where(
            col(TelegramToken.deleted_at).is_(None), *where
        )
    )
    return dict(rows.all())


async def _forward(
    cp: ControlPlane,
    who: Principal,
    agent_id: int,
    row: VenueCredential | TelegramToken,
    action: str,
    target: str,
    send: Callable[[AgentConnection], Awaitable[object]],
) -> bool:
    """Send a stored change to the agent if it is connected now. True when the agent has it;
    False when it is offline (the link forwards the change when it reconnects). A refusal is
    raised; the change stays stored and pending."""
    conn = cp.links.connection(agent_id)
    if conn is None:
        return False
    try:
        await send(conn)
    except AgentError as exc:
        await audit(cp, who, action, target, "refused", reason=exc.message)
        raise from_agent_error(exc, ("body",)) from None
    return await settle_credential(cp, row, deleted=row.deleted_at is not None)


async def _stage(
    cp: ControlPlane,
    who: Principal,
    s: AsyncSession,
    row: VenueCredential | TelegramToken,
    ciphertext: str,
    action: str,
    target: str,
) -> None:
    """Write the new state of a secret (`ciphertext`, or "" for a delete) as pending for the
    agent, with its audit entry, in one transaction."""
    existed = bool(row.ciphertext) and row.deleted_at is None
    row.ciphertext = ciphertext
    row.updated_by = who.actor[:100]
    row.updated_at = utcnow()
    row.pushed_at = None
    row.deleted_at = None if ciphertext else row.updated_at
    s.add(row)
    await audit(cp, who, action, target, "ok", s, existed=existed)
    await s.commit()
    await s.refresh(row)


# ---------------------------------------------------------------------- venue credentials
async def _venue_row(s: AsyncSession, who: Principal, bot_id: int) -> VenueCredential:
    row = (await s.exec(select(VenueCredential).where(VenueCredential.bot_id == bot_id))).first()
    # No row yet: a delete still goes to the agent (it may hold keys set with `mmbot ctl`).
    return row or VenueCredential(
        tenant_id=who.tenant_id, bot_id=bot_id, ciphertext="", updated_by=""
    )


async def set_credentials(
    cp: ControlPlane, who: Principal, bot_id: int, body: CredentialsIn
) -> CredentialsOut:
    async with cp.session() as s:
        bot = await bot_for(s, who, bot_id)
        who.require(Role.ADMIN, "setting venue credentials")
        row = await _venue_row(s, who, bot_id)
        doc = json.dumps(body.model_dump()).encode()
        cipher = cp.box.encrypt(doc, credentials_aad(bot_id))
        await _stage(cp, who, s, row, cipher, "credentials.set", f"bot:{bot_id}")
    name, creds = bot.name, RemoteCredentials(**body.model_dump())
    pushed = await _forward(
        cp, who, bot.agent_id, row, "credentials.push", f"bot:{bot_id}",
        lambda conn: conn.set_credentials(name, creds),
    )  # fmt: skip
    return CredentialsOut(
        bot_id=bot_id, has_credentials=True, updated_at=row.updated_at, pushed=pushed
    )


async def delete_credentials(cp: ControlPlane, who: Principal, bot_id: int) -> CredentialsOut:
    """Forget the stored copy, and have the agent forget its copy (now, or when it next
    connects). A bot that is running keeps the keys it loaded until it is restarted."""
    async with cp.session() as s:
        bot = await bot_for(s, who, bot_id)
        who.require(Role.ADMIN, "deleting venue credentials")
        row = await _venue_row(s, who, bot_id)
        await _stage(cp, who, s, row, "", "credentials.delete", f"bot:{bot_id}")
    name = bot.name
    pushed = await _forward(
        cp, who, bot.agent_id, row, "credentials.delete", f"bot:{bot_id}",
        lambda conn: conn.delete_credentials(name),
    )  # fmt: skip
    return CredentialsOut(bot_id=bot_id, has_credentials=False, updated_at=None, pushed=pushed)


# ---------------------------------------------------------------------- Telegram bot token
async def _telegram_row(s: AsyncSession, who: Principal, agent_id: int) -> TelegramToken:
    row = (await s.exec(select(TelegramToken).where(TelegramToken.agent_id == agent_id))).first()
    return row or TelegramToken(
        tenant_id=who.tenant_id, agent_id=agent_id, ciphertext="", updated_by=""
    )


async def telegram_token_status(
    cp: ControlPlane, who: Principal, agent_id: int
) -> TelegramTokenOut:
    async with cp.session() as s:
        await agent_for(s, who, agent_id)
        row = await _telegram_row(s, who, agent_id)
    if row.id is None:
        return TelegramTokenOut(agent_id=agent_id, has_token=False, updated_at=None, pushed=True)
    pushed = row.pushed_at is not None and row.pushed_at >= row.updated_at
    has = row.deleted_at is None
    return TelegramTokenOut(
        agent_id=agent_id, has_token=has, updated_at=row.updated_at if has else None, pushed=pushed
    )


async def set_telegram_token(
    cp: ControlPlane, who: Principal, agent_id: int, body: TelegramTokenIn
) -> TelegramTokenOut:
    """Store the agent's Telegram bot token and forward it; the agent's notifier picks it up
    on its next check, without a restart."""
    async with cp.session() as s:
        await agent_for(s, who, agent_id)
        who.require(Role.ADMIN, "setting the Telegram bot token")
        row = await _telegram_row(s, who, agent_id)
        cipher = cp.box.encrypt(body.token.encode(), telegram_aad(agent_id))
        await _stage(cp, who, s, row, cipher, "telegram_token.set", f"agent:{agent_id}")
    token = body.token
    pushed = await _forward(
        cp, who, agent_id, row, "telegram_token.push", f"agent:{agent_id}",
        lambda conn: conn.set_telegram_token(token),
    )  # fmt: skip
    return TelegramTokenOut(
        agent_id=agent_id, has_token=True, updated_at=row.updated_at, pushed=pushed
    )


async def delete_telegram_token(
    cp: ControlPlane, who: Principal, agent_id: int
) -> TelegramTokenOut:
    """Forget the token here and on the agent (now, or when it next connects). An agent
    started with MMBOT_TELEGRAM_BOT_TOKEN in its environment keeps using that one."""
    async with cp.session() as s:
        await agent_for(s, who, agent_id)
        who.require(Role.ADMIN, "deleting the Telegram bot token")
        row = await _telegram_row(s, who, agent_id)
        await _stage(cp, who, s, row, "", "telegram_token.delete", f"agent:{agent_id}")
    pushed = await _forward(
        cp, who, agent_id, row, "telegram_token.delete", f"agent:{agent_id}",
        lambda conn: conn.delete_telegram_token(),
    )  # fmt: skip
    return TelegramTokenOut(agent_id=agent_id, has_token=False, updated_at=None, pushed=pushed)
