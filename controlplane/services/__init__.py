"""The one service layer: every channel (REST API, console, later Telegram) calls these
functions, so tenant scoping, authorization, validation and audit live in one place.

Functions take the `ControlPlane` and the calling `Principal`, return `controlplane.schemas`
models, and raise `controlplane.services.errors.ServiceError` subclasses.
"""
