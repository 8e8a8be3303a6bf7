"""Fleet: every agent (online, version, last seen) and every bot (state, mid, 24 h volume,
PnL, risk), kept current by the tenant's change feed. Admins can register an agent here, or
provision a VPS as a new agent and watch the playbook run task by task."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi.responses import RedirectResponse
from nicegui import background_tasks, ui
from pydantic import ValidationError

from controlplane.live.pubsub import LiveMessage
from controlplane.models import Role
from controlplane.runtime import ControlPlane
from controlplane.schemas import AgentCreate
from controlplane.services import agents, bots, provisioning
from controlplane.services.errors import Invalid, ServiceError
from controlplane.services.principal import Principal
from controlplane.services.provisioning import Note, ProvisionRequest, ProvisionRun
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
    {"name": "volume", "label": "24h volume", "field": "volume"},
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
    for b, snapshot in await bots.list_bots_live(cp, who):
        live = snapshot or {}
        status = live.get("status") or {}
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
                "volume": present.fmt(b.volume_24h_quote, 2),
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
        open_provision: Callable[[], None]  # admins only, like the button that calls it
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
                        with ui.row().classes("gap-2"):
                            ui.button(
                                "Register agent",
                                icon="add",
                                on_click=lambda: register_dialog.open(),
                            )
                            ui.button(
                                "Add agent (provision a VPS)",
                                icon="cloud_upload",
                                on_click=lambda: open_provision(),
                            ).mark("provision-open").props('data-testid="provision-open"')
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

        if who.role is Role.ADMIN:
            open_provision = provision_dialog(cp, who, refresh)

        async def on_feed(batch: list[LiveMessage], lagged: bool) -> None:
            await refresh()

        follow(await bots.subscribe(cp, who), on_feed, min_interval=1.0)
        return None


# --------------------------------------------------------------------------- provisioning

STATUS_CLASSES = {
    "ok": "text-positive",
    "changed": "text-warning",
    "failed": "text-negative font-bold",
    "unreachable": "text-negative font-bold",
    "skipped": "text-grey-6",
    "ignored": "text-grey-6",
    "hidden": "text-info",  # no_log: whether it changed stays out of the events
}
WRAP = "whitespace-pre-wrap"  # long messages wrap inside the dialog, aligned columns stay


def provision_dialog(
    cp: ControlPlane, who: Principal, on_registered: Callable[[], Awaitable[None]]
) -> Callable[[], None]:
    """The "Add agent (provision a VPS)" dialog; returns what opens it.

    The run itself belongs to `services.provisioning` (a worker thread, the registration, one
    run per process); this page only follows its stream. Closing the dialog or the tab does
    not stop a run, and opening the dialog again while one is going shows it from the start.
    """
    dialog = ui.dialog()
    watching: list[ProvisionRun] = []
    with dialog, ui.card().classes("max-w-full").style("width: 40rem"):
        ui.label("Add agent (provision a VPS)").classes("text-lg font-bold")
        ui.label(
            "Runs the provisioning playbook from this control plane's machine over SSH against "
            "a fresh Debian 12 / Ubuntu 24.04 host, then registers the agent here with its own "
            "mTLS certificate. Paths are on the control plane's machine."
        ).classes("text-xs text-grey-8")
        with ui.column().classes("w-full gap-0") as form:
            fields: dict[str, Any] = {}
            with ui.row().classes("w-full no-wrap gap-2"):
                fields["host"] = ui.input("Host", placeholder="203.0.113.10 or vps.example.com")
                fields["host"].classes("grow").mark("prov-host").props('data-testid="prov-host"')
                fields["ssh_port"] = ui.number("SSH port", value=22, min=1, max=65535, format="%d")
                fields["ssh_port"].classes("w-28").mark("prov-ssh-port")
            with ui.row().classes("w-full no-wrap gap-2"):
                fields["user"] = ui.input("SSH user", value="root").classes("w-40")
                fields["user"].mark("prov-user")
                fields["ssh_key"] = ui.input("SSH key", placeholder="/root/.ssh/id_ed25519")
                fields["ssh_key"].classes("grow").mark("prov-ssh-key")
            with ui.row().classes("w-full no-wrap gap-2"):
                fields["name"] = ui.input("Agent name", placeholder="derived from the host")
                fields["name"].classes("grow").mark("prov-name")
                fields["agent_port"] = ui.number(
                    "Agent port", value=50051, min=1, max=65535, format="%d"
                )
                fields["agent_port"].classes("w-28").mark("prov-agent-port")
            fields["allow_from"] = ui.input(
                "Allow from",
                placeholder="default: this machine's address towards the host",
            ).classes("w-full")
            fields["allow_from"].mark("prov-allow-from").tooltip(
                "Addresses or networks that may reach the agent's gRPC port (comma-separated)"
            )
            with ui.expansion("Advanced").classes("w-full"):
                fields["wheel"] = ui.input(
                    "Wheel", placeholder="default: built from this control plane's source tree"
                ).classes("w-full")
                fields["wheel"].mark("prov-wheel")
                fields["wheelhouse"] = ui.input(
                    "Wheelhouse",
                    placeholder="dependency wheels (directory or .tar) for a host without PyPI",
                ).classes("w-full")
                fields["wheelhouse"].mark("prov-wheelhouse")
                fields["extra_vars"] = ui.textarea(
                    "Extra vars", placeholder="one KEY=VALUE (YAML value) or @FILE per line"
                ).classes("w-full")
                fields["extra_vars"].mark("prov-extra-vars")
        message = (
            ui.label("")
            .classes("text-negative text-sm")
            .mark("provision-message")
            .props('data-testid="provision-message"')
        )

        with ui.column().classes("w-full gap-1") as panel:
            status = ui.label("").classes("text-sm").mark("provision-status")
            bar = ui.linear_progress(value=0, show_value=False).mark("provision-bar")
            elapsed = ui.label("").classes("text-xs text-grey-8").mark("provision-elapsed")
            log = ui.log(max_lines=500).classes("w-full h-64 text-xs").mark("provision-log")
            result = ui.label("").classes("text-sm font-bold").mark("provision-result")
        panel.set_visibility(False)

        with ui.row():
            start_button = (
                ui.button("Provision")
                .mark("provision-start")
                .props('data-testid="provision-start"')
            )
            ui.button("Close", on_click=dialog.close).props("flat")

    def tick() -> None:
        if watching:
            elapsed.text = f"elapsed {watching[-1].elapsed():.0f} s"

    timer = ui.timer(1.0, tick, active=False)
    client = ui.context.client

    async def watch(run: ProvisionRun) -> None:
        """Follow the run's stream into the panel (replayed from the start)."""
        watching.append(run)
        panel.set_visibility(True)
        form.set_visibility(False)
        start_button.set_enabled(False)
        log.clear()
        result.text = ""
        bar.value = 0
        timer.activate()
        try:
            async for item in run.follow():
                if isinstance(item, Note):
                    log.push(item.text, classes=f"text-grey-8 {WRAP}")
                    continue
                label = f"{item.role} : {item.task}" if item.role else item.task
                total = max(item.total, item.index, 1)
                if item.kind == "start":
                    bar.value = (item.index - 1) / total
                    status.text = f"task {item.index} of {total}: {label}"
                    continue
                bar.value = item.index / total
                log.push(
                    f"{item.status:>11}  {label}",
                    classes=f"{STATUS_CLASSES.get(item.status, '')} {WRAP}",
                )
                if item.message:
                    log.push(f"             {item.message}", classes=f"text-negative {WRAP}")
            outcome = await run.wait()
        finally:
            timer.deactivate()
            tick()
            start_button.set_enabled(True)
        s = outcome.stats
        counts = (
            f"ok={s.get('ok', 0)} changed={s.get('changed', 0)} failed={s.get('failed', 0)} "
            f"unreachable={s.get('unreachable', 0)} skipped={s.get('skipped', 0)}"
        )
        reg = outcome.registration.get("status", "")
        if outcome.ok:
            bar.value = 1
            status.text = f"done: {outcome.name} provisioned"
            result.text = (
                f"Provisioned {outcome.name} in {outcome.elapsed_s:.0f} s: {counts}; "
                f"{reg.replace('-', ' ')}"
            )
            result.classes(replace="text-sm font-bold text-positive")
            with client:
                ui.notify(f"Agent {outcome.name} provisioned ({reg})", type="positive")
            await on_registered()
        else:
            status.text = f"failed: {outcome.name}"
            result.text = f"Failed after {outcome.elapsed_s:.0f} s" + (f": {counts}" if s else "")
            if outcome.error:
                result.text += f". {outcome.error}"
            result.classes(replace="text-sm font-bold text-negative")
        form.set_visibility(True)

    def follow_run(run: ProvisionRun) -> None:
        task = background_tasks.create(watch(run), name="console-provision")
        client.on_delete(lambda: task.cancel() if not task.done() else None)

    async def submit() -> None:
        for el in fields.values():
            el.error = None
        message.text = ""
        req = ProvisionRequest(
            host=fields["host"].value or "",
            user=fields["user"].value or "",
            ssh_port=fields["ssh_port"].value,
            ssh_key=fields["ssh_key"].value or "",
            name=fields["name"].value or "",
            agent_port=fields["agent_port"].value,
            allow_from=fields["allow_from"].value or "",
            wheel=fields["wheel"].value or "",
            wheelhouse=fields["wheelhouse"].value or "",
            extra_vars=fields["extra_vars"].value or "",
        )
        try:
            run = await provisioning.start(cp, who, req)
        except Invalid as exc:
            for err in exc.errors:
                el = fields.get(str(err.loc[0])) if err.loc else None
                if el is not None:
                    el.error = err.msg
            message.text = exc.message
            return
        except ServiceError as exc:
            message.text = exc.message
            return
        follow_run(run)

    start_button.on_click(submit)

    def open_dialog() -> None:
        run = provisioning.current(who)
        if run is not None and not run.done and (not watching or watching[-1] is not run):
            follow_run(run)  # a run started elsewhere (another tab or admin): show it
        dialog.open()

    return open_dialog
