"""Config versions: validate, apply, list, diff, roll back.

Validation uses the agent's own models (`agent.config.parse_config`), so the control plane and
the agent can never disagree about what is valid; errors come back as field paths. A new
version is stored only after the agent has taken it live, with the agent's version number, and
both happen under the bot's lock with optimistic concurrency towards the agent
(`expected_version`), so two writers cannot silently overwrite each other. Versions are never
changed: a rollback applies an old config as a new version.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
import yaml
from sqlmodel import col, select

from agent.config import ConfigError, parse_config
from controlplane.links.base import AgentError
from controlplane.links.sync import add_config_version
from controlplane.models import Agent, Bot, ConfigSource, ConfigVersion, Role
from controlplane.schemas import (
    ConfigApplied,
    ConfigChange,
    ConfigDiff,
    ConfigIn,
    ConfigPreview,
    ConfigVersionDetail,
    ConfigVersionOut,
)
from controlplane.services.common import ID_MAX, audit, bot_for, connection, from_agent_error
from controlplane.services.errors import Conflict, FieldError, Invalid, NotFound, ServiceError
from controlplane.services.principal import Principal

if TYPE_CHECKING:
    from controlplane.runtime import ControlPlane

LOC = ("body", "config")
# Marks the agent-side author of configs pushed from here (the agent records an author).
AUTHOR_PREFIX = "cp:"


def _has_control_chars(node: Any) -> bool:
    if isinstance(node, str):
        return "\x00" in node
    if isinstance(node, dict):
        return any(_has_control_chars(k) or _has_control_chars(v) for k, v in node.items())
    if isinstance(node, list):
        return any(_has_control_chars(v) for v in node)
    return False


def validate(bot: Bot, data: dict[str, Any]) -> dict[str, Any]:
    """The normalised config (every default filled in), or Invalid with field paths."""
    if _has_control_chars(data):
        raise Invalid.one(LOC, "must not contain NUL characters")
    try:
        cfg = parse_config(data)
    except ConfigError as exc:
        raise Invalid.from_lines(LOC, exc.errors) from None
    errors = []
    for field, have in (("name", bot.name), ("venue", bot.venue), ("symbol", bot.symbol)):
        new = getattr(cfg.bot, field)
        if have and new != have:
            errors.append(
                FieldError(
                    (*LOC, "bot", field),
                    f"cannot change on an existing bot ({have!r}); create a new bot instead",
                )
            )
    if errors:
        raise Invalid(errors)
    return cfg.dump()


def _out(v: ConfigVersion, bot: Bot) -> ConfigVersionOut:
    return ConfigVersionOut(
        version=v.version,
        agent_version=v.agent_version,
        author=v.author,
        comment=v.comment,
        source=v.source,
        created_at=v.created_at,
        applied=v.version == bot.applied_version,
    )


async def list_configs(cp: ControlPlane, who: Principal, bot_id: int) -> list[ConfigVersionOut]:
    async with cp.session() as s:
        bot = await bot_for(s, who, bot_id)
        rows = (
            await s.exec(
                select(ConfigVersion)
                .where(ConfigVersion.bot_id == bot_id)
                .order_by(col(ConfigVersion.version).desc())
            )
        ).all()
    return [_out(v, bot) for v in rows]


async def _version(s: Any, bot: Bot, version: int) -> ConfigVersion:
    if not 1 <= version <= ID_MAX:
        raise NotFound(f"bot {bot.id} has no config version {version}")
    row = (
        await s.exec(
            select(ConfigVersion).where(
                ConfigVersion.bot_id == bot.id, ConfigVersion.version == version
            )
        )
    ).first()
    if row is None:
        raise NotFound(f"bot {bot.id} has no config version {version}")
    return row


async def get_config(
    cp: ControlPlane, who: Principal, bot_id: int, version: int
) -> ConfigVersionDetail:
    async with cp.session() as s:
        bot = await bot_for(s, who, bot_id)
        v = await _version(s, bot, version)
    return ConfigVersionDetail(**_out(v, bot).model_dump(), config=v.config)


def _flatten(node: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(node, dict) and node:
        out: dict[str, Any] = {}
        for k, v in node.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix: node}


def diff(a: dict[str, Any], b: dict[str, Any]) -> tuple[list[ConfigChange], str]:
    fa, fb = _flatten(a), _flatten(b)
    changes = [
        ConfigChange.model_validate({"path": p, "from": fa.get(p), "to": fb.get(p)})
        for p in sorted(set(fa) | set(fb))
        if fa.get(p) != fb.get(p) or (p in fa) != (p in fb)
    ]
    ya = yaml.safe_dump(a, sort_keys=True).splitlines(keepends=True)
    yb = yaml.safe_dump(b, sort_keys=True).splitlines(keepends=True)
    return changes, "".join(difflib.unified_diff(ya, yb, "a", "b"))


async def diff_configs(cp: ControlPlane, who: Principal, bot_id: int, a: int, b: int) -> ConfigDiff:
    async with cp.session() as s:
        bot = await bot_for(s, who, bot_id)
        va = await _version(s, bot, a)
        vb = await _version(s, bot, b)
    changes, unified = diff(va.config, vb.config)
    unified = unified.replace("--- a", f"--- v{a}", 1).replace("+++ b", f"+++ v{b}", 1)
    return ConfigDiff(bot_id=bot_id, from_version=a, to_version=b, changes=changes, unified=unified)


async def submit_config(
    cp: ControlPlane, who: Principal, bot_id: int, body: ConfigIn, *, dry_run: bool = False
) -> ConfigApplied | ConfigPreview:
    """Validate; with dry_run only preview the ladder; else apply on the agent and record."""
    async with cp.session() as s:
        bot = await bot_for(s, who, bot_id)
        agent = await s.get(Agent, bot.agent_id)
    assert agent is not None
    if not dry_run:
        who.require(Role.OPERATOR, "applying a config")
    normalized = validate(bot, body.config)
    if dry_run:
        return await _preview(cp, bot, agent, normalized)
    return await _apply(
        cp, who, bot, agent, normalized, body.comment, body.expected_version, ConfigSource.API
    )


async def rollback(
    cp: ControlPlane, who: Principal, bot_id: int, version: int, comment: str = ""
) -> ConfigApplied:
    async with cp.session() as s:
        bot = await bot_for(s, who, bot_id)
        v = await _version(s, bot, version)
        agent = await s.get(Agent, bot.agent_id)
    assert agent is not None
    who.require(Role.OPERATOR, "rolling back a config")
    normalized = validate(bot, v.config)
    out = await _apply(
        cp,
        who,
        bot,
        agent,
        normalized,
        comment or f"rollback to version {version}",
        None,
        ConfigSource.ROLLBACK,
    )
    assert isinstance(out, ConfigApplied)
    return out


async def _preview(
    cp: ControlPlane, bot: Bot, agent: Agent, normalized: dict[str, Any]
) -> ConfigPreview:
    conn = cp.links.connection(bot.agent_id)
    if conn is None:
        return ConfigPreview(
            config=normalized,
            preview=None,
            note=f"valid; agent {agent.name} is offline, so there is no ladder preview",
        )
    try:
        res = await conn.validate_config(bot.name, normalized, None)
    except AgentError as exc:
        raise from_agent_error(exc) from None
    note = "" if res.preview is not None else "valid; the bot has no market data yet to preview"
    return ConfigPreview(config=res.config or normalized, preview=res.preview, note=note)


async def _apply(
    cp: ControlPlane,
    who: Principal,
    bot: Bot,
    agent: Agent,
    normalized: dict[str, Any],
    comment: str,
    expected_version: int | None,
    source: ConfigSource,
) -> ConfigApplied:
    assert bot.id is not None
    target = f"bot:{bot.id}"
    async with cp.bot_lock(bot.id):
        async with cp.session() as s:
            fresh = await s.get(Bot, bot.id)
        assert fresh is not None
        try:
            if expected_version is not None and expected_version != fresh.applied_version:
                raise Conflict(
                    f"the bot's config is at version {fresh.applied_version}, "
                    f"not {expected_version}: reload and retry"
                )
            conn = connection(cp, bot.agent_id, agent.name)
            agent_version = await conn.apply_config(
                bot.name,
                normalized,
                fresh.agent_config_version or None,
                f"{AUTHOR_PREFIX}{who.username}",
                comment,
            )
        except (AgentError, ServiceError) as exc:
            err = from_agent_error(exc) if isinstance(exc, AgentError) else exc
            await audit(cp, who, "config.apply", target, "refused", reason=str(err))
            raise err from None
        async with cp.session() as s:
            number = await add_config_version(
                s,
                bot,
                normalized,
                agent_version=agent_version,
                author=who.username,
                comment=comment,
                source=source,
            )
            await s.exec(
                sa.update(Bot)
                .where(col(Bot.id) == bot.id)
                .values(applied_version=number, agent_config_version=agent_version)
            )
            await audit(
                cp,
                who,
                "config.apply",
                target,
                "ok",
                s,
                version=number,
                agent_version=agent_version,
                source=source.value,
                digest=_digest(normalized),
            )
            await s.commit()
    return ConfigApplied(
        bot_id=bot.id, version=number, agent_version=agent_version, config=normalized
    )


def _digest(config: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:16]
