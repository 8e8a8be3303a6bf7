"""The frame around every signed-in page: a header with navigation that folds into a menu
on a phone, the user's name and a logout button."""

from __future__ import annotations

from nicegui import ui

from controlplane.services import auth
from controlplane.services.principal import Principal
from ui import session

NAV = (("Fleet", "/", "dns"), ("Credentials", "/credentials", "key"))


def frame(who: Principal, title: str) -> None:
    ui.page_title(f"{title} · mmbot")
    ui.add_head_html(
        "<style>.mm-card{width:100%} @media (min-width: 1024px){.mm-half{width:calc(50% - 8px)}}"
        " .mm-breach td{background:#ffebee !important;color:#b71c1c;font-weight:600}</style>"
    )
    with ui.header().classes("items-center justify-between bg-slate-800 px-3 py-1"):
        with ui.row().classes("items-center gap-2"):
            menu = ui.button(icon="menu").props("flat color=white dense").classes("lg:hidden")
            ui.link("mmbot", "/").classes("text-white text-lg font-bold no-underline")
            with ui.row().classes("gap-1 max-lg:hidden"):
                for label, href, icon in NAV:
                    ui.button(label, icon=icon, on_click=lambda h=href: ui.navigate.to(h)).props(
                        "flat color=white dense no-caps"
                    )
        with ui.row().classes("items-center gap-2"):
            ui.label(f"{who.username} ({who.role.value})").classes(
                "text-white text-sm max-sm:hidden"
            )
            ui.button(icon="logout", on_click=lambda: _logout(who)).props(
                "flat color=white dense"
            ).tooltip("Log out").mark("logout").props('data-testid="logout"')
    with ui.left_drawer(value=False).props("overlay bordered") as drawer:
        for label, href, icon in NAV:
            ui.button(label, icon=icon, on_click=lambda h=href: ui.navigate.to(h)).props(
                "flat no-caps align=left"
            ).classes("w-full")
    menu.on_click(drawer.toggle)


async def confirm(title: str, text: str, action: str, color: str = "negative") -> bool:
    """Ask before a destructive action: a dialog with the action's own button (marked
    "confirm") and Cancel. True when the user confirmed."""
    with ui.dialog() as dialog, ui.card():
        ui.label(title).classes("text-lg font-bold")
        ui.label(text)
        with ui.row():
            ui.button(action, color=color, on_click=lambda: dialog.submit(True)).mark("confirm")
            ui.button("Cancel", on_click=lambda: dialog.submit(False)).props("flat")
    ok = await dialog
    dialog.delete()
    return bool(ok)


async def _logout(who: Principal) -> None:
    await auth.logout(session.control_plane(), who)
    session.clear_session()
    ui.navigate.to("/login")
