"""The REST API (`/api/v1`): thin routes over `controlplane.services`. No NiceGUI here: the
console mounts itself on the same app from its own module (see docs/controlplane.md)."""
