"""Opaque page tokens for the journal listings, stable while the journal grows.

Orders and fills are listed newest first; the journal pages them by offset. A plain offset
would repeat rows on the next page whenever something new arrived in between (the new rows
push everything down). So the first page records an anchor (the newest fill's seq; the time
of the first orders page), and later pages skip the rows newer than the anchor before applying
the offset. Events page by seq (a keyset), which is stable by construction.

A token also carries a fingerprint of the query, so a token from another query is refused
instead of silently paging something else.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from agent.service.errors import RequestError

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000

T = TypeVar("T")


@dataclass(frozen=True)
class Cursor:
    offset: int = 0
    anchor: float = 0.0  # newest seq (fills) or time (orders) when the listing began
    seq: int = 0  # for seq-keyset listings (events)
    first: bool = True


def page_size(requested: int) -> int:
    if requested < 0:
        raise RequestError(["page_size: must be >= 0"])
    if requested > MAX_PAGE_SIZE:
        raise RequestError([f"page_size: must be <= {MAX_PAGE_SIZE}"])
    return requested or DEFAULT_PAGE_SIZE


def fingerprint(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]


def encode(query: str, cursor: Cursor) -> str:
    doc = {"q": query, "o": cursor.offset, "a": cursor.anchor, "s": cursor.seq}
    return base64.urlsafe_b64encode(json.dumps(doc, separators=(",", ":")).encode()).decode()


def decode(query: str, token: str) -> Cursor:
    if not token:
        return Cursor()
    try:
        doc = json.loads(base64.urlsafe_b64decode(token.encode()))
        cursor = Cursor(int(doc["o"]), float(doc["a"]), int(doc["s"]), first=False)
        same = doc["q"] == query
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise RequestError(["page_token: not a token from this API"]) from None
    if not same:
        raise RequestError(["page_token: belongs to a different query (bot or filters changed)"])
    if cursor.offset < 0:
        raise RequestError(["page_token: not a token from this API"])
    return cursor


def count_newer(
    fetch: Callable[[int, int], Sequence[T]], is_newer: Callable[[T], bool], chunk: int = 500
) -> int:
    """How many rows at the top of a newest-first listing are newer than the anchor."""
    n = 0
    while True:
        rows = fetch(chunk, n)
        for row in rows:
            if not is_newer(row):
                return n
            n += 1
        if len(rows) < chunk:
            return n


def anchored_page(
    fetch: Callable[[int, int], Sequence[T]],
    is_newer: Callable[[T], bool],
    cursor: Cursor,
    size: int,
) -> tuple[list[T], bool]:
    """One page (`size` rows) of a newest-first listing at `cursor`; and whether more follow.
    `fetch(limit, offset)` reads the listing; `is_newer(row)` says a row came after the anchor."""
    skip = 0 if cursor.first else count_newer(fetch, is_newer)
    rows = list(fetch(size + 1, skip + cursor.offset))
    return rows[:size], len(rows) > size
