"""The agent's gRPC face: `mmbot.agent.v1.AgentService` over the one command layer (AgentHost).

Deliberately import-free: `mmbot ctl` imports `agent.service.client` without pulling in the
host, the bots or the server.

- `servicer`: the RPCs, each a thin translation onto `agent.host.AgentHost`.
- `convert`: host dicts and events <-> protobuf messages (Decimals as strings).
- `errors`: host exceptions -> gRPC status codes, field errors in trailing metadata.
- `paging`: opaque page tokens that stay correct while the journal grows.
- `auth`: the agent token and the interceptor that checks it on every call.
- `server`: listen address rules (TLS off loopback), health, reflection, the aio server.
- `client`: channels, credentials and error decoding for `mmbot ctl` and the control plane.
- `paths`: default locations in the data dir.
"""
