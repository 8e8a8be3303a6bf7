"""Venue credentials, write-only: set, replace or delete a bot's API keys. The console never
shows a stored value (the service layer cannot return one); it shows whether keys are set,
when this session set them, and whether the agent has received them."""

from __future__ import annotations

from fastapi.responses import RedirectResponse
from nicegui import ui
from pydantic import ValidationError

from controlplane.models import Role
from controlplane.schemas import BotOut, CredentialsIn
from controlplane.services import bots, credentials
from controlplane.services.errors import ServiceError
from controlplane.services.principal import Principal
from ui import present, session
from ui.layout import frame


def register() -> None:
    @ui.page("/credentials")
    async def credentials_page() -> RedirectResponse | None:
        who = await session.principal()
        if who is None:
            return RedirectResponse("/login")
        frame(who, "Credentials")
        with ui.column().classes("w-full p-2 sm:p-4 gap-3"):
            ui.label("Credentials").classes("text-xl font-bold")
            ui.label(
                "Keys are encrypted at rest and forwarded to the bot's agent. They are never "
                "shown again: to change one, enter a new value."
            ).classes("text-sm text-grey-8")
            if who.role is not Role.ADMIN:
                ui.label("Only admins can change credentials.").classes("text-warning")
            for bot in await bots.list_bots(session.control_plane(), who):
                venue_card(who, bot)
            with ui.card().classes("mm-card"):
                ui.label("Telegram bot token").classes("font-bold")
                ui.label(
                    "Not settable from the console yet: the control plane has no service for it. "
                    "Store it in the agent's credentials or set MMBOT_TELEGRAM_BOT_TOKEN on the "
                    "agent's host."
                ).classes("text-sm text-grey-8")
        return None


def venue_card(who: Principal, bot: BotOut) -> None:
    cp = session.control_plane()
    with (
        ui.card()
        .classes("mm-card")
        .mark(f"cred-{bot.name}")
        .props(f'data-testid="cred-{bot.name}"')
    ):
        with ui.row().classes("items-center gap-2 w-full"):
            ui.label(f"{bot.name} · {bot.venue}").classes("font-bold")
            status = (
                ui.badge("")
                .mark(f"cred-status-{bot.name}")
                .props(f'data-testid="cred-status-{bot.name}"')
            )
        note = ui.label("").classes("text-sm")

        def show(has: bool, text: str = "") -> None:
            status.text = "set" if has else "not set"
            status.props(f"color={'positive' if has else 'grey'}")
            note.text = text

        show(bot.has_credentials)
        if who.role is not Role.ADMIN:
            return
        with ui.element("div").classes("grid grid-cols-1 sm:grid-cols-3 gap-2 w-full"):
            api_key = ui.input("API key", password=True).props("dense autocomplete=off")
            secret = ui.input("Secret", password=True).props("dense autocomplete=off")
            passphrase = ui.input("Passphrase (if the venue uses one)", password=True).props(
                "dense autocomplete=off"
            )

        async def save() -> None:
            try:
                body = CredentialsIn(
                    api_key=api_key.value or "",
                    secret=secret.value or "",
                    passphrase=passphrase.value or "",
                )
            except ValidationError as exc:
                note.text = "; ".join(
                    f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()
                )
                note.classes(replace="text-sm text-negative")
                return
            finally:
                for el in (api_key, secret, passphrase):
                    el.value = ""
            try:
                out = await credentials.set_credentials(cp, who, bot.id, body)
            except ServiceError as exc:
                note.text = f"Not saved: {exc.message}"
                note.classes(replace="text-sm text-negative")
                return
            pushed = "the agent has them" if out.pushed else "the agent gets them when it connects"
            show(True, f"Set on {present.fmt_time(out.updated_at)}; {pushed}.")
            note.classes(replace="text-sm text-positive")

        async def delete() -> None:
            with ui.dialog() as dialog, ui.card():
                ui.label(f"Delete the stored keys of {bot.name}?").classes("font-bold")
                ui.label("The agent keeps the copy it already received until it is restarted.")
                with ui.row():
                    ui.button("Delete", color="negative", on_click=lambda: dialog.submit(True))
                    ui.button("Cancel", on_click=lambda: dialog.submit(False)).props("flat")
            ok = await dialog
            dialog.delete()
            if not ok:
                return
            try:
                await credentials.delete_credentials(cp, who, bot.id)
            except ServiceError as exc:
                note.text = f"Not deleted: {exc.message}"
                return
            show(False, "Deleted.")

        with ui.row().classes("gap-2"):
            ui.button("Save keys", icon="save", on_click=save).mark(f"cred-save-{bot.name}").props(
                f'data-testid="cred-save-{bot.name}"'
            )
            ui.button("Delete keys", icon="delete", color="negative", on_click=delete).props(
                "outline"
            )
