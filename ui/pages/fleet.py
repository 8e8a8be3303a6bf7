"""Fleet: every agent (online, version, last seen) and every bot (state, mid, volume, PnL,
risk), kept current by the tenant's change feed; admins can register an agent here."""

from __future__ import annotations

from typing import Any

from fastapi.responses import RedirectResponse
from nicegui import ui
from pydantic import ValidationError

from controlplane.live.pubsub import LiveMessage
from controlplane.models import Role
from controlplane.schemas import AgentCreate
from controlplane.services import agents, bots
from controlplane.services.errors import Invalid, ServiceError
from controlplane.services.principal import Principal
from ui import present, session
from ui.feed import follow
from ui.layout import frame

AGENT_COLUMNS = [
    {"name": "name", "label": "Agent", "field": "name", "align": "left"},
    {"name": "online", "label": "Status", "field": "online", "align": "left"},
    {"name": "version", "label": "Version", "field": "version", "align": "left"},
    {"name": "last_seen", "label": "Last seen", "field": "last_seen", "align": "left"},
    {"name": "bots", "label": "Bots", "field": "bots"},
    {"name": "error", "label": "Error", "field": "error", "align": "left"},
]
BOT_COLUMNS = [
    {"name": "name", "label": "Bot", "field": "name", "align": "left"},
    {"name": "agent", "label": "Agent", "field": "agent", "align": "left"},
    {"name": "market", "label": "Market", "field": "market", "align": "left"},
    {"name": "state", "label": "State", "field": "state", "align": "left"},
    {"name": "mid", "label": "Mid", "field": "mid"},
    {"name": "volume", "label": "Volume today", "field": "volume"},
    {"name": "pnl", "label": "PnL", "field": "pnl"},
    {"name": "risk", "label": "Risk", "field": "risk", "align": "left"},
]


async def agent_rows(who: Principal) -> list[dict[str, Any]]:
    cp = session.control_plane()
    return [
        {
            "id": a.id,
            "name": a.name,
            "online": "online" if a.online else "offline",
            "version": a.version or "–",
            "last_seen": present.ago(a.last_seen_at),
            "bots": a.bots,
            "error": a.error,
        }
        for a in await agents.list_agents(cp, who)
    ]


async def bot_rows(who: Principal) -> list[dict[str, Any]]:
    cp = session.control_plane()
    rows = []
    for b in await bots.list_bots(cp, who):
        detail = await bots.get_bot(cp, who, b.id)
        live = detail.live or {}
        status = live.get("status") or {}
        today = await bots.daily_stats(cp, who, b.id, days=1)
        risk = (live.get("risk") or {}).get("status")
        rows.append(
            {
                "id": b.id,
                "name": b.name,
                "agent": b.agent_name,
                "market": f"{b.symbol} @ {b.venue}",
                "state": b.state or "–",
                "state_color": present.state_color(b.state),
                "mid": present.fmt(status.get("mid")),
                "volume": present.fmt(today[0].volume_quote, 2) if today else "0",
                "pnl": present.fmt(status.get("pnl_quote"), 4),
                "risk": risk or ("offline" if not b.online else "–"),
                "risk_color": present.risk_color(risk),
            }
        )
    return rows


def register() -> None:
    @ui.page("/")
    async def fleet_page() -> RedirectResponse | None:
        who = await session.principal()
        if who is None:
            return RedirectResponse("/login")
        cp = session.control_plane()
        frame(who, "Fleet")
        register_dialog: ui.dialog
        with ui.column().classes("w-full p-2 sm:p-4 gap-4"):
            with ui.card().classes("mm-card"):
                with ui.row().classes("w-full items-center justify-between"):
                    ui.label("Bots").classes("text-lg font-bold")
                bot_table = ui.table(columns=BOT_COLUMNS, rows=await bot_rows(who), row_key="id")
                bot_table.classes("w-full").props("flat dense wrap-cells").mark("bots").props(
                    'data-testid="bots"'
                )
                bot_table.add_slot(
                    "body-cell-name",
                    '<q-td :props="props"><a class="text-primary font-bold" '
                    ":href=\"'/bots/' + props.row.id\">{{ props.value }}</a></q-td>",
                )
                bot_table.add_slot(
                    "body-cell-state",
                    '<q-td :props="props"><q-badge :color="props.row.state_color">'
                    "{{ props.value }}</q-badge></q-td>",
                )
                bot_table.add_slot(
                    "body-cell-risk",
                    '<q-td :props="props"><q-badge :color="props.row.risk_color">'
                    "{{ props.value }}</q-badge></q-td>",
                )
            with ui.card().classes("mm-card"):
                with ui.row().classes("w-full items-center justify-between"):
                    ui.label("Agents").classes("text-lg font-bold")
                    if who.role is Role.ADMIN:
                        ui.button(
                            "Register agent", icon="add", on_click=lambda: register_dialog.open()
                        )
                agent_table = ui.table(
                    columns=AGENT_COLUMNS, rows=await agent_rows(who), row_key="id"
                )
                agent_table.classes("w-full").props("flat dense wrap-cells").mark("agents").props(
                    'data-testid="agents"'
                )
                agent_table.add_slot(
                    "body-cell-online",
                    '<q-td :props="props"><q-badge :color="props.value == \'online\' ? '
                    "'positive' : 'negative'\">{{ props.value }}</q-badge></q-td>",
                )

        register_dialog = ui.dialog()
        with register_dialog, ui.card().classes("w-96 max-w-full"):
            ui.label("Register an agent").classes("text-lg font-bold")
            name = ui.input("Name", placeholder="vps-1").classes("w-full")
            endpoint = ui.input("Endpoint", placeholder="127.0.0.1:50051").classes("w-full")
            token = ui.input("Agent token", password=True).classes("w-full")
            ui.label(
                "Off loopback the agent speaks mTLS: register it with `mmbot ctl` or the API "
                "so the client certificate can be uploaded."
            ).classes("text-xs text-grey-8")
            reg_message = ui.label("").classes("text-negative text-sm").mark("register-message")

            async def do_register() -> None:
                try:
                    body = AgentCreate(
                        name=name.value or "",
                        endpoint=endpoint.value or "",
                        token=token.value or "",
                    )
                    await agents.register_agent(cp, who, body)
                except ValidationError as exc:
                    reg_message.text = "; ".join(
                        f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()
                    )
                    return
                except Invalid as exc:
                    reg_message.text = exc.message
                    return
                except ServiceError as exc:
                    reg_message.text = exc.message
                    return
                token.value = ""
                register_dialog.close()
                ui.notify(f"Agent {name.value} registered", type="positive")
                await refresh()

            with ui.row():
                ui.button("Register", on_click=do_register).mark("register-submit").props(
                    'data-testid="register-submit"'
                )
                ui.button("Cancel", on_click=register_dialog.close).props("flat")

        async def refresh() -> None:
            bot_table.rows = await bot_rows(who)
            agent_table.rows = await agent_rows(who)
            bot_table.update()
            agent_table.update()

        async def on_feed(batch: list[LiveMessage], lagged: bool) -> None:
            await refresh()

        follow(await bots.subscribe(cp, who), on_feed, min_interval=1.0)
        return None
