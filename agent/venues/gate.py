"""Gate (ccxt id `gate`, API v4): every Gate-specific constant in one place.

Shared by the ccxt venue adapter (`agent.venues.ccxt_venue`) and the Gate-protocol emulator
(`agent.exchange_sim`), so both agree on URLs, limits, labels and client-id rules. Protocol
facts come from ccxt 4.5.90's `gate.py`/`pro/gate.py` and Gate's API v4 docs; see
docs/venues.md for the sources and the emulator's deviations.
"""

from __future__ import annotations

import re
from typing import Final

EXCHANGE_ID: Final = "gate"

# --------------------------------------------------------------------------- URLs
REST_BASE: Final = "https://api.gateio.ws/api/v4"
REST_PATH_PREFIX: Final = "/api/v4"
WS_SPOT: Final = "wss://api.gateio.ws/ws/v4/"
WS_PATH: Final = "/ws/v4/"
REAL_HOST_SUFFIXES: Final = ("gateio.ws", "gate.io", "gate.com", "gateapi.io", "gateio.live")
"""Hostnames of the real venue: none may remain in a client pointed at the emulator."""

# --------------------------------------------------------------------------- rate limits
# Published (API v4 "Frequency limit rule"): counted per UID, except public per IP.
ORDER_LIMIT_PER_SECOND: Final = 10  # create, batch create and amend, per UID and market
CANCEL_LIMIT_PER_SECOND: Final = 200  # single and batch cancel, per UID
PRIVATE_OTHER_PER_10S: Final = 200  # every other private spot endpoint, per endpoint
PUBLIC_PER_10S: Final = 200  # public endpoints, per endpoint and IP

# Our own budget, enforced before a call leaves: ~80 % of the published limits, so bursts
# from reconciliation never meet the venue's limiter.
BUDGET_ORDERS_PER_SECOND: Final = 8.0
BUDGET_CANCELS_PER_SECOND: Final = 160.0
BUDGET_QUERIES_PER_SECOND: Final = 15.0

# GET /spot/open_orders lists at most this many open orders of a pair; more are paged through
# GET /spot/orders?status=open (whose `limit` is at most 100 for open orders).
OPEN_ORDERS_PAGE: Final = 100
OPEN_ORDERS_MAX_PAGES: Final = 50

MAX_BATCH_CREATE: Final = 10  # ccxt raises above 10; Gate allows 10 per pair
MAX_BATCH_CANCEL: Final = 20

# --------------------------------------------------------------------------- dead-man switch
DEAD_MAN_MIN_SECONDS: Final = 5  # Gate: timeout must be >= 5 s; 0 disarms
DEAD_MAN_TIMEOUT_SECONDS: Final = 30
DEAD_MAN_REARM_SECONDS: Final = 10  # re-arm at a third of the timeout

# --------------------------------------------------------------------------- client order ids
TEXT_PREFIX: Final = "t-"
TEXT_MAX_AFTER_PREFIX: Final = 28
TEXT_RE: Final = re.compile(r"^t-[0-9A-Za-z_.\-]{1,28}$")
DEFAULT_TEXT_REST: Final = "apiv4"
DEFAULT_TEXT_WS: Final = "apiv4-ws"


def to_text(client_order_id: str) -> str:
    """Engine client id -> Gate `text` (always `t-` prefixed; ccxt adds it only when the id
    does not start with 't', so we do it ourselves)."""
    text = TEXT_PREFIX + client_order_id
    if not TEXT_RE.match(text):
        raise ValueError(
            f"client order id {client_order_id!r} does not fit Gate's text rules "
            f"(t- + at most {TEXT_MAX_AFTER_PREFIX} of [0-9A-Za-z_.-])"
        )
    return text


def from_text(text: str | None) -> str:
    """Gate `text` -> engine client id ('' for Gate's defaults, which are not ours)."""
    if not text or text in (DEFAULT_TEXT_REST, DEFAULT_TEXT_WS):
        return ""
    return text[len(TEXT_PREFIX) :] if text.startswith(TEXT_PREFIX) else text


# --------------------------------------------------------------------------- labels
# Error labels the emulator returns and the adapter recognises, with their HTTP status.
LABEL_STATUS: Final[dict[str, int]] = {
    "BALANCE_NOT_ENOUGH": 400,
    "POC_FILL_IMMEDIATELY": 400,
    "ORDER_NOT_FOUND": 404,
    "CLIENT_ID_NOT_FOUND": 404,
    "ORDER_CLOSED": 400,
    "ORDER_CANCELLED": 400,
    "TOO_MANY_REQUESTS": 429,
    "INVALID_KEY": 401,
    "INVALID_SIGNATURE": 401,
    "INVALID_CREDENTIALS": 401,
    "MISSING_REQUIRED_HEADER": 401,
    "REQUEST_EXPIRED": 401,
    "IP_FORBIDDEN": 403,
    "INVALID_PRECISION": 400,
    "AMOUNT_TOO_LITTLE": 400,
    "AMOUNT_TOO_MUCH": 400,
    "INVALID_PARAM_VALUE": 400,
    "INVALID_ARGUMENT": 400,
    "INVALID_CURRENCY": 400,
    "INVALID_CURRENCY_PAIR": 400,
    "TOO_MANY_ORDERS": 400,
    "TOO_MANY_CURRENCY_PAIRS": 400,
    "MIXED_ACCOUNT_TYPE": 400,
    "INVALID_URL": 404,
    "SERVER_ERROR": 500,
}

# Gate label -> engine error code (agent.venues.base.VenueErrorCode values). Used for batch
# items (`succeeded: false`), which ccxt turns into "rejected" orders instead of exceptions.
LABEL_TO_CODE: Final[dict[str, str]] = {
    "BALANCE_NOT_ENOUGH": "INSUFFICIENT_FUNDS",
    "MARGIN_BALANCE_NOT_ENOUGH": "INSUFFICIENT_FUNDS",
    "POC_FILL_IMMEDIATELY": "POST_ONLY_WOULD_TAKE",
    "ORDER_NOT_FOUND": "ORDER_NOT_FOUND",
    "CLIENT_ID_NOT_FOUND": "ORDER_NOT_FOUND",
    "ORDER_CLOSED": "ORDER_NOT_FOUND",
    "ORDER_CANCELLED": "ORDER_NOT_FOUND",
    "TOO_MANY_REQUESTS": "RATE_LIMITED",
    "INVALID_KEY": "AUTH",
    "INVALID_SIGNATURE": "AUTH",
    "INVALID_CREDENTIALS": "AUTH",
    "MISSING_REQUIRED_HEADER": "AUTH",
    "REQUEST_EXPIRED": "AUTH",
    "IP_FORBIDDEN": "AUTH",
    "INVALID_PRECISION": "INVALID_ORDER",
    "AMOUNT_TOO_LITTLE": "INVALID_ORDER",
    "AMOUNT_TOO_MUCH": "INVALID_ORDER",
    "INVALID_PARAM_VALUE": "INVALID_ORDER",
    "INVALID_CURRENCY_PAIR": "INVALID_ORDER",
}

# `finish_as` values of a closed order; ccxt passes `poc` and `stp` through unnormalised.
FINISH_FILLED: Final = frozenset({"filled"})
FINISH_CANCELED: Final = frozenset(
    {"cancelled", "ioc", "fok", "stp", "poc", "small", "depth_not_enough", "trader_not_enough"}
)
FINISH_POST_ONLY: Final = "poc"

# WebSocket error codes (ccxt maps 1, 2 -> BadRequest; 4, 6, 11 -> AuthenticationError).
WS_ERR_BAD_REQUEST: Final = 2
WS_ERR_AUTH: Final = 4

# Order book channel depths ccxt may ask for on `spot.obu` (`ob.<PAIR>.<level>`).
OBU_LEVELS: Final = (50, 400)
