"""Provisioning a VPS from the console: `mmbot provision` run by the control plane itself.

The console's "Add agent (provision a VPS)" dialog calls this module; the CLI and this module
share `mmbot.provision_cli.provision_agent`, so both refuse the same input with the same words
and run the same playbook. What this module adds:

- the input is checked up front, field by field (`Invalid`, nothing created), with the CLI's
  own checks and the dialog's field labels in the messages;
- the playbook runs in a worker thread (Ansible blocks for minutes); each task's start and
  end crosses into the event loop with `call_soon_threadsafe` and is kept in the run's
  history, so any number of pages can follow it from the start, and a page that goes away
  does not stop the run;
- on success the agent is registered through `services.agents.register_agent` (not over
  HTTP: this is the control plane), with the mTLS material made for it; an agent of the same
  name already registered counts as done, as the CLI's 409 does;
- one run at a time per process: two runs would share the CA directory, and the second
  click is far more likely a mistake than a plan.

The TLS material lives under `Settings.effective_provision_dir / tenant-<id>`: one CA per
tenant, so one tenant's agents never trust another tenant's control-plane certificate, and
agent names (which are per tenant) never share a token. Secrets travel as file paths and are
read only to build the registration body; nothing here logs or returns them.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from controlplane.models import Role
from controlplane.schemas import AgentCreate
from controlplane.services import agents
from controlplane.services.common import audit
from controlplane.services.errors import Conflict, FieldError, Invalid, Unavailable
from controlplane.services.principal import Principal
from mmbot import provision_cli as pc
from mmbot.provision_cli import ProvisionEvent

if TYPE_CHECKING:
    from controlplane.runtime import ControlPlane

log = logging.getLogger("mmbot.controlplane.provisioning")

# The dialog's field labels: the CLI's checks put them in front of their messages.
LABELS = {
    "host": "Host",
    "user": "SSH user",
    "ssh_port": "SSH port",
    "ssh_key": "SSH key",
    "name": "Agent name",
    "agent_port": "Agent port",
    "allow_from": "Allow from",
    "wheel": "Wheel",
    "wheelhouse": "Wheelhouse",
    "extra_vars": "Extra vars",
}


@dataclass(frozen=True)
class ProvisionRequest:
    """What the dialog asks for, as typed (strings; ports as the number input gives them).
    Paths are on the control plane's machine: that is where Ansible runs."""

    host: str
    user: str = "root"
    ssh_port: int | float | str | None = 22
    ssh_key: str = ""
    name: str = ""
    agent_port: int | float | str | None = pc.DEFAULT_AGENT_PORT
    allow_from: str = ""  # addresses/CIDRs, comma- or space-separated
    wheel: str = ""
    wheelhouse: str = ""
    extra_vars: str = ""  # one KEY=VALUE or @FILE per line


@dataclass(frozen=True)
class CheckedRequest:
    host: str
    user: str
    ssh_port: int
    ssh_key: Path | None
    name: str
    agent_port: int
    allow_from: list[str]
    wheel: Path | None
    wheelhouse: Path | None
    extra_vars: list[str]


@dataclass(frozen=True)
class Note:
    """A line of text in the run's stream (what is about to run, and against what)."""

    text: str


StreamItem = ProvisionEvent | Note


@dataclass
class ProvisionOutcome:
    """How a run ended. `doc` is what `mmbot provision --json` prints (paths, never secrets),
    None when the run stopped before Ansible reported (a failed build, bad input found late);
    `error` then says why."""

    ok: bool
    name: str
    host: str
    elapsed_s: float
    stats: dict[str, int]
    registration: dict[str, Any]
    error: str = ""
    doc: dict[str, Any] | None = None


@dataclass
class ProvisionRun:
    """One run in progress or finished: its stream of items (kept whole, so a page that
    attaches late replays it), and its outcome once the task is done."""

    tenant_id: int
    actor: str
    host: str
    user: str
    name: str
    started_at: dt.datetime
    started_mono: float
    history: list[StreamItem] = field(default_factory=list)
    outcome: ProvisionOutcome | None = None
    _changed: asyncio.Event = field(default_factory=asyncio.Event)
    _task: asyncio.Task[ProvisionOutcome] | None = None

    @property
    def done(self) -> bool:
        return self.outcome is not None

    def elapsed(self) -> float:
        if self.outcome is not None:
            return self.outcome.elapsed_s
        return time.monotonic() - self.started_mono

    def _publish(self, item: StreamItem | None) -> None:
        """On the event loop: append (None only wakes the followers at the end)."""
        if item is not None:
            self.history.append(item)
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def follow(self) -> AsyncIterator[StreamItem]:
        """Every item from the first, then each new one as it comes, until the run is done."""
        i = 0
        while True:
            while i < len(self.history):
                yield self.history[i]
                i += 1
            if self.done:
                return
            changed = self._changed
            await changed.wait()

    async def wait(self) -> ProvisionOutcome:
        assert self._task is not None
        return await asyncio.shield(self._task)


class _Slot:
    """The process's one run. A threading lock, not an asyncio one: the check and the claim
    must hold across event loops too (tests start several in one process)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.run: ProvisionRun | None = None


_slot = _Slot()


def current(who: Principal) -> ProvisionRun | None:
    """The latest run of the caller's tenant (in progress or finished), if any."""
    run = _slot.run
    if run is None or run.tenant_id != who.tenant_id:
        return None
    return run


def busy() -> bool:
    run = _slot.run
    return run is not None and not run.done


def pki_dir(cp: ControlPlane, tenant_id: int) -> Path:
    return (cp.settings.effective_provision_dir / f"tenant-{tenant_id}").resolve()


def _port(value: int | float | str | None, label: str) -> int:
    try:
        port = float(value) if value is not None and str(value).strip() != "" else None
    except ValueError:
        port = None
    if port is None or not port.is_integer() or not 1 <= port <= 65535:
        raise pc.UsageError(f"{label} {value!r}: a whole number from 1 to 65535")
    return int(port)


def _path(text: str) -> Path | None:
    text = text.strip()
    return Path(text).expanduser() if text else None


def check_request(req: ProvisionRequest) -> CheckedRequest:
    """Every field checked with the CLI's own checks; all errors at once, nothing created.
    Blocking (file checks, a DNS lookup for the default firewall source): call it in a thread.
    """
    errors: list[FieldError] = []
    values: dict[str, Any] = {}

    def check(key: str, fn: Any, *args: Any) -> None:
        try:
            values[key] = fn(*args)
        except pc.UsageError as exc:
            errors.append(FieldError((key,), str(exc)))

    check("host", pc.check_host, req.host, LABELS["host"])
    check("user", pc.check_user, req.user.strip(), LABELS["user"])
    check("ssh_port", _port, req.ssh_port, LABELS["ssh_port"])
    check("ssh_key", pc.check_ssh_key, _path(req.ssh_key), LABELS["ssh_key"])
    name = req.name.strip() or (pc.agent_name_for(values["host"]) if "host" in values else "")
    if name:
        check("name", pc.check_name, name, LABELS["name"])
    check("agent_port", _port, req.agent_port, LABELS["agent_port"])
    check("allow_from", pc.check_cidrs, [req.allow_from.replace(" ", ",")], LABELS["allow_from"])
    wheel = _path(req.wheel)
    check("wheel", pc.check_wheel, wheel, LABELS["wheel"])
    if wheel is None:
        check("wheel", pc.packaged_wheel)
        if values.get("wheel") is None and not (pc.REPO_ROOT / "pyproject.toml").is_file():
            errors.append(
                FieldError(
                    ("wheel",),
                    "this control plane runs from an installed package, not a source tree: "
                    f"give an mmbot wheel to install (or set {pc.AGENT_WHEEL_ENV})",
                )
            )
    check("wheelhouse", pc.check_wheelhouse, _path(req.wheelhouse), LABELS["wheelhouse"])
    extra = [line.strip() for line in req.extra_vars.splitlines() if line.strip()]
    check("extra_vars", pc.parse_extra_vars, extra, LABELS["extra_vars"])
    if not errors:
        # With no "Allow from", the firewall opens the gRPC port to this machine's address
        # towards the host: found now, so an unknown host is a field error, not a failed run.
        allowed = values["allow_from"]
        check(
            "allow_from",
            pc.controlplane_sources,
            allowed,
            None,
            values["host"],
            values["ssh_port"],
            LABELS["allow_from"],
        )
        values["allow_from"] = allowed  # what the run gets: it finds the default itself
    if errors:
        raise Invalid(errors)
    return CheckedRequest(
        host=values["host"],
        user=values["user"],
        ssh_port=values["ssh_port"],
        ssh_key=values["ssh_key"],
        name=name,
        agent_port=values["agent_port"],
        allow_from=values["allow_from"],
        wheel=wheel,
        wheelhouse=values["wheelhouse"],
        extra_vars=extra,
    )


def _ready() -> None:
    """What this machine needs to run a playbook at all (not the user's input)."""
    try:
        pc.require_ansible()
        pc.playbook_dir()
    except (pc.ProvisionFailed, pc.UsageError) as exc:
        raise Unavailable(f"this control plane cannot provision: {exc}") from None


async def start(cp: ControlPlane, who: Principal, req: ProvisionRequest) -> ProvisionRun:
    """Check the input, claim the process's run slot and start the run; return at once.

    Raises Forbidden (not an admin), Invalid (bad input, per field), Unavailable (no Ansible
    or playbook here) or Conflict (a run is in progress) — in each case nothing was started.
    """
    who.require(Role.ADMIN, "provisioning an agent")
    checked = await asyncio.to_thread(check_request, req)
    await asyncio.to_thread(_ready)
    with _slot.lock:
        running = _slot.run
        if running is not None and not running.done:
            if running.tenant_id == who.tenant_id:
                raise Conflict(
                    f"a provisioning run is in progress: {running.name} ({running.user}@"
                    f"{running.host}), started by {running.actor} "
                    f"{running.elapsed():.0f} s ago; one run at a time"
                )
            raise Conflict("another provisioning run is in progress on this control plane")
        run = ProvisionRun(
            tenant_id=who.tenant_id,
            actor=who.actor,
            host=checked.host,
            user=checked.user,
            name=checked.name,
            started_at=dt.datetime.now(dt.UTC),
            started_mono=time.monotonic(),
        )
        _slot.run = run
    run._task = asyncio.create_task(_execute(cp, who, run, checked), name="provision")
    return run


async def _execute(
    cp: ControlPlane, who: Principal, run: ProvisionRun, req: CheckedRequest
) -> ProvisionOutcome:
    """The run, the registration and the audit entry. Whatever happens, the run ends with an
    outcome and frees the process's slot."""
    loop = asyncio.get_running_loop()

    def emit(item: StreamItem) -> None:  # in the worker thread
        with contextlib.suppress(RuntimeError):  # the loop is gone (shutdown): nobody follows
            loop.call_soon_threadsafe(run._publish, item)

    log.info(
        "provisioning %s (%s@%s:%d) for %s", req.name, req.user, req.host, req.ssh_port, who.actor
    )
    doc: dict[str, Any] | None = None
    error = "the control plane stopped during the run"  # unless it gets further
    registration: dict[str, Any] = {"status": "skipped"}
    try:
        result, sec = await asyncio.to_thread(
            pc.provision_agent,
            host=req.host,
            user=req.user,
            ssh_key=req.ssh_key,
            port=req.ssh_port,
            controlplane_url=None,
            controlplane_token_file=None,
            name=req.name,
            agent_port=req.agent_port,
            allow_from=req.allow_from,
            pki_dir=pki_dir(cp, who.tenant_id),
            tls_dir=None,
            wheel=req.wheel,
            wheelhouse=req.wheelhouse,
            extra_vars=req.extra_vars,
            on_event=emit,
            on_start=lambda text: emit(Note(text)),
        )
        doc, error = result, ""
        if result["ok"]:
            agent = result["agent"]
            registration = await register(cp, who, agent["name"], agent["endpoint"], sec)
        else:
            registration = {"status": "skipped", "reason": "the playbook run failed"}
            error = _failure(result)
    except (pc.UsageError, pc.ProvisionFailed) as exc:
        error = str(exc)
    except Exception as exc:
        log.exception("provisioning %s failed", req.name)
        error = f"{type(exc).__name__}: {exc}"
    finally:  # cancelled too (shutdown): the slot must not stay taken
        stats = dict(doc["stats"]) if doc is not None else {}
        if doc is not None:
            doc["registration"] = registration
        run.outcome = ProvisionOutcome(
            ok=doc is not None and bool(doc["ok"]) and not error,
            name=req.name,
            host=req.host,
            elapsed_s=time.monotonic() - run.started_mono,
            stats=stats,
            registration=registration,
            error=error,
            doc=doc,
        )
        run._publish(None)
    outcome = run.outcome
    log.info(
        "provisioning %s %s in %.1fs (%s)",
        req.name,
        "succeeded" if outcome.ok else "failed",
        outcome.elapsed_s,
        ", ".join(f"{k}={v}" for k, v in stats.items()) or error,
    )
    try:
        await audit(
            cp,
            who,
            "agent.provision",
            f"host:{req.host}",
            "ok" if outcome.ok else "failed",
            name=req.name,
            registration=registration.get("status", ""),
            **{k: stats[k] for k in ("ok", "changed", "failed", "unreachable") if k in stats},
        )
    except Exception:  # the run's outcome stands; the log has what the audit entry lacks
        log.exception("could not record the audit entry of provisioning %s", req.name)
    return outcome


def _failure(doc: dict[str, Any]) -> str:
    bad = [t for t in doc["tasks"] if t["status"] in ("failed", "unreachable")]
    if not bad:
        why = f"the playbook run ended {doc['status']} (rc={doc['rc']})"
        tail = doc.get("output_tail") or ""
        return f"{why}: {tail.splitlines()[-1]}" if tail else why
    t = bad[0]
    label = f"{t['role']} : {t['task']}" if t["role"] else t["task"]
    return f"{t['status']}: {label}: {t['message']}".strip()


async def register(
    cp: ControlPlane, who: Principal, name: str, endpoint: str, sec: pc.AgentSecrets
) -> dict[str, Any]:
    """Register the provisioned agent through the service layer. The body carries the token
    and the client key: it is built, used and dropped here, never logged or returned."""
    payload = await asyncio.to_thread(pc.registration_payload, name, endpoint, sec, redact=False)
    try:
        body = AgentCreate.model_validate(payload)
    except ValidationError as exc:
        # Only where and which rule: a pydantic message would quote the input (secrets).
        rules = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise pc.ProvisionFailed(f"the registration was refused: {rules}") from None
    try:
        detail = await agents.register_agent(cp, who, body)
    except Conflict:
        existing = next((a for a in await agents.list_agents(cp, who) if a.name == name), None)
        out: dict[str, Any] = {"status": "already-registered"}
        if existing is not None:
            out["agent_id"] = existing.id
            if existing.endpoint != endpoint:
                out["note"] = f"the registered agent {name} has endpoint {existing.endpoint}"
        return out
    except Invalid as exc:
        raise pc.ProvisionFailed(f"the registration was refused: {exc.message}") from None
    return {"status": "registered", "agent_id": detail.id}
