"""What a link does with the database besides archiving: load how to reach its agent, mirror
the agent's bots, import configs changed on the agent, and forward pending credentials.

These run outside any user request, so they take no Principal; they act only on the rows of
the link's own agent (and so of its tenant).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from controlplane.db.types import utcnow
from controlplane.links.base import (
    AgentConnection,
    AgentError,
    AgentErrorCode,
    AgentTarget,
    RemoteCredentials,
    RemoteInfo,
    TlsClientMaterial,
)
from controlplane.models import (
    Agent,
    Bot,
    ConfigSource,
    ConfigVersion,
    EventRecord,
    FillRecord,
    TelegramToken,
    TlsMaterial,
    VenueCredential,
)

if TYPE_CHECKING:
    from controlplane.runtime import ControlPlane

log = logging.getLogger("mmbot.controlplane.link")

QUIET_KINDS = ("status", "order")


def token_aad(agent_id: int) -> str:
    return f"agent:{agent_id}:token"


def tls_key_aad(tls_id: int) -> str:
    return f"tls:{tls_id}:client-key"


def credentials_aad(bot_id: int) -> str:
    return f"bot:{bot_id}:venue-credentials"


async def load_target(cp: ControlPlane, agent_id: int) -> tuple[AgentTarget, Agent]:
    async with cp.session() as s:
        agent = await s.get(Agent, agent_id)
        if agent is None:
            raise LookupError(f"agent {agent_id} is gone")
        tls = await s.get(TlsMaterial, agent.tls_id) if agent.tls_id is not None else None
    token = cp.box.decrypt(agent.token_enc, token_aad(agent_id)).decode()
    material = None
    if tls is not None:
        assert tls.id is not None
        material = TlsClientMaterial(
            tls.ca_cert_pem.encode(),
            tls.client_cert_pem.encode(),
            cp.box.decrypt(tls.client_key_enc, tls_key_aad(tls.id)),
            tls.server_name,
        )
    return AgentTarget(agent_id, agent.endpoint, token, material), agent


async def record_contact(
    cp: ControlPlane, agent_id: int, *, error: str, seen: dt.datetime | None = None
) -> None:
    """The link's last error (empty when healthy) and when the agent was last heard from."""
    values: dict[str, Any] = {"last_error": error[:2000]}
    if seen is not None:
        values["last_seen_at"] = seen
    async with cp.session() as s:
        await s.exec(sa.update(Agent).where(col(Agent.id) == agent_id).values(**values))
        await s.commit()


async def sync_bots(
    cp: ControlPlane, agent: Agent, info: RemoteInfo, *, retry: bool = True
) -> list[Bot]:
    """Mirror the agent's bots (create new ones, refresh venue/symbol/state) and record the
    contact (version, last seen, no error), in one transaction."""
    assert agent.id is not None
    now = utcnow()
    async with cp.session() as s:
        existing = {
            b.name: b for b in (await s.exec(select(Bot).where(Bot.agent_id == agent.id))).all()
        }
        for rb in info.bots:
            b = existing.get(rb.name)
            if b is None:
                b = Bot(
                    tenant_id=agent.tenant_id,
                    agent_id=agent.id,
                    name=rb.name[:64],
                    venue=rb.venue[:64],
                    symbol=rb.symbol[:64],
                    state=rb.state[:32],
                    agent_config_version=0,
                )
                existing[rb.name] = b
            elif (b.venue, b.symbol, b.state) != (rb.venue[:64], rb.symbol[:64], rb.state[:32]):
                b.venue, b.symbol, b.state = rb.venue[:64], rb.symbol[:64], rb.state[:32]
                b.updated_at = now
            s.add(b)
        await s.exec(
            sa.update(Agent)
            .where(col(Agent.id) == agent.id)
            .values(agent_version=info.version[:64], last_seen_at=now, last_error="")
        )
        try:
            await s.commit()
        except sa.exc.IntegrityError:
            # The archive writer created one of these bots meanwhile (it saw an event first).
            await s.rollback()
            if not retry:
                raise
            return await sync_bots(cp, agent, info, retry=False)
        bots = list(existing.values())
    for b in bots:
        assert b.id is not None
        cp.archive.remember_bot(agent.id, b.name, b.id, b.tenant_id, b.symbol)
        cp.live.bot(b.id, agent.id, b.tenant_id, b.name)
    return bots


async def add_config_version(
    s: AsyncSession,
    bot: Bot,
    config: dict[str, Any],
    *,
    agent_version: int,
    author: str,
    comment: str,
    source: ConfigSource,
) -> int:
    """Add the bot's next config version (in the caller's transaction, under the caller's
    bot lock: the unique (bot, version) constraint catches anyone else). Returns its number."""
    assert bot.id is not None
    latest = (
        await s.exec(
            select(sa.func.max(ConfigVersion.version)).where(ConfigVersion.bot_id == bot.id)
        )
    ).one()
    number = int(latest or 0) + 1
    s.add(
        ConfigVersion(
            tenant_id=bot.tenant_id,
            bot_id=bot.id,
            version=number,
            agent_version=agent_version,
            config=config,
            author=author,
            comment=comment,
            source=source.value,
        )
    )
    return number


async def import_config(
    cp: ControlPlane,
    conn: AgentConnection,
    bot: Bot,
    agent_version: int,
    *,
    author: str = "agent",
    comment: str = "",
) -> bool:
    """Record the agent's config `agent_version` of `bot` as a new version, unless we have it
    (we pushed it ourselves, or imported it before). Returns True when a version was added."""
    assert bot.id is not None
    async with cp.bot_lock(bot.id):
        async with cp.session() as s:
            have = (
                await s.exec(
                    select(ConfigVersion.id).where(
                        ConfigVersion.bot_id == bot.id, ConfigVersion.agent_version == agent_version
                    )
                )
            ).first()
            if have is not None:
                return False
        version, config = await conn.get_config(bot.name, agent_version)
        async with cp.session() as s:
            number = await add_config_version(
                s,
                bot,
                config,
                agent_version=version,
                author=author[:100] or "agent",
                comment=comment or "changed on the agent",
                source=ConfigSource.AGENT,
            )
            fresh = await s.get(Bot, bot.id)
            if fresh is not None and version >= fresh.agent_config_version:
                fresh.applied_version = number
                fresh.agent_config_version = version
                s.add(fresh)
            try:
                await s.commit()
            except sa.exc.IntegrityError:
                await s.rollback()
                return False
    log.info(
        "imported config v%d of bot %s from its agent as version %d", version, bot.name, number
    )
    return True


def telegram_aad(agent_id: int) -> str:
    return f"agent:{agent_id}:telegram-token"


def _pending(model: type[VenueCredential] | type[TelegramToken]) -> sa.ColumnElement[bool]:
    return sa.or_(
        col(model.pushed_at).is_(None),
        col(model.pushed_at) < col(model.updated_at),
    )


async def settle_credential(
    cp: ControlPlane, row: VenueCredential | TelegramToken, *, deleted: bool
) -> bool:
    """Record that the agent now has what `row` says (its copy replaced or deleted), unless
    the row changed meanwhile (then the newer change is still pending). A settled delete
    removes the row. Returns whether it was settled."""
    model = type(row)
    async with cp.session() as s:
        cond = sa.and_(col(model.id) == row.id, col(model.updated_at) == row.updated_at)
        if deleted:
            res = await s.exec(sa.delete(model).where(cond))
        else:
            res = await s.exec(sa.update(model).where(cond).values(pushed_at=utcnow()))
        await s.commit()
    return bool(res.rowcount)


async def push_credentials(cp: ControlPlane, conn: AgentConnection, agent_id: int) -> int:
    """Forward the credential changes the agent has not received yet (new or replaced venue
    keys and Telegram token, and deletes made while it was offline). Returns how many."""
    async with cp.session() as s:
        venue_rows = (
            await s.exec(
                select(VenueCredential, Bot)
                .join(Bot, col(Bot.id) == VenueCredential.bot_id)
                .where(Bot.agent_id == agent_id, _pending(VenueCredential))
            )
        ).all()
        tg = (
            await s.exec(
                select(TelegramToken).where(
                    TelegramToken.agent_id == agent_id, _pending(TelegramToken)
                )
            )
        ).first()
    n = 0
    for cred, bot in venue_rows:
        assert bot.id is not None and cred.id is not None
        if cred.deleted_at is not None:
            what = f"the delete of {bot.name}'s venue keys"
            sent = await _send(conn, agent_id, what, conn.delete_credentials(bot.name))
        else:
            doc = json.loads(cp.box.decrypt(cred.ciphertext, credentials_aad(bot.id)))
            call = conn.set_credentials(bot.name, RemoteCredentials(**doc))
            sent = await _send(conn, agent_id, f"{bot.name}'s venue keys", call)
        if sent:
            await settle_credential(cp, cred, deleted=cred.deleted_at is not None)
            n += 1
    if tg is not None:
        if tg.deleted_at is not None:
            what = "the delete of the Telegram token"
            sent = await _send(conn, agent_id, what, conn.delete_telegram_token())
        else:
            token = cp.box.decrypt(tg.ciphertext, telegram_aad(agent_id)).decode()
            call = conn.set_telegram_token(token)
            sent = await _send(conn, agent_id, "the Telegram token", call)
        if sent:
            await settle_credential(cp, tg, deleted=tg.deleted_at is not None)
            n += 1
    return n


async def _send(conn: AgentConnection, agent_id: int, what: str, call: Awaitable[object]) -> bool:
    """Forward one pending change. An agent that answers with a refusal (an older agent
    without the call, say) keeps the change pending and stays connected: one refused secret
    must not take the agent offline. A broken connection ends the session as usual."""
    try:
        await call
    except AgentError as exc:
        if exc.code in (AgentErrorCode.UNAVAILABLE, AgentErrorCode.UNAUTHENTICATED):
            raise
        # The agent's reasons name fields and rules, never values (secrets are write-only).
        log.warning(
            "agent %d refused %s (%s: %s); it stays pending",
            agent_id,
            what,
            exc.code.value,
            exc.message,
        )
        return False
    return True


async def recent_from_archive(
    cp: ControlPlane, bot_id: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The newest fills and (non-routine) events of a bot, newest first, to seed its view."""
    async with cp.session() as s:
        fills = (
            await s.exec(
                select(FillRecord)
                .where(FillRecord.bot_id == bot_id)
                .order_by(col(FillRecord.seq).desc())
                .limit(50)
            )
        ).all()
        events = (
            await s.exec(
                select(EventRecord)
                .where(EventRecord.bot_id == bot_id, col(EventRecord.kind).not_in(QUIET_KINDS))
                .order_by(col(EventRecord.seq).desc())
                .limit(100)
            )
        ).all()
    return (
        [
            {
                "seq": f.seq,
                "at": f.at,
                "trade_id": f.trade_id,
                "client_order_id": f.client_order_id,
                "side": f.side,
                "price": str(f.price),
                "amount": str(f.amount),
                "fee": str(f.fee),
                "fee_asset": f.fee_asset,
                "liquidity": f.liquidity,
            }
            for f in fills
        ],
        [
            {"seq": e.seq, "at": e.at, "kind": e.kind, "severity": e.severity, **e.data}
            for e in events
        ],
    )
