"""Credentials, write-only: set, replace or delete a bot's venue API keys and an agent's
Telegram bot token. The console never shows a stored value (the service layer cannot return
one); it shows whether one is set, since when, and whether the agent has received it."""

from __future__ import annotations

import datetime as dt

from fastapi.responses import RedirectResponse
from nicegui import ui
from pydantic import ValidationError

from controlplane.models import Role
from controlplane.schemas import AgentOut, BotOut, CredentialsIn, TelegramTokenIn
from controlplane.services import agents, bots, credentials
from controlplane.services.errors import ServiceError
from controlplane.services.principal import Principal
from ui import present, session
from ui.layout import confirm, frame


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
            cp = session.control_plane()
            for bot in await bots.list_bots(cp, who):
                venue_card(who, bot)
            ui.label("Telegram").classes("text-lg font-bold mt-2")
            ui.label(
                "Each agent sends its bots' alerts through one Telegram bot: paste the token "
                "@BotFather gave you. The chats that receive alerts are set in each bot's "
                "notifications settings."
            ).classes("text-sm text-grey-8")
            for agent in await agents.list_agents(cp, who):
                telegram_card(who, agent)
        return None


def _stored_note(at: dt.datetime | None, pushed: bool | None = None) -> str:
    if at is None:
        return ""
    where = {
        None: "",
        True: "; the agent has it",
        False: "; the agent gets it when it connects",
    }[pushed]
    return f"Set on {present.fmt_time(at)}{where}."


def _deleted_note(pushed: bool) -> str:
    gone = "the agent deleted its copy" if pushed else "the agent deletes its copy when it connects"
    return f"Deleted; {gone}."


def _say(note: ui.label, text: str, colour: str = "") -> None:
    note.text = text
    note.classes(replace=f"text-sm {colour}".strip())


def telegram_card(who: Principal, agent: AgentOut) -> None:
    cp = session.control_plane()
    mark = f"tg-{agent.name}"
    with ui.card().classes("mm-card").mark(mark).props(f'data-testid="{mark}"'):
        with ui.row().classes("items-center gap-2 w-full"):
            ui.label(f"Agent {agent.name}").classes("font-bold")
            status = (
                ui.badge("")
                .mark(f"tg-status-{agent.name}")
                .props(f'data-testid="tg-status-{agent.name}"')
            )
        note = ui.label("").classes("text-sm").mark(f"tg-note-{agent.name}")

        def show(at: dt.datetime | None, text: str | None = None) -> None:
            status.text = "token set" if at is not None else "no token"
            status.props(f"color={'positive' if at is not None else 'grey'}")
            note.text = text if text is not None else _stored_note(at)

        show(agent.telegram_token_updated_at)
        if who.role is not Role.ADMIN:
            return
        token = (
            ui.input("Bot token", password=True, placeholder="123456789:AA...")
            .props("dense autocomplete=off")
            .classes("w-full")
            .mark(f"tg-token-{agent.name}")
            .props(f'data-testid="tg-token-{agent.name}"')
        )

        async def save() -> None:
            try:
                body = TelegramTokenIn(token=(token.value or "").strip())
            except ValidationError as exc:
                note.text = "; ".join(f"token: {e['msg']}" for e in exc.errors())
                note.classes(replace="text-sm text-negative")
                return
            finally:
                token.value = ""
            try:
                out = await credentials.set_telegram_token(cp, who, agent.id, body)
            except ServiceError as exc:
                return _say(note, f"Not saved: {exc.message}", "text-negative")
            show(out.updated_at, _stored_note(out.updated_at, out.pushed))
            note.classes(replace="text-sm text-positive")

        async def delete() -> None:
            if not await confirm(
                f"Delete the Telegram bot token of {agent.name}?",
                "Its bots stop sending Telegram alerts (unless the agent's host sets "
                "MMBOT_TELEGRAM_BOT_TOKEN).",
                "Delete",
            ):
                return
            try:
                out = await credentials.delete_telegram_token(cp, who, agent.id)
            except ServiceError as exc:
                return _say(note, f"Not deleted: {exc.message}", "text-negative")
            show(None)
            _say(note, _deleted_note(out.pushed))

        with ui.row().classes("gap-2"):
            ui.button("Save token", icon="save", on_click=save).mark(f"tg-save-{agent.name}").props(
                f'data-testid="tg-save-{agent.name}"'
            )
            ui.button("Delete token", icon="delete", color="negative", on_click=delete).mark(
                f"tg-delete-{agent.name}"
            ).props("outline")


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

        show(bot.has_credentials, _stored_note(bot.credentials_updated_at))
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
                return _say(note, f"Not saved: {exc.message}", "text-negative")
            pushed = "the agent has them" if out.pushed else "the agent gets them when it connects"
            show(True, f"Set on {present.fmt_time(out.updated_at)}; {pushed}.")
            note.classes(replace="text-sm text-positive")

        async def delete() -> None:
            if not await confirm(
                f"Delete the stored keys of {bot.name}?",
                "The agent deletes its copy too; a bot that is running keeps the keys it "
                "loaded until it is restarted.",
                "Delete",
            ):
                return
            try:
                out = await credentials.delete_credentials(cp, who, bot.id)
            except ServiceError as exc:
                return _say(note, f"Not deleted: {exc.message}", "text-negative")
            show(False)
            _say(note, _deleted_note(out.pushed))

        with ui.row().classes("gap-2"):
            ui.button("Save keys", icon="save", on_click=save).mark(f"cred-save-{bot.name}").props(
                f'data-testid="cred-save-{bot.name}"'
            )
            ui.button("Delete keys", icon="delete", color="negative", on_click=delete).mark(
                f"cred-delete-{bot.name}"
            ).props("outline")
