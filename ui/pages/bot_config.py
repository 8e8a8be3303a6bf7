"""A bot's configuration: a form for every field of the agent's config models with inline
validation from those same models, a ladder preview from the agent (dry run through the
service layer), apply with a comment, and the version history with diffs and roll back."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from fastapi.responses import RedirectResponse
from nicegui import ui

from controlplane.schemas import ConfigApplied, ConfigIn, ConfigPreview, ConfigVersionOut
from controlplane.services import bots, configs
from controlplane.services.errors import Invalid, NotFound, ServiceError
from controlplane.services.principal import Principal
from ui import config_form, present, session
from ui.layout import confirm, frame

PREVIEW_DELAY = 0.6  # seconds of quiet typing before the ladder preview refreshes by itself

HISTORY_COLUMNS = [
    {"name": "version", "label": "Version", "field": "version", "align": "left"},
    {"name": "created", "label": "Created", "field": "created", "align": "left"},
    {"name": "author", "label": "Author", "field": "author", "align": "left"},
    {"name": "source", "label": "Source", "field": "source", "align": "left"},
    {"name": "comment", "label": "Comment", "field": "comment", "align": "left"},
    {"name": "actions", "label": "", "field": "version", "align": "right"},
]
HISTORY_ACTIONS = (
    '<q-td :props="props">'
    '<q-badge v-if="props.row.applied" color="positive" class="q-mr-sm">applied</q-badge>'
    "<q-btn flat dense no-caps size=sm icon=difference label=Diff "
    "@click=\"$parent.$emit('diff', props.row.version)\" />"
    '<q-btn v-if="!props.row.applied" flat dense no-caps size=sm color=warning icon=history '
    'label="Roll back" :data-testid="\'rollback-\' + props.row.version" '
    "@click=\"$parent.$emit('rollback', props.row.version)\" />"
    "</q-td>"
)
PREVIEW_COLUMNS = [
    {"name": n, "label": n.capitalize(), "field": n, "align": "left"}
    for n in ("side", "level", "price", "amount", "notional")
]


async def current_config(who: Principal, bot_id: int) -> tuple[int | None, dict[str, Any]]:
    """(applied version, its config); a bot without any stored version gets the defaults."""
    cp = session.control_plane()
    detail = await bots.get_bot(cp, who, bot_id)
    if detail.applied_version is not None:
        v = await configs.get_config(cp, who, bot_id, detail.applied_version)
        return v.version, v.config
    base = {"bot": {"name": detail.name, "venue": detail.venue, "symbol": detail.symbol}}
    normal, _ = config_form.validate(config_form.to_form(base))
    return None, normal or base


def register() -> None:
    @ui.page("/bots/{bot_id}/config")
    async def config_page(bot_id: int) -> RedirectResponse | None:
        who = await session.principal()
        if who is None:
            return RedirectResponse("/login")
        try:
            detail = await bots.get_bot(session.control_plane(), who, bot_id)
        except NotFound:
            frame(who, "Not found")
            ui.label(f"There is no bot {bot_id}.").classes("p-4 text-lg")
            return None
        frame(who, f"{detail.name} configuration")
        data = await ConfigEditor.fetch(who, bot_id)  # before building: the page renders complete
        ConfigEditor(who, bot_id, detail.name).show(*data)
        return None


class ConfigEditor:
    def __init__(self, who: Principal, bot_id: int, name: str) -> None:
        self.who = who
        self.bot_id = bot_id
        self.values: dict[str, Any] = {}
        self.version: int | None = None
        self.inputs: dict[str, Any] = {}
        self._filling = False
        self._preview_task: asyncio.Task[None] | None = None
        with ui.column().classes("w-full p-2 sm:p-4 gap-3"):
            with ui.row().classes("w-full items-center gap-3"):
                ui.label(f"{name}: configuration").classes("text-xl font-bold")
                self.version_label = (
                    ui.badge("").mark("config-version").props('data-testid="config-version"')
                )
                ui.space()
                ui.button(
                    "Live view",
                    icon="show_chart",
                    on_click=lambda: ui.navigate.to(f"/bots/{bot_id}"),
                ).props("outline no-caps")
            self.summary = (
                ui.label("")
                .classes("text-negative")
                .mark("config-errors")
                .props('data-testid="config-errors"')
            )
            self._build_form()
            self._build_preview()
            self._build_apply()
            self._build_history()

    # ------------------------------------------------------------------ form
    def _build_form(self) -> None:
        for block, title in config_form.BLOCKS:
            specs = [f for f in config_form.FIELDS if f.block == block]
            with (
                ui.expansion(title, value=block == "market_making")
                .classes("mm-card border rounded")
                .mark(f"block-{block}")
                .props(f'data-testid="block-{block}"'),
                ui.element("div").classes(
                    "grid grid-cols-1 sm:grid-cols-2 lg:grid-cols-3 gap-x-4 gap-y-1 w-full p-2"
                ),
            ):
                for spec in specs:
                    self.inputs[spec.path] = self._field(spec)

    def _field(self, spec: config_form.Field) -> Any:
        label = spec.path.split(".", 1)[1].replace("_", " ").replace(".", " · ")
        if spec.kind == "bool":
            el: Any = ui.switch(label, on_change=lambda e, p=spec.path: self.changed(p, e.value))
        elif spec.kind == "enum":
            el = ui.select(
                list(spec.choices),
                label=label,
                on_change=lambda e, p=spec.path: self.changed(p, e.value),
            )
        else:
            el = ui.input(label, on_change=lambda e, p=spec.path: self.changed(p, e.value))
            el.props("dense")
            if spec.path in config_form.READ_ONLY:
                el.props("readonly")
                el.tooltip("Fixed for an existing bot: create a new bot to change it")
        if spec.help:
            el.tooltip(spec.help)
        if hasattr(el, "without_auto_validation"):  # errors come from the config models only
            el.without_auto_validation()
        return el.mark(f"cfg-{spec.path}").props(f'data-testid="cfg-{spec.path}"')

    def fill(self, config: dict[str, Any]) -> None:
        self.values = config_form.to_form(config)
        self._filling = True
        try:
            for path, el in self.inputs.items():
                el.value = self.values.get(path)
        finally:
            self._filling = False
        self.check()

    def changed(self, path: str, value: Any) -> None:
        if self._filling:
            return
        self.values[path] = value
        if self.check() is not None:
            self.schedule_preview()

    def check(self) -> dict[str, Any] | None:
        """Validate with the agent's models; put each rule next to its field."""
        normal, errors = config_form.validate(self.values)
        self.show_errors(errors)
        return normal

    def show_errors(self, errors: dict[str, str]) -> None:
        for path, el in self.inputs.items():
            msg = errors.get(path)
            if hasattr(el, "error"):
                el.error = msg
            elif msg:
                el.tooltip(msg)
        lines = [f"{p or 'config'}: {m}" for p, m in errors.items()]
        self.summary.text = (
            f"{len(lines)} field(s) need attention: " + "; ".join(lines) if lines else ""
        )
        self.apply_button.set_enabled(not errors)

    # ------------------------------------------------------------------ preview
    def _build_preview(self) -> None:
        with ui.card().classes("mm-card"):
            with ui.row().classes("items-center w-full"):
                ui.label("Ladder preview").classes("font-bold")
                ui.space()
                ui.button("Preview", icon="visibility", on_click=self.preview).props(
                    "outline no-caps"
                ).mark("preview").props('data-testid="preview"')
            self.preview_note = ui.label("Change a value to see the ladder it would quote.")
            self.preview_note.classes("text-sm text-grey-8").mark("preview-note").props(
                'data-testid="preview-note"'
            )
            with ui.row().classes("w-full gap-3 flex-wrap"):
                self.preview_chart = (
                    ui.echart(present.preview_chart(None))
                    .classes("mm-card mm-half h-64")
                    .mark("preview-chart")
                    .props('data-testid="preview-chart"')
                )
                self.preview_table = (
                    ui.table(columns=PREVIEW_COLUMNS, rows=[], row_key="id", pagination=10)
                    .classes("mm-card mm-half")
                    .props("flat dense")
                    .mark("preview-table")
                    .props('data-testid="preview-table"')
                )

    def schedule_preview(self) -> None:
        if self._preview_task is not None and not self._preview_task.done():
            self._preview_task.cancel()

        async def later() -> None:
            await asyncio.sleep(PREVIEW_DELAY)
            await self.preview()

        self._preview_task = asyncio.create_task(later())

    async def preview(self) -> None:
        normal = self.check()
        if normal is None:
            self.preview_note.text = "Fix the marked fields to see a preview."
            return
        try:
            out = await configs.submit_config(
                session.control_plane(),
                self.who,
                self.bot_id,
                ConfigIn(config=normal),
                dry_run=True,
            )
        except Invalid as exc:
            self.show_errors({config_form.loc_to_path(e.loc): e.msg for e in exc.errors})
            return
        except ServiceError as exc:
            self.preview_note.text = f"No preview: {exc.message}"
            return
        assert isinstance(out, ConfigPreview)
        pv = out.preview
        self.preview_chart.options.update(present.preview_chart(pv))
        self.preview_chart.update()
        self.preview_table.rows = present.preview_rows(pv)
        self.preview_table.update()
        if pv is None:
            self.preview_note.text = out.note or "valid; no preview available"
            return
        dropped = pv.get("dropped") or []
        bits = [
            f"mid {present.fmt(pv.get('mid'))}",
            f"spread {present.fmt(pv.get('spread_pct'))} %",
            f"{len(pv.get('bids') or [])} bids / {len(pv.get('asks') or [])} asks",
            f"buy budget used {present.fmt(pv.get('budget_used_quote'), 4)}",
            f"sell budget used {present.fmt(pv.get('budget_used_base'), 4)}",
        ]
        if dropped:
            bits.append(
                f"{len(dropped)} level(s) dropped: "
                + ", ".join(
                    f"{d.get('side')} {d.get('level')} ({d.get('reason')})" for d in dropped[:5]
                )
            )
        self.preview_note.text = "Preview: " + " · ".join(bits)

    # ------------------------------------------------------------------ apply
    def _build_apply(self) -> None:
        with ui.card().classes("mm-card"):
            ui.label("Apply").classes("font-bold")
            with ui.row().classes("w-full items-center gap-2 flex-wrap"):
                self.comment = (
                    ui.input("Comment (why this change)")
                    .classes("grow min-w-[200px]")
                    .mark("apply-comment")
                    .props('data-testid="apply-comment"')
                )
                self.apply_button = (
                    ui.button("Apply new version", icon="check", on_click=self.apply)
                    .mark("apply")
                    .props('data-testid="apply"')
                )
            self.apply_result = (
                ui.label("")
                .classes("text-sm")
                .mark("apply-result")
                .props('data-testid="apply-result"')
            )

    async def apply(self) -> None:
        normal = self.check()
        if normal is None:
            return
        try:
            out = await configs.submit_config(
                session.control_plane(),
                self.who,
                self.bot_id,
                ConfigIn(
                    config=normal, comment=self.comment.value or "", expected_version=self.version
                ),
            )
        except Invalid as exc:
            self.show_errors({config_form.loc_to_path(e.loc): e.msg for e in exc.errors})
            self.apply_result.text = f"Not applied: {exc.message}"
            self.apply_result.classes(replace="text-sm text-negative")
            return
        except ServiceError as exc:
            self.apply_result.text = f"Not applied: {exc.message}"
            self.apply_result.classes(replace="text-sm text-negative")
            return
        assert isinstance(out, ConfigApplied)
        self.comment.value = ""
        await self.load()
        self.apply_result.text = f"Applied as version {out.version}."
        self.apply_result.classes(replace="text-sm text-positive")
        ui.notify(self.apply_result.text, type="positive")

    # ------------------------------------------------------------------ history
    def _build_history(self) -> None:
        with ui.card().classes("mm-card"):
            ui.label("Version history").classes("font-bold")
            self.history = (
                ui.table(columns=HISTORY_COLUMNS, rows=[], row_key="version", pagination=10)
                .classes("w-full")
                .props("flat dense wrap-cells")
            )
            self.history.mark("history").props('data-testid="history"')
            self.history.add_slot("body-cell-actions", HISTORY_ACTIONS)
            self.history.on("diff", lambda e: self.show_diff(int(e.args)))
            self.history.on("rollback", lambda e: self.rollback(int(e.args)))
            self.diff_title = ui.label("").classes("text-sm font-bold")
            self.diff = (
                ui.code("", language="diff")
                .classes("w-full")
                .mark("diff")
                .props('data-testid="diff"')
            )
            self.diff.set_visibility(False)

    @staticmethod
    async def fetch(
        who: Principal, bot_id: int
    ) -> tuple[int | None, dict[str, Any], list[ConfigVersionOut]]:
        version, config = await current_config(who, bot_id)
        return version, config, await configs.list_configs(session.control_plane(), who, bot_id)

    async def load(self) -> None:
        self.show(*await self.fetch(self.who, self.bot_id))

    def show(
        self, version: int | None, config: dict[str, Any], rows: list[ConfigVersionOut]
    ) -> None:
        self.version = version
        self.version_label.text = f"version {version}" if version else "no version yet"
        self.fill(config)
        self.history.rows = [
            {
                "version": v.version,
                "created": present.fmt_time(v.created_at),
                "author": v.author,
                "source": v.source,
                "comment": v.comment,
                "applied": v.applied,
            }
            for v in rows
        ]
        self.history.update()

    async def show_diff(self, version: int) -> None:
        other = self.version or version
        a, b = (version, other) if version <= other else (other, version)
        if a == b:
            previous = [r["version"] for r in self.history.rows if r["version"] < a]
            if not previous:
                self.diff_title.text = f"Version {a} is the first version."
                self.diff.set_visibility(False)
                return
            a = max(previous)
        out = await configs.diff_configs(session.control_plane(), self.who, self.bot_id, a, b)
        self.diff_title.text = f"Version {a} → {b}: {len(out.changes)} change(s)"
        self.diff.content = out.unified or "(identical)"
        self.diff.set_visibility(True)

    async def rollback(self, version: int) -> None:
        if not await confirm(
            f"Roll back to version {version}?",
            "Its configuration is applied as a new version.",
            "Roll back",
            color="warning",
        ):
            return
        try:
            out = await configs.rollback(session.control_plane(), self.who, self.bot_id, version)
        except ServiceError as exc:
            ui.notify(f"Roll back refused: {exc.message}", type="negative")
            return
        ui.notify(
            f"Rolled back: version {out.version} has version {version}'s config", type="positive"
        )
        with contextlib.suppress(Exception):
            await self.load()
