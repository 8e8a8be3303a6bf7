"""Gate API v4 signatures: REST (HMAC-SHA512 over method, path, query, body hash, time), WS
channel auth and WS-API login. One module so the emulator's verifier and its tests use the
exact strings a Gate client signs (see docs/exchange-sim.md for the vectors)."""

from __future__ import annotations

import hashlib
import hmac


def body_hash(body: bytes | str) -> str:
    data = body.encode() if isinstance(body, str) else body
    return hashlib.sha512(data).hexdigest()


def rest_payload(method: str, path: str, query: str, body: bytes | str, timestamp: str) -> str:
    """The signed text: METHOD, full path (/api/v4/...), URL-decoded query as received,
    hex SHA-512 of the body (of "" when there is none) and the Timestamp header as sent."""
    return "\n".join([method.upper(), path, query, body_hash(body), timestamp])


def hmac_sha512(secret: str, text: str) -> str:
    return hmac.new(secret.encode(), text.encode(), hashlib.sha512).hexdigest()


def rest_signature(
    secret: str, method: str, path: str, query: str, body: bytes | str, timestamp: str
) -> str:
    return hmac_sha512(secret, rest_payload(method, path, query, body, timestamp))


def ws_channel_signature(secret: str, channel: str, event: str, time: int | str) -> str:
    """Private channel subscribe: `channel=<c>&event=<e>&time=<t>`."""
    return hmac_sha512(secret, f"channel={channel}&event={event}&time={time}")


def ws_api_signature(secret: str, channel: str, req_param: str, time: int | str) -> str:
    """WS-API request (spot.login, spot.order_place, ...): `api\\n<channel>\\n<req_param>\\n<t>`.
    ccxt serialises an empty req_param as `{}`, Gate's docs as ``; the verifier accepts both."""
    return hmac_sha512(secret, "\n".join(["api", channel, req_param, str(time)]))


def equal(a: str, b: str) -> bool:
    """Constant-time comparison of two hex signatures."""
    return hmac.compare_digest(a.lower().encode(), b.lower().encode())
