"""The control plane: users, tenants, stored configs and history, and the links to agents.

It never talks to a venue. Every read and every command goes through `controlplane.services`
(one place for tenant scoping, authorization, validation and audit); the REST API in
`controlplane.api` and the console are thin channels on top of it. `controlplane.app`
builds the FastAPI application around one `controlplane.runtime.ControlPlane`.
"""
