"""Long-lived API tokens for scripts: create (shown once), list, revoke."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from controlplane.api.deps import CP, Who
from controlplane.schemas import TokenCreate, TokenCreated, TokenOut
from controlplane.services import auth

router = APIRouter(prefix="/tokens", tags=["tokens"])


@router.post("", response_model=TokenCreated, status_code=status.HTTP_201_CREATED)
async def create_token(cp: CP, who: Who, body: TokenCreate) -> TokenCreated:
    """The response holds the token itself; it is never shown again."""
    return await auth.create_token(cp, who, body)


@router.get("", response_model=list[TokenOut])
async def list_tokens(cp: CP, who: Who) -> list[TokenOut]:
    return await auth.list_tokens(cp, who)


@router.delete(
    "/{token_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={404: {"description": "no such token"}},
)
async def revoke_token(cp: CP, who: Who, token_id: int) -> Response:
    await auth.revoke_token(cp, who, token_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
