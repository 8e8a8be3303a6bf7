"""Mounting the console on the control plane's FastAPI app.

    from ui import console
    app = create_app(cp=cp)
    console.attach(app, cp, storage_secret=...)

This is the only module that calls `ui.run_with`; the API modules never import it (NiceGUI
refuses to add middleware to an app that has already started, which re-importing such a
module would do).
"""

from __future__ import annotations

import hashlib
import hmac
import os

from fastapi import FastAPI
from nicegui import ui

from controlplane.core.secrets import load_key
from controlplane.runtime import ControlPlane
from ui import session
from ui.pages import bot_config, bot_live, credentials, fleet, login

TITLE = "mmbot console"
SECRET_ENV = "MMBOT_CONSOLE_SECRET"


def register_pages(cp: ControlPlane) -> None:
    """Add every console page to NiceGUI, talking to `cp`. Tests call this on its own (with
    NiceGUI's simulated user); `attach` calls it and then mounts NiceGUI."""
    session.set_control_plane(cp)
    for page in (login, fleet, bot_live, bot_config, credentials):
        page.register()


def storage_secret_for(cp: ControlPlane) -> str:
    """Signs the console's session cookie: MMBOT_CONSOLE_SECRET, else a key derived (HMAC,
    one-way) from the control plane's secret key, so sessions survive a restart without a
    second secret to manage and without reusing the encryption key itself."""
    explicit = os.environ.get(SECRET_ENV)
    if explicit:
        return explicit
    key = load_key(cp.settings.secret_key, cp.settings.default_key_file)
    return hmac.new(key, b"mmbot console session cookie v1", hashlib.sha256).hexdigest()


def attach(
    app: FastAPI,
    cp: ControlPlane | None = None,
    *,
    storage_secret: str | None = None,
    mount_path: str = "/",
    show_welcome_message: bool = False,
) -> None:
    """Serve the console from `app` (routes under /api stay the API's: they are matched first)."""
    plane: ControlPlane = cp if cp is not None else app.state.cp
    register_pages(plane)
    ui.run_with(
        app,
        mount_path=mount_path,
        storage_secret=storage_secret or storage_secret_for(plane),
        title=TITLE,
        show_welcome_message=show_welcome_message,
        reconnect_timeout=10.0,
    )
