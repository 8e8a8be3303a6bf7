"""A fake Telegram Bot API server over real HTTP on 127.0.0.1 (aiohttp).

python-telegram-bot talks to it exactly as to api.telegram.org (`POST /bot<token>/<method>`,
form-encoded parameters), so the notifier's whole HTTP path is exercised. Tests inject updates
(messages, button presses), read what the server received, and script failures: 5xx answers,
slow answers that make the client time out, 429 with `retry_after`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

BOT_USER = {
    "id": 4242,
    "is_bot": True,
    "first_name": "mmbot",
    "username": "mmbot_test_bot",
    "can_join_groups": True,
    "can_read_all_group_messages": False,
    "supports_inline_queries": False,
}


@dataclass
class Call:
    """One request the fake received, and the HTTP status it got (0 while in progress)."""

    method: str
    params: dict[str, str]
    at: float  # loop time when it arrived
    status: int = 0
    result: Any = None  # what a successful call returned (the Message for sendMessage)

    @property
    def chat_id(self) -> int | None:
        value = self.params.get("chat_id")
        return int(value) if value is not None else None

    @property
    def text(self) -> str:
        return self.params.get("text", "")

    @property
    def silent(self) -> bool:
        return self.params.get("disable_notification") == "true"

    @property
    def reply_markup(self) -> dict[str, Any] | None:
        raw = self.params.get("reply_markup")
        return json.loads(raw) if raw else None

    @property
    def message_id(self) -> int:
        assert isinstance(self.result, dict), f"{self.method} did not succeed"
        return int(self.result["message_id"])

    def buttons(self) -> list[tuple[str, str]]:
        """(label, callback_data) of an inline keyboard, row by row."""
        markup = self.reply_markup or {}
        return [
            (b["text"], b.get("callback_data", ""))
            for row in markup.get("inline_keyboard", [])
            for b in row
        ]


@dataclass
class Fault:
    status: int = 500
    retry_after: int | None = None
    delay: float = 0.0  # sleep before answering (longer than the client's timeout: TimedOut)


@dataclass
class FakeTelegram:
    token: str
    host: str = "127.0.0.1"
    calls: list[Call] = field(default_factory=list)
    updates: list[dict[str, Any]] = field(default_factory=list)
    faults: dict[str, deque[Fault]] = field(default_factory=dict)
    messages: dict[tuple[int, int], dict[str, Any]] = field(default_factory=dict)
    max_long_poll: float = 1.0

    def __post_init__(self) -> None:
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1)
        self._new_update = asyncio.Event()
        self._closing = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.port = 0

    # ------------------------------------------------------------------ server
    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/bot{token}/{method}", self._handle)
        app.router.add_get("/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    async def close(self) -> None:
        self._closing.set()
        self._new_update.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # ------------------------------------------------------------------ scripting
    def fail(
        self,
        method: str,
        *,
        status: int = 500,
        count: int = 1,
        retry_after: int | None = None,
        delay: float = 0.0,
    ) -> None:
        """The next `count` calls of `method` fail this way (then it works again)."""
        queue = self.faults.setdefault(method, deque())
        for _ in range(count):
            queue.append(Fault(status, retry_after, delay))

    def inject_message(self, chat_id: int, text: str, *, user_id: int = 777) -> int:
        """A user writes `text` in chat `chat_id` (a command when it starts with '/')."""
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": _chat(chat_id),
            "from": {"id": user_id, "is_bot": False, "first_name": "Operator"},
            "text": text,
        }
        if text.startswith("/"):
            length = len(text.split()[0])
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
        return self._push({"message": message})

    def inject_callback(
        self, chat_id: int, message_id: int, data: str, *, user_id: int = 777
    ) -> int:
        """A user presses an inline button carrying `data` under message `message_id`."""
        original = self.messages.get((chat_id, message_id), {})
        update_id = next(self._update_ids)
        query = {
            "id": f"cb{update_id}",
            "from": {"id": user_id, "is_bot": False, "first_name": "Operator"},
            "chat_instance": f"ci{chat_id}",
            "data": data,
            "message": {
                "message_id": message_id,
                "date": int(time.time()),
                "chat": _chat(chat_id),
                "from": BOT_USER,
                "text": original.get("text", "?"),
            },
        }
        return self._push({"callback_query": query}, update_id)

    def _push(self, body: dict[str, Any], update_id: int | None = None) -> int:
        uid = update_id if update_id is not None else next(self._update_ids)
        self.updates.append({"update_id": uid, **body})
        self._new_update.set()
        return uid

    # ------------------------------------------------------------------ reading
    def of(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def sent(self, chat_id: int | None = None) -> list[Call]:
        """Messages the fake accepted (failed attempts excluded)."""
        return [
            c
            for c in self.of("sendMessage")
            if c.status == 200 and (chat_id is None or c.chat_id == chat_id)
        ]

    def texts(self, chat_id: int | None = None) -> list[str]:
        return [c.text for c in self.sent(chat_id)]

    async def wait_for(
        self, predicate: Callable[[], Any], timeout: float = 5.0, what: str = "condition"
    ) -> Any:
        """Poll until `predicate()` is truthy; returns its value."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if loop.time() > deadline:
                raise AssertionError(f"timed out after {timeout} s waiting for {what}")
            await asyncio.sleep(0.02)

    # ------------------------------------------------------------------ handler
    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        form = await request.post()
        call = Call(method, {k: str(v) for k, v in form.items()}, asyncio.get_running_loop().time())
        self.calls.append(call)
        response = await self._answer(call, request.match_info["token"])
        call.status = response.status
        return response

    async def _answer(self, call: Call, token: str) -> web.Response:
        if token != self.token:
            return _error(401, "Unauthorized")
        faults = self.faults.get(call.method)
        if faults:
            fault = faults.popleft()
            if fault.delay:
                await asyncio.sleep(fault.delay)
            if fault.retry_after is not None:
                return _error(
                    429,
                    f"Too Many Requests: retry after {fault.retry_after}",
                    {"retry_after": fault.retry_after},
                )
            return _error(fault.status, "Internal Server Error")
        handler = getattr(self, f"_m_{call.method}", None)
        if handler is None:
            return _error(404, "Not Found: method not found")
        call.result = await handler(call.params)
        return web.json_response({"ok": True, "result": call.result})

    async def _m_getMe(self, params: dict[str, str]) -> Any:
        return BOT_USER

    async def _m_deleteWebhook(self, params: dict[str, str]) -> Any:
        if params.get("drop_pending_updates") in ("true", "True", "1"):
            self.updates.clear()
        return True

    async def _m_setMyCommands(self, params: dict[str, str]) -> Any:
        return True

    async def _m_getUpdates(self, params: dict[str, str]) -> Any:
        offset = int(params.get("offset") or 0)
        self.updates = [u for u in self.updates if u["update_id"] >= offset]
        limit = int(params.get("limit") or 100)
        wait = min(float(params.get("timeout") or 0), self.max_long_poll)
        if not self.updates and not self._closing.is_set():
            self._new_update.clear()
            # Long polling: hold the request until an update arrives (or a short time passes
            # for timeout=0, so a client polling in a loop does not spin).
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._new_update.wait(), max(wait, 0.05))
        return self.updates[:limit]

    async def _m_sendMessage(self, params: dict[str, str]) -> Any:
        chat_id = int(params["chat_id"])
        message_id = next(self._message_ids)
        message: dict[str, Any] = {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": _chat(chat_id),
            "from": BOT_USER,
            "text": params.get("text", ""),
        }
        if params.get("reply_markup"):
            message["reply_markup"] = json.loads(params["reply_markup"])
        self.messages[(chat_id, message_id)] = message
        return message

    async def _m_answerCallbackQuery(self, params: dict[str, str]) -> Any:
        return True

    async def _m_editMessageText(self, params: dict[str, str]) -> Any:
        chat_id = int(params["chat_id"])
        key = (chat_id, int(params["message_id"]))
        message = dict(self.messages.get(key) or {"message_id": key[1], "chat": _chat(chat_id)})
        message.update({"date": int(time.time()), "from": BOT_USER, "text": params.get("text", "")})
        if params.get("reply_markup"):
            message["reply_markup"] = json.loads(params["reply_markup"])
        else:
            message.pop("reply_markup", None)
        self.messages[key] = message
        return message


def _chat(chat_id: int) -> dict[str, Any]:
    if chat_id < 0:
        return {"id": chat_id, "type": "group", "title": f"group {chat_id}"}
    return {"id": chat_id, "type": "private", "first_name": "Operator"}


def _error(status: int, description: str, parameters: dict[str, Any] | None = None) -> web.Response:
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if parameters:
        body["parameters"] = parameters
    return web.json_response(body, status=status)
