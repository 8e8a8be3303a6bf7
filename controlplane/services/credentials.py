"""Venue credentials: write-only through every interface.

Stored encrypted (bound to their bot), forwarded to the bot's agent at once when it is online
and on its next connection otherwise. No function here, or anywhere in the service layer,
returns them; the answer is only whether they exist and whether the agent has them.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from sqlmodel import select

from controlplane.db.types import utcnow
from controlplane.links.base import AgentError, RemoteCredentials
from controlplane.links.sync import credentials_aad
from controlplane.models import Agent, Role, VenueCredential
from controlplane.schemas import CredentialsIn, CredentialsOut
from controlplane.services.common import audit, bot_for, from_agent_error
from controlplane.services.principal import Principal

if TYPE_CHECKING:
    from controlplane.runtime import ControlPlane


async def set_credentials(
    cp: ControlPlane, who: Principal, bot_id: int, body: CredentialsIn
) -> CredentialsOut:
    async with cp.session() as s:
        bot = await bot_for(s, who, bot_id)
        who.require(Role.ADMIN, "setting venue credentials")
        doc = json.dumps(body.model_dump()).encode()
        row = (
            await s.exec(select(VenueCredential).where(VenueCredential.bot_id == bot_id))
        ).first()
        now = utcnow()
        if row is None:
            row = VenueCredential(
                tenant_id=who.tenant_id, bot_id=bot_id, ciphertext="", updated_by=""
            )
        row.ciphertext = cp.box.encrypt(doc, credentials_aad(bot_id))
        row.updated_by = who.actor[:100]
        row.updated_at = now
        row.pushed_at = None
        s.add(row)
        await audit(cp, who, "credentials.set", f"bot:{bot_id}", "ok", s)
        await s.commit()
        agent = await s.get(Agent, bot.agent_id)
    pushed = False
    conn = cp.links.connection(bot.agent_id)
    if conn is not None and agent is not None:
        try:
            await conn.set_credentials(bot.name, RemoteCredentials(**body.model_dump()))
        except AgentError as exc:
            await audit(cp, who, "credentials.push", f"bot:{bot_id}", "refused", reason=exc.message)
            raise from_agent_error(exc, ("body",)) from None
        async with cp.session() as s:
            fresh = await s.get(VenueCredential, row.id)
            if fresh is not None and fresh.updated_at == now:
                fresh.pushed_at = utcnow()
                s.add(fresh)
                await s.commit()
                pushed = True
    return CredentialsOut(bot_id=bot_id, has_credentials=True, updated_at=now, pushed=pushed)


async def delete_credentials(cp: ControlPlane, who: Principal, bot_id: int) -> CredentialsOut:
    """Forget the stored copy. (The agent keeps the copy it received: the agent API has no
    call to delete credentials yet.)"""
    async with cp.session() as s:
        await bot_for(s, who, bot_id)
        who.require(Role.ADMIN, "deleting venue credentials")
        row = (
            await s.exec(select(VenueCredential).where(VenueCredential.bot_id == bot_id))
        ).first()
        if row is not None:
            await s.delete(row)
        await audit(
            cp, who, "credentials.delete", f"bot:{bot_id}", "ok", s, existed=row is not None
        )
        await s.commit()
    return CredentialsOut(bot_id=bot_id, has_credentials=False, updated_at=None, pushed=False)
