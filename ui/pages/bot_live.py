"""One bot, live: charts, orders, fills, inventory, PnL, risk, volume program, event log, and
the lifecycle controls. The page re-reads the bot's live snapshot through the service layer
whenever the change feed reports something for this bot (at most twice a second)."""

from __future__ import annotations

import time
from typing import Any

from fastapi.responses import RedirectResponse
from nicegui import ui

from controlplane.live.pubsub import LiveMessage
from controlplane.schemas import BotDetail
from controlplane.services import bots, commands
from controlplane.services.errors import NotFound, ServiceError
from controlplane.services.principal import Principal
from ui import present, session
from ui.feed import follow
from ui.layout import confirm, frame

MAX_POINTS = 600
HISTORY_EVENTS = 300
LOG_KINDS = [k for k in bots.KINDS if k not in ("order", "status")]

# (command, label, icon, destructive: needs a confirmation, what it does)
CONTROLS: tuple[tuple[str, str, str, bool, str], ...] = (
    ("start", "Start", "play_arrow", False, ""),
    ("pause", "Pause", "pause", False, ""),
    ("resume", "Resume", "play_circle", False, ""),
    ("stop", "Stop", "stop", True, "Cancel all orders and stop quoting."),
    ("cancel-all", "Cancel all", "clear_all", True, "Cancel every open order of this bot."),
    (
        "kill",
        "Kill",
        "dangerous",
        True,
        "Kill switch: cancel everything and halt until an operator intervenes.",
    ),
)


def _cols(*names: str) -> list[dict[str, Any]]:
    return [
        {"name": n, "label": n.replace("_", " ").capitalize(), "field": n, "align": "left"}
        for n in names
    ]


BREACH_ROW = (
    "<q-tr :props=\"props\" :class=\"props.row.breach ? 'mm-breach' : ''\">"
    '<q-td v-for="col in props.cols" :key="col.name" :props="props">{{ col.value }}</q-td></q-tr>'
)


async def history(who: Principal, bot_id: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Mid-price points from archived status events, and the event log, oldest first."""
    cp = session.control_plane()
    statuses = await bots.list_events(cp, who, bot_id, kinds=["status"], limit=HISTORY_EVENTS)
    points = [
        {"t": e.at, "mid": e.data.get("mid"), "bid": None, "ask": None}
        for e in reversed(statuses.items)
        if e.data.get("mid") is not None
    ]
    log = await bots.list_events(cp, who, bot_id, kinds=LOG_KINDS, limit=HISTORY_EVENTS)
    events = [
        {"seq": e.seq, "at": e.at, "kind": e.kind, "severity": e.severity, **e.data}
        for e in log.items
    ]
    return points, events


class LiveBot:
    """The page's picture of one bot; `refresh()` pulls a new snapshot and redraws."""

    def __init__(self, who: Principal, detail: BotDetail) -> None:
        self.who = who
        self.bot_id = detail.id
        self.detail = detail
        self.points: list[dict[str, Any]] = []
        self.events: dict[int, dict[str, Any]] = {}

    @property
    def live(self) -> dict[str, Any]:
        return self.detail.live or {}

    @property
    def status(self) -> dict[str, Any]:
        return self.live.get("status") or {}

    def add_point(self) -> None:
        st = self.status
        if st.get("mid") is None:
            return
        now = time.time()
        if self.points and now - self.points[-1]["t"] < 0.4:
            self.points[-1] = present.ladder_point(now, st, self.live.get("open_orders") or [])
        else:
            self.points.append(present.ladder_point(now, st, self.live.get("open_orders") or []))
        del self.points[:-MAX_POINTS]

    def merge_events(self, events: list[dict[str, Any]]) -> None:
        for e in events:
            if e.get("kind") in LOG_KINDS:
                self.events[int(e.get("seq", 0))] = e
        if len(self.events) > HISTORY_EVENTS * 2:
            for seq in sorted(self.events)[: len(self.events) - HISTORY_EVENTS * 2]:
                del self.events[seq]

    def sorted_events(self) -> list[dict[str, Any]]:
        return [self.events[s] for s in sorted(self.events, reverse=True)]

    async def reload(self) -> None:
        self.detail = await bots.get_bot(session.control_plane(), self.who, self.bot_id)
        self.merge_events(self.live.get("recent_events") or [])
        self.add_point()


def register() -> None:
    @ui.page("/bots/{bot_id}")
    async def bot_page(bot_id: int) -> RedirectResponse | None:
        who = await session.principal()
        if who is None:
            return RedirectResponse("/login")
        cp = session.control_plane()
        try:
            detail = await bots.get_bot(cp, who, bot_id)
        except NotFound:
            frame(who, "Not found")
            ui.label(f"There is no bot {bot_id}.").classes("p-4 text-lg")
            return None
        view = LiveBot(who, detail)
        points, events = await history(who, bot_id)
        view.points = points
        view.merge_events(events)
        view.merge_events(view.live.get("recent_events") or [])
        view.add_point()
        frame(who, detail.name)
        render(view)

        async def on_feed(batch: list[LiveMessage], lagged: bool) -> None:
            await view.reload()
            redraw()

        redraw = build_live(view)
        follow(await bots.subscribe(cp, who, bot_id=bot_id), on_feed, min_interval=0.5)
        return None


def render(view: LiveBot) -> None:
    d = view.detail
    with ui.row().classes("w-full items-center gap-3 px-2 sm:px-4 pt-3"):
        ui.label(d.name).classes("text-xl font-bold").mark("bot-name").props(
            'data-testid="bot-name"'
        )
        ui.label(f"{d.symbol} @ {d.venue} · agent {d.agent_name}").classes("text-grey-8")
        ui.space()
        ui.button(
            "Configuration", icon="tune", on_click=lambda: ui.navigate.to(f"/bots/{d.id}/config")
        ).props("outline no-caps")


def build_live(view: LiveBot) -> Any:
    """Builds the live panels; returns the function that redraws them from `view`."""
    cp = session.control_plane()
    with ui.column().classes("w-full p-2 sm:p-4 gap-3"):
        # ---------------------------------------------------------------- state + controls
        with ui.card().classes("mm-card"):
            with ui.row().classes("items-center gap-2 w-full"):
                state_badge = (
                    ui.badge("")
                    .classes("text-base")
                    .mark("bot-state")
                    .props('data-testid="bot-state"')
                )
                reason = ui.label("").classes("text-grey-8")
                online = ui.badge("")
            buttons: dict[str, ui.button] = {}
            with ui.row().classes("gap-2 flex-wrap"):
                for cmd, label, icon, destructive, explain in CONTROLS:
                    buttons[cmd] = (
                        ui.button(
                            label,
                            icon=icon,
                            color="negative" if destructive else "primary",
                            on_click=lambda c=cmd, lab=label, dz=destructive, ex=explain: control(
                                c, lab, dz, ex
                            ),
                        )
                        .props("no-caps")
                        .mark(f"cmd-{cmd}")
                        .props(f'data-testid="cmd-{cmd}"')
                    )
            result = (
                ui.label("")
                .classes("text-sm")
                .mark("command-result")
                .props('data-testid="command-result"')
            )

        # ---------------------------------------------------------------- key figures
        with ui.row().classes("w-full gap-2 flex-wrap"):
            figures: dict[str, ui.label] = {}
            for key, title in (
                ("mid", "Mid"),
                ("spread", "Spread"),
                ("pnl_today_quote", "PnL today"),
                ("pnl_quote", "PnL total"),
                ("fills", "Fills"),
                ("volume_quote", "Volume"),
            ):
                with ui.card().classes("p-2 min-w-[130px] grow"):
                    ui.label(title).classes("text-xs text-grey-7")
                    figures[key] = (
                        ui.label("–")
                        .classes("text-lg font-mono")
                        .mark(f"fig-{key}")
                        .props(f'data-testid="fig-{key}"')
                    )

        # ---------------------------------------------------------------- charts
        with ui.row().classes("w-full gap-3 flex-wrap"):
            with ui.card().classes("mm-card mm-half"):
                ui.label("Mid price and own best bid/ask").classes("font-bold")
                mid_chart = ui.echart(present.mid_chart(view.points)).classes("w-full h-72")
                mid_chart.mark("mid-chart").props('data-testid="mid-chart"')
            with ui.card().classes("mm-card mm-half"):
                with ui.row().classes("items-center gap-2 w-full"):
                    ui.label("Market depth, own orders marked").classes("font-bold")
                    ui.space()
                    book_at = (
                        ui.label("")
                        .classes("text-xs text-grey-7")
                        .mark("book-at")
                        .props('data-testid="book-at"')
                    )
                # the options are set by redraw(), like every other panel
                depth = ui.echart({"animation": False, "series": []}).classes("w-full h-72")
                depth.mark("depth-chart").props('data-testid="depth-chart"')
                no_book = (
                    ui.label(present.NO_BOOK)
                    .classes("w-full h-72 flex items-center justify-center text-grey-7")
                    .mark("no-book")
                    .props('data-testid="no-book"')
                )

        # ---------------------------------------------------------------- orders + fills
        with ui.row().classes("w-full gap-3 flex-wrap"):
            with ui.card().classes("mm-card mm-half"):
                ui.label("Open orders").classes("font-bold")
                orders = (
                    ui.table(
                        columns=_cols("side", "price", "amount", "filled", "status", "age"),
                        rows=[],
                        row_key="id",
                        pagination=15,
                    )
                    .classes("w-full")
                    .props("flat dense")
                    .mark("orders")
                    .props('data-testid="orders"')
                )
            with ui.card().classes("mm-card mm-half"):
                ui.label("Fills").classes("font-bold")
                fills = (
                    ui.table(
                        columns=_cols("time", "side", "price", "amount", "fee", "liquidity"),
                        rows=[],
                        row_key="id",
                        pagination=15,
                    )
                    .classes("w-full")
                    .props("flat dense")
                    .mark("fills")
                    .props('data-testid="fills"')
                )

        # ---------------------------------------------------------------- inventory, risk, volume
        with ui.row().classes("w-full gap-3 flex-wrap"):
            with ui.card().classes("mm-card mm-half"):
                ui.label("Inventory").classes("font-bold")
                balances = (
                    ui.table(
                        columns=_cols("asset", "free", "locked", "total"), rows=[], row_key="asset"
                    )
                    .classes("w-full")
                    .props("flat dense")
                    .mark("balances")
                    .props('data-testid="balances"')
                )
                share = ui.label("").classes("text-sm")
                share_bar = ui.linear_progress(value=0, show_value=False).props("size=10px")
            with ui.card().classes("mm-card mm-half"):
                with ui.row().classes("items-center gap-2"):
                    ui.label("Risk").classes("font-bold")
                    risk_badge = ui.badge("").mark("risk-status").props('data-testid="risk-status"')
                risk = (
                    ui.table(
                        columns=_cols("rule", "value", "limit", "state", "action"),
                        rows=[],
                        row_key="rule",
                    )
                    .classes("w-full")
                    .props("flat dense")
                    .mark("risk")
                    .props('data-testid="risk"')
                )
                risk.add_slot("body", BREACH_ROW)
        with ui.card().classes("mm-card"):
            ui.label("Volume program").classes("font-bold")
            volume = ui.label("").classes("text-sm").mark("volume").props('data-testid="volume"')
            volume_bar = ui.linear_progress(value=0, show_value=False).props("size=10px")

        # ---------------------------------------------------------------- event log
        with ui.card().classes("mm-card"):
            with ui.row().classes("items-center gap-2 w-full flex-wrap"):
                ui.label("Events").classes("font-bold")
                ui.space()
                sev = ui.select(list(present.SEVERITIES), value="debug", label="Min severity")
                sev.classes("w-36").mark("event-severity").props('data-testid="event-severity"')
                kinds = ui.select(LOG_KINDS, multiple=True, value=[], label="Kinds")
                kinds.classes("min-w-[160px]").props("use-chips clearable").mark(
                    "event-kinds"
                ).props('data-testid="event-kinds"')
            log = (
                ui.table(
                    columns=_cols("time", "severity", "kind", "text"),
                    rows=[],
                    row_key="seq",
                    pagination=20,
                )
                .classes("w-full")
                .props("flat dense wrap-cells")
                .mark("events")
                .props('data-testid="events"')
            )

    def redraw_events() -> None:
        log.rows = present.event_rows(view.sorted_events(), sev.value or "debug", kinds.value)
        log.update()

    sev.on_value_change(redraw_events)
    kinds.on_value_change(redraw_events)

    def redraw() -> None:
        live, st, d = view.live, view.status, view.detail
        state = d.state or str(live.get("state") or "")
        state_badge.text = state or "unknown"
        state_badge.props(f"color={present.state_color(state)}")
        reason.text = str(live.get("state_reason") or "")
        online.text = "agent online" if d.online else "agent offline"
        online.props(f"color={'positive' if d.online else 'negative'}")
        allowed = present.allowed_commands(state, d.online)
        for cmd, button in buttons.items():
            button.set_enabled(cmd in allowed)
        for key, lab in figures.items():
            lab.text = present.fmt(st.get(key), 8 if key in ("mid", "spread") else 4)
        mid_chart.options.update(present.mid_chart(view.points))
        mid_chart.update()
        open_orders = live.get("open_orders") or []
        book = live.get("book")
        # an offline agent's last book is history, not the market: not drawn as if live
        chart = present.market_depth_chart(book, open_orders, st.get("mid")) if d.online else None
        if chart is not None:
            depth.options.update(chart)
            depth.update()
        else:
            no_book.text = present.NO_BOOK if d.online else present.OFFLINE_BOOK
        book_at.text = present.book_caption(book) if chart is not None else ""
        depth.set_visibility(chart is not None)
        no_book.set_visibility(chart is None)
        orders.rows = present.order_rows(open_orders)
        orders.update()
        fills.rows = present.fill_rows(live.get("recent_fills") or [])
        fills.update()
        balances.rows = present.inventory_rows(st)
        balances.update()
        base_share, target = (
            present.dec(st.get("base_share_pct")),
            st.get("inventory_target_base_pct"),
        )
        share.text = (
            f"Base share {present.fmt(base_share, 2)} % (target {present.fmt(target)} %)"
            if base_share is not None
            else "Base share: –"
        )
        share_bar.value = float(base_share) / 100 if base_share is not None else 0
        r = live.get("risk") or {}
        risk_badge.text = str(r.get("status") or "–")
        risk_badge.props(f"color={present.risk_color(r.get('status'))}")
        risk.rows = present.risk_rows(r)
        risk.update()
        v = live.get("volume") or {}
        target_v, done = present.dec(v.get("target")), present.dec(v.get("done"))
        parts = [
            f"target {present.fmt(v.get('target'))}",
            f"done {present.fmt(v.get('done'), 2)}",
            f"expected by now {present.fmt(v.get('expected'), 2)}",
            f"pace {present.fmt(v.get('pace_pct'))} % ({v.get('pace', '–')})",
            f"next window {present.fmt_time(v.get('next_window_at'))}",
        ]
        if not v.get("enabled", False):
            parts.insert(0, f"OFF ({v.get('disabled_reason') or 'disabled'})")
        volume.text = " · ".join(parts) if v else "no volume program data yet"
        volume_bar.value = float(done / target_v) if target_v and done is not None else 0
        redraw_events()

    async def control(command: str, label: str, destructive: bool, explain: str) -> None:
        if destructive and not await confirm(f"{label} {view.detail.name}?", explain, label):
            return
        try:
            out = await commands.run_command(cp, view.who, view.bot_id, command)
        except ServiceError as exc:
            result.text = f"{label} refused: {exc.message}"
            result.classes(replace="text-sm text-negative")
            ui.notify(result.text, type="negative")
            return
        note = "" if out.confirmed else " (not confirmed yet)"
        result.text = f"{label}: now {out.state}{note}. {out.message}".strip()
        result.classes(replace="text-sm text-positive")
        ui.notify(result.text, type="positive")
        await view.reload()
        redraw()

    redraw()
    return redraw
