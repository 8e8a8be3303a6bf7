"""Venue credentials and Telegram bot tokens: write-only. PUT and DELETE; the only GET says
whether a token is set and since when, never what it is."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from controlplane.api.deps import CP, Who
from controlplane.schemas import CredentialsIn, CredentialsOut, TelegramTokenIn, TelegramTokenOut
from controlplane.services import credentials

router = APIRouter(tags=["credentials"])


@router.put(
    "/bots/{bot_id}/credentials",
    response_model=CredentialsOut,
    responses={404: {"description": "no such bot"}},
)
async def set_credentials(cp: CP, who: Who, bot_id: int, body: CredentialsIn) -> CredentialsOut:
    """Store (encrypted) and forward to the bot's agent; the response never echoes them."""
    return await credentials.set_credentials(cp, who, bot_id, body)


@router.delete(
    "/bots/{bot_id}/credentials",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={404: {"description": "no such bot"}},
)
async def delete_credentials(cp: CP, who: Who, bot_id: int) -> Response:
    """Forget them here and on the agent (at once, or when it next connects)."""
    await credentials.delete_credentials(cp, who, bot_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/agents/{agent_id}/telegram-token",
    response_model=TelegramTokenOut,
    responses={404: {"description": "no such agent"}},
)
async def telegram_token_status(cp: CP, who: Who, agent_id: int) -> TelegramTokenOut:
    """Whether the agent's Telegram bot token is set, since when, and whether the agent has
    it. Never the token."""
    return await credentials.telegram_token_status(cp, who, agent_id)


@router.put(
    "/agents/{agent_id}/telegram-token",
    response_model=TelegramTokenOut,
    responses={404: {"description": "no such agent"}},
)
async def set_telegram_token(
    cp: CP, who: Who, agent_id: int, body: TelegramTokenIn
) -> TelegramTokenOut:
    """Store (encrypted) and forward to the agent, whose notifier uses it from its next check."""
    return await credentials.set_telegram_token(cp, who, agent_id, body)


@router.delete(
    "/agents/{agent_id}/telegram-token",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={404: {"description": "no such agent"}},
)
async def delete_telegram_token(cp: CP, who: Who, agent_id: int) -> Response:
    await credentials.delete_telegram_token(cp, who, agent_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
