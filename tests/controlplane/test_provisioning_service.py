"""The console's provisioning service (`services.provisioning`) without the console: input
checked field by field before anything exists, admins only, one run per process, a real
playbook run (against a port where no SSH answers) streamed task by task from the worker
thread, and the registration through the service layer.

The successful run against a real host is tests/test_provisioning_apply.py (root, nspawn).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from controlplane.models import Role
from controlplane.runtime import ControlPlane
from controlplane.services import agents, audit, provisioning
from controlplane.services.errors import Conflict, Forbidden, Invalid
from controlplane.services.provisioning import Note, ProvisionRequest
from mmbot import provision_cli as pc
from tests.controlplane.conftest import new_tenant


async def test_bad_input_is_refused_per_field_and_creates_nothing(
    cp: ControlPlane, tmp_path: Path
) -> None:
    t = await new_tenant(cp)
    req = ProvisionRequest(
        host="bad host",
        user="Root!",
        ssh_port=0,
        ssh_key=str(tmp_path / "no-such-key"),
        name="Bad Name",
        agent_port="x",
        allow_from="10.0.0.1, not-an-ip",
        wheel=str(tmp_path / "nope.whl"),
        wheelhouse=str(tmp_path / "nowhere"),
        extra_vars="mmbot_agent_token=abc",
    )
    with pytest.raises(Invalid) as caught:
        await provisioning.start(cp, t.who, req)
    errors = {e.loc: e.msg for e in caught.value.errors}
    assert errors == {
        ("host",): "Host 'bad host': expected an IP address or DNS name",
        ("user",): "SSH user 'Root!': not a valid user name",
        ("ssh_port",): "SSH port 0: a whole number from 1 to 65535",
        ("ssh_key",): f"SSH key {tmp_path / 'no-such-key'}: not a readable file",
        ("name",): "Agent name 'Bad Name': use 1-40 characters a-z, 0-9, '_', '-', starting "
        "with a letter or digit",
        ("agent_port",): "Agent port 'x': a whole number from 1 to 65535",
        ("allow_from",): "Allow from 'not-an-ip': not an IP address or network",
        ("wheel",): f"Wheel {tmp_path / 'nope.whl'}: not a .whl file",
        ("wheelhouse",): f"Wheelhouse {tmp_path / 'nowhere'}: not a directory or a .tar file",
        ("extra_vars",): "Extra vars: pass the token as a file (mmbot_agent_token_file)",
    }
    assert not provisioning.busy()
    assert not cp.settings.effective_provision_dir.exists()

    # A valid host and the defaults: the agent name comes from the host.
    checked = await asyncio.to_thread(
        provisioning.check_request, ProvisionRequest(host="127.0.0.1", allow_from="10.0.0.0/8")
    )
    assert (checked.name, checked.user, checked.ssh_port, checked.agent_port) == (
        "127-0-0-1",
        "root",
        22,
        50051,
    )
    assert checked.allow_from == ["10.0.0.0/8"]


async def test_only_admins_provision(cp: ControlPlane) -> None:
    t = await new_tenant(cp, Role.OPERATOR)
    with pytest.raises(Forbidden, match="needs the admin role"):
        await provisioning.start(cp, t.who, ProvisionRequest(host="127.0.0.1"))
    assert not provisioning.busy()


async def test_a_failed_run_streams_its_tasks_and_registers_nothing(
    cp: ControlPlane, tmp_path: Path
) -> None:
    t = await new_tenant(cp)
    other = await new_tenant(cp)
    wheel = tmp_path / "mmbot-0.1.0-py3-none-any.whl"
    wheel.write_bytes(b"not used: the host is unreachable")
    key = tmp_path / "id"
    key.write_text("unused\n")
    key.chmod(0o600)
    req = ProvisionRequest(
        host="127.0.0.1", ssh_port=9, ssh_key=str(key), wheel=str(wheel), name="nowhere"
    )
    run = await provisioning.start(cp, t.who, req)
    assert provisioning.busy() and provisioning.current(t.who) is run

    # One run per process: the same tenant learns which; another tenant learns nothing more.
    with pytest.raises(Conflict, match=r"in progress: nowhere \(root@127.0.0.1\)"):
        await provisioning.start(cp, t.who, req)
    with pytest.raises(Conflict) as caught:
        await provisioning.start(cp, other.who, ProvisionRequest(host="10.0.0.1"))
    assert "127.0.0.1" not in caught.value.message and "nowhere" not in caught.value.message
    assert provisioning.current(other.who) is None

    items = [item async for item in run.follow()]
    outcome = await run.wait()
    assert not provisioning.busy()

    assert isinstance(items[0], Note) and items[0].text.startswith("provisioning nowhere")
    events = [i for i in items if isinstance(i, pc.ProvisionEvent)]
    assert events and events[0].kind == "start" and events[0].index == 1
    ends = [e for e in events if e.kind == "end"]
    assert [e.status for e in ends] == ["unreachable"]
    assert all(e.index <= e.total for e in events)
    # A late follower replays the same stream.
    assert [i async for i in run.follow()] == items

    assert not outcome.ok and outcome.name == "nowhere"
    assert outcome.stats["unreachable"] == 1
    assert outcome.registration["status"] == "skipped"
    assert outcome.error.startswith("unreachable:")
    assert outcome.doc is not None and outcome.doc["registration"] == outcome.registration
    assert await agents.list_agents(cp, t.who) == []
    (entry,) = [
        e for e in (await audit.list_audit(cp, t.who)).items if e.action == "agent.provision"
    ]
    assert entry.outcome == "failed" and entry.target == "host:127.0.0.1"

    # The material was made in the tenant's own directory.
    pki = provisioning.pki_dir(cp, t.id)
    assert pki.parent == cp.settings.effective_provision_dir.resolve()
    assert (pki / "agents" / "nowhere" / "agent.token").exists()


async def test_registration_goes_through_the_service_layer(
    cp: ControlPlane, tmp_path: Path
) -> None:
    t = await new_tenant(cp)
    sec = pc.ensure_agent_secrets(tmp_path / "pki", "vps-9", "203.0.113.9")
    first = await provisioning.register(cp, t.who, "vps-9", "203.0.113.9:50051", sec)
    assert first["status"] == "registered"
    again = await provisioning.register(cp, t.who, "vps-9", "203.0.113.9:50051", sec)
    assert again == {"status": "already-registered", "agent_id": first["agent_id"]}
    moved = await provisioning.register(cp, t.who, "vps-9", "203.0.113.10:50051", sec)
    assert moved["note"] == "the registered agent vps-9 has endpoint 203.0.113.9:50051"
    detail = await agents.get_agent(cp, t.who, first["agent_id"])
    assert detail.endpoint == "203.0.113.9:50051" and detail.tls
    token = sec.token_file.read_text().strip()
    shown = json.dumps([first, again, moved]) + detail.model_dump_json()
    assert token not in shown and "PRIVATE KEY" not in shown
