"""Links to agents: one supervised task per registered agent.

- `base`: the small interface a link needs from an agent connection (gRPC in production;
  the fan-in benchmark's fake agents speak the same gRPC API).
- `grpc_conn`: that interface over `mmbot.agent.v1.AgentService` (mTLS + bearer token).
- `archive`: the one writer that archives events idempotently, then updates live views and
  publishes.
- `link`: one agent's connection loop (resume from the archived seq, reconnect with backoff).
- `manager`: starts, supervises and stops the links.
"""
