"""How the host's exceptions reach a gRPC client: one mapping, used by every RPC.

- UnknownBot -> NOT_FOUND
- InvalidCommand -> FAILED_PRECONDITION (the lifecycle table's reason)
- ConfigError (and bad request fields) -> INVALID_ARGUMENT; every 'field: rule' line is in the
  message and, machine-readable, in the trailing metadata `mmbot-config-errors-bin`
- VersionConflict -> ABORTED (an optimistic-concurrency check failed; re-read and retry)
- VenueError -> UNAVAILABLE (the venue, not the request, is the problem)
- CredentialsError -> FAILED_PRECONDITION (e.g. no usable secret key)
Anything else is INTERNAL with a generic message; the details go to the agent's log.
"""

from __future__ import annotations

from typing import Any

from agent.config import ConfigError
from agent.proto.mmbot.agent.v1 import agent_pb2 as pb

FIELD_ERRORS_KEY = "mmbot-config-errors-bin"


def split_error_line(line: str) -> tuple[str, str]:
    """'market_making.step_pct: must be > 0' -> ('market_making.step_pct', 'must be > 0')."""
    field, sep, rule = line.partition(": ")
    return (field, rule) if sep else ("", line)


def config_errors_message(errors: list[str]) -> str:
    return "invalid configuration:\n" + "\n".join(f"  {e}" for e in errors)


def config_errors_trailer(errors: list[str]) -> tuple[tuple[str, bytes], ...]:
    msg = pb.ConfigErrors(
        violations=[
            pb.FieldViolation(field=f, description=d) for f, d in map(split_error_line, errors)
        ]
    )
    return ((FIELD_ERRORS_KEY, msg.SerializeToString()),)


def decode_config_errors(trailing_metadata: Any) -> list[str]:
    """The 'field: rule' lines from a refused call's trailing metadata (client side)."""
    for key, value in trailing_metadata or ():
        if key == FIELD_ERRORS_KEY and isinstance(value, bytes):
            parsed = pb.ConfigErrors.FromString(value)
            return [
                f"{v.field}: {v.description}" if v.field else v.description
                for v in parsed.violations
            ]
    return []


class RequestError(ConfigError):
    """A request field that makes no sense (unknown kind, bad page token): INVALID_ARGUMENT
    with the same 'field: rule' lines as a bad configuration."""
