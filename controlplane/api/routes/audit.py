"""The audit trail of the caller's tenant (admins)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from controlplane.api.deps import CP, Who
from controlplane.schemas import AuditOut, Page
from controlplane.services import audit

router = APIRouter(prefix="/audit", tags=["audit"])


@router.get("", response_model=Page[AuditOut])
async def list_audit(
    cp: CP,
    who: Who,
    cursor: Annotated[int | None, Query(ge=0, le=2**62)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> Page[AuditOut]:
    return await audit.list_audit(cp, who, cursor=cursor, limit=limit)
