"""Who is calling: the authenticated user of one tenant, with a role.

Every service function takes a Principal and scopes every query to `tenant_id`; ids of other
tenants' objects are answered exactly like ids that do not exist.
"""

from __future__ import annotations

from dataclasses import dataclass

from controlplane.models import Role
from controlplane.services.errors import Forbidden

_RANK = {Role.VIEWER: 0, Role.OPERATOR: 1, Role.ADMIN: 2}


@dataclass(frozen=True)
class Principal:
    user_id: int
    tenant_id: int
    username: str
    role: Role
    token_id: int | None = None
    via: str = "session"  # "session" (password login) or "api" (API token)

    def require(self, role: Role, what: str) -> None:
        if _RANK[self.role] < _RANK[role]:
            raise Forbidden(f"{what} needs the {role.value} role (you are {self.role.value})")

    @property
    def actor(self) -> str:
        return self.username if self.via == "session" else f"{self.username} (api token)"
