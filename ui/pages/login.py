"""Sign in and out. Wrong credentials get one clear message whatever was wrong (user or
password); repeated failures are slowed down per username and per client address."""

from __future__ import annotations

import math

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import ui

from controlplane.services import auth
from controlplane.services.errors import Unauthorized
from ui import session

WRONG = "Wrong username or password."


def register() -> None:
    @ui.page("/login")
    async def login_page(request: Request) -> RedirectResponse | None:
        if await session.principal() is not None:
            return RedirectResponse("/")
        client_host = request.client.host if request.client else "?"
        ui.page_title("Sign in · mmbot")
        with ui.column().classes("absolute-center items-stretch w-80 max-w-[92vw] gap-3"):
            ui.label("mmbot console").classes("text-2xl font-bold text-center")
            username = (
                ui.input("Username")
                .props("outlined autofocus")
                .mark("username")
                .props('data-testid="username"')
            )
            password = (
                ui.input("Password", password=True, password_toggle_button=True)
                .props("outlined")
                .mark("password")
                .props('data-testid="password"')
            )
            message = (
                ui.label("")
                .classes("text-negative text-sm")
                .mark("login-message")
                .props('data-testid="login-message"')
            )

            async def submit() -> None:
                name = (username.value or "").strip()
                keys = [f"user:{name.lower()}", f"addr:{client_host}"]
                wait = session.limiter.retry_after(keys)
                if wait > 0:
                    message.text = (
                        f"Too many failed sign-ins. Try again in {math.ceil(wait)} seconds."
                    )
                    return
                if not name or not password.value:
                    message.text = "Enter a username and a password."
                    return
                try:
                    tok = await auth.login(session.control_plane(), name, password.value)
                except Unauthorized:
                    session.limiter.failed(keys)
                    password.value = ""
                    message.text = WRONG
                    return
                session.limiter.succeeded(keys)
                session.store_session(tok.access_token, name)
                ui.navigate.to("/")

            password.on("keydown.enter", submit)
            ui.button("Sign in", on_click=submit).props("unelevated").mark("sign-in").props(
                'data-testid="sign-in"'
            )
        return None
