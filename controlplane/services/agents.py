"""Registering agents and reading their state.

Registering stores how to reach the agent — endpoint, bearer token and (off loopback, where it
is required) the mTLS client material — with the token and the client key encrypted, and
starts its link at once. Neither secret is ever returned.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING

import sqlalchemy as sa
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from sqlmodel import col, select

from controlplane.links.sync import tls_key_aad, token_aad
from controlplane.models import Agent, Bot, Role, TelegramToken, TlsMaterial, VenueCredential
from controlplane.schemas import (
    AgentCreate,
    AgentDetail,
    AgentOut,
    BotOut,
    TlsIn,
    TlsInfo,
    is_loopback,
)
from controlplane.services import credentials
from controlplane.services.common import agent_for, audit
from controlplane.services.errors import Conflict, FieldError, Invalid
from controlplane.services.principal import Principal
from controlplane.services.volume import volume_24h

if TYPE_CHECKING:
    from controlplane.runtime import ControlPlane


def _check_tls(tls: TlsIn) -> list[FieldError]:
    errors = []
    loc = ("body", "tls")
    try:
        x509.load_pem_x509_certificates(tls.ca_cert.encode())
    except ValueError:
        errors.append(FieldError((*loc, "ca_cert"), "must be a PEM certificate"))
    cert = None
    try:
        cert = x509.load_pem_x509_certificate(tls.client_cert.encode())
    except ValueError:
        errors.append(FieldError((*loc, "client_cert"), "must be a PEM certificate"))
    try:
        key = serialization.load_pem_private_key(tls.client_key.encode(), password=None)
    except (ValueError, TypeError):
        errors.append(FieldError((*loc, "client_key"), "must be an unencrypted PEM private key"))
    else:
        if cert is not None and cert.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        ) != key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        ):
            errors.append(FieldError((*loc, "client_key"), "does not match client_cert"))
    return errors


def _tls_info(tls: TlsMaterial | None) -> TlsInfo | None:
    if tls is None:
        return None
    ca = x509.load_pem_x509_certificates(tls.ca_cert_pem.encode())[0]
    client = x509.load_pem_x509_certificate(tls.client_cert_pem.encode())
    return TlsInfo(
        ca_subject=ca.subject.rfc4514_string(),
        client_subject=client.subject.rfc4514_string(),
        client_not_after=client.not_valid_after_utc,
        server_name=tls.server_name,
    )


def _agent_out(
    cp: ControlPlane, a: Agent, bots: int, telegram_at: dt.datetime | None = None
) -> AgentOut:
    """The stored row, overlaid with what this process's link knows now (fresher)."""
    assert a.id is not None
    live = cp.live.agents.get(a.id)
    last_seen, version, error, archived = a.last_seen_at, a.agent_version, a.last_error, 0
    online = False
    if live is not None:
        online = live.online
        if live.last_seen is not None:
            seen = dt.datetime.fromtimestamp(live.last_seen, dt.UTC)
            last_seen = max(seen, last_seen) if last_seen is not None else seen
        version = live.version or version
        error = "" if online else (live.error or error)
        archived = live.archived_seq
    return AgentOut(
        id=a.id,
        name=a.name,
        endpoint=a.endpoint,
        online=online,
        last_seen_at=last_seen,
        version=version,
        archived_seq=max(a.archived_seq, archived),
        error=error,
        tls=a.tls_id is not None,
        bots=bots,
        telegram_token_updated_at=telegram_at,
        created_at=a.created_at,
    )


def bot_out(
    cp: ControlPlane,
    b: Bot,
    agent_name: str,
    credentials_at: dt.datetime | None,
    volume_24h_quote: Decimal,
) -> BotOut:
    assert b.id is not None
    live_agent = cp.live.agents.get(b.agent_id)
    view = cp.live.bots.get(b.id)
    online = bool(live_agent and live_agent.online)
    return BotOut(
        id=b.id,
        agent_id=b.agent_id,
        agent_name=agent_name,
        name=b.name,
        venue=b.venue,
        symbol=b.symbol,
        state=(view.state if view is not None and view.state else b.state),
        online=online,
        applied_version=b.applied_version,
        agent_config_version=b.agent_config_version,
        has_credentials=credentials_at is not None,
        credentials_updated_at=credentials_at,
        volume_24h_quote=volume_24h_quote,
    )


async def register_agent(cp: ControlPlane, who: Principal, body: AgentCreate) -> AgentDetail:
    who.require(Role.ADMIN, "registering an agent")
    errors: list[FieldError] = []
    if body.tls is None and not is_loopback(body.endpoint):
        errors.append(
            FieldError(
                ("body", "tls"),
                "is required for an endpoint off loopback (the agent speaks mTLS there)",
            )
        )
    if body.tls is not None:
        errors += _check_tls(body.tls)
    if errors:
        raise Invalid(errors)
    async with cp.session() as s:
        tls_row = None
        if body.tls is not None:
            tls_row = TlsMaterial(
                tenant_id=who.tenant_id,
                ca_cert_pem=body.tls.ca_cert,
                client_cert_pem=body.tls.client_cert,
                client_key_enc="",
                server_name=body.tls.server_name,
            )
            s.add(tls_row)
            await s.flush()
            assert tls_row.id is not None
            tls_row.client_key_enc = cp.box.encrypt(
                body.tls.client_key.encode(), tls_key_aad(tls_row.id)
            )
        agent = Agent(
            tenant_id=who.tenant_id,
            name=body.name,
            endpoint=body.endpoint,
            token_enc="",
            tls_id=tls_row.id if tls_row is not None else None,
        )
        s.add(agent)
        try:
            await s.flush()
        except sa.exc.IntegrityError:
            await s.rollback()
            await audit(cp, who, "agent.register", f"agent:{body.name}", "refused")
            raise Conflict(f"an agent named {body.name!r} exists") from None
        assert agent.id is not None
        agent.token_enc = cp.box.encrypt(body.token.encode(), token_aad(agent.id))
        s.add(agent)
        await audit(cp, who, "agent.register", f"agent:{agent.id}", "ok", s, endpoint=body.endpoint)
        await s.commit()
        await s.refresh(agent)
    assert agent.id is not None
    if cp.started and cp.settings.start_links:
        cp.links.add(agent.id, agent.tenant_id, agent.name)
    return await get_agent(cp, who, agent.id)


async def list_agents(cp: ControlPlane, who: Principal) -> list[AgentOut]:
    async with cp.session() as s:
        agents = (
            await s.exec(
                select(Agent).where(Agent.tenant_id == who.tenant_id).order_by(col(Agent.id))
            )
        ).all()
        counts = dict(
            (
                await s.exec(
                    select(Bot.agent_id, sa.func.count())
                    .where(Bot.tenant_id == who.tenant_id)
                    .group_by(col(Bot.agent_id))
                )
            ).all()
        )
        telegram = await credentials.telegram_set_at(s, TelegramToken.tenant_id == who.tenant_id)
    return [_agent_out(cp, a, counts.get(a.id or 0, 0), telegram.get(a.id or 0)) for a in agents]


async def get_agent(cp: ControlPlane, who: Principal, agent_id: int) -> AgentDetail:
    async with cp.session() as s:
        agent = await agent_for(s, who, agent_id)
        bots = (
            await s.exec(select(Bot).where(Bot.agent_id == agent_id).order_by(col(Bot.id)))
        ).all()
        creds = await credentials.venue_set_at(
            s, col(VenueCredential.bot_id).in_([b.id for b in bots])
        )
        telegram = await credentials.telegram_set_at(s, TelegramToken.agent_id == agent_id)
        volume = await volume_24h(s, who.tenant_id)
        tls = await s.get(TlsMaterial, agent.tls_id) if agent.tls_id is not None else None
    base = _agent_out(cp, agent, len(bots), telegram.get(agent_id))
    return AgentDetail(
        **base.model_dump(),
        tls_info=_tls_info(tls),
        bot_list=[
            bot_out(cp, b, agent.name, creds.get(b.id or 0), volume.get(b.id or 0, Decimal(0)))
            for b in bots
        ],
    )
