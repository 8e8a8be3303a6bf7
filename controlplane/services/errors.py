"""Service-layer outcomes that are not success. Every channel maps these the same way
(REST: 401, 403, 404, 409, 422, 503), so a refusal reads the same in the console, the API
and any later channel."""

from __future__ import annotations


class ServiceError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Unauthorized(ServiceError):
    """No valid credentials (wrong password, unknown/expired/revoked token)."""


class Forbidden(ServiceError):
    """Authenticated, but the role does not allow this."""


class NotFound(ServiceError):
    """Unknown id, or an id that belongs to another tenant (indistinguishable on purpose)."""


class Conflict(ServiceError):
    """Refused in the current state: the agent's reason, a version conflict, a duplicate."""


class Unavailable(ServiceError):
    """The agent cannot be reached right now (offline, or its venue is down)."""


class FieldError:
    """One invalid input: where (a path of keys) and the rule it breaks."""

    __slots__ = ("loc", "msg")

    def __init__(self, loc: tuple[str | int, ...], msg: str) -> None:
        self.loc = loc
        self.msg = msg

    def __repr__(self) -> str:
        return f"FieldError({'.'.join(map(str, self.loc))}: {self.msg})"


class Invalid(ServiceError):
    """Input that breaks a rule; `errors` says which fields and why. Nothing was changed."""

    def __init__(self, errors: list[FieldError], message: str = "") -> None:
        super().__init__(
            message or "; ".join(f"{'.'.join(map(str, e.loc))}: {e.msg}" for e in errors)
        )
        self.errors = errors

    @classmethod
    def one(cls, loc: tuple[str | int, ...], msg: str) -> Invalid:
        return cls([FieldError(loc, msg)], msg)

    @classmethod
    def from_lines(cls, prefix: tuple[str | int, ...], lines: list[str]) -> Invalid:
        """From 'field.path: rule' lines (agent.config's format)."""
        errors = []
        for line in lines:
            field, sep, rule = line.partition(": ")
            if not sep:
                field, rule = "", line
            path: tuple[str | int, ...] = tuple(
                int(p) if p.isdigit() else p
                for p in field.split(".")
                if p and not p.startswith("(")
            )
            errors.append(FieldError((*prefix, *path), rule))
        return cls(errors, "; ".join(lines))
