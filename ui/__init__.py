"""The web console: NiceGUI pages mounted on the control plane's FastAPI app.

Pages only. Every read and every action goes through `controlplane.services` (and live updates
through its change feed), never to an agent or the database directly. `ui.console.attach()`
mounts it; nothing in `controlplane.api` imports this package.
"""
