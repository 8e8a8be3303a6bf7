"""Reading the audit trail (admins only, own tenant only). Writing is `common.audit`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlmodel import col, select

from controlplane.models import AuditEntry, Role
from controlplane.schemas import AuditOut, Page
from controlplane.services.principal import Principal

if TYPE_CHECKING:
    from controlplane.runtime import ControlPlane


async def list_audit(
    cp: ControlPlane, who: Principal, *, cursor: int | None = None, limit: int = 100
) -> Page[AuditOut]:
    who.require(Role.ADMIN, "reading the audit log")
    q = select(AuditEntry).where(AuditEntry.tenant_id == who.tenant_id)
    if cursor is not None:
        q = q.where(col(AuditEntry.id) < cursor)
    async with cp.session() as s:
        rows = (await s.exec(q.order_by(col(AuditEntry.id).desc()).limit(limit + 1))).all()
    page, more = rows[:limit], len(rows) > limit
    return Page[AuditOut](
        items=[AuditOut.model_validate(r, from_attributes=True) for r in page],
        next_cursor=page[-1].id if more else None,
    )
