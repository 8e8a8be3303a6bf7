"""The checked-in generated code is exactly what the .proto files generate, and the servicer
implements every RPC of the contract."""

from __future__ import annotations

import inspect
from dataclasses import fields
from pathlib import Path

from agent.proto import codegen
from agent.proto.mmbot.agent.v1 import agent_pb2 as pb
from agent.proto.mmbot.agent.v1 import agent_pb2_grpc as pb_grpc
from agent.service.servicer import AgentServicer
from agent.venues.base import Capabilities
from tests.conftest import ROOT


def test_generated_code_matches_the_proto_files(tmp_path: Path) -> None:
    written = codegen.generate(tmp_path)
    assert written, "no .proto files found"
    for path in written:
        rel = path.relative_to(tmp_path)
        checked_in = ROOT / rel
        assert checked_in.exists(), f"{rel} is not checked in: run python -m agent.proto.codegen"
        assert path.read_bytes() == checked_in.read_bytes(), (
            f"{rel} is stale: run python -m agent.proto.codegen"
        )


def test_the_service_is_mmbot_agent_v1() -> None:
    svc = pb.DESCRIPTOR.services_by_name["AgentService"]
    assert svc.full_name == "mmbot.agent.v1.AgentService"
    assert pb.DESCRIPTOR.package == "mmbot.agent.v1"


def test_servicer_implements_every_rpc() -> None:
    svc = pb.DESCRIPTOR.services_by_name["AgentService"]
    for method in svc.methods:
        impl = getattr(AgentServicer, method.name)
        base = getattr(pb_grpc.AgentServiceServicer, method.name)
        assert impl is not base, f"{method.name} is not implemented"
        if method.server_streaming:
            assert inspect.isasyncgenfunction(impl), method.name
        else:
            assert inspect.iscoroutinefunction(impl), method.name


def test_capabilities_message_mirrors_the_venue_dataclass() -> None:
    on_wire = set(pb.Capabilities.DESCRIPTOR.fields_by_name)
    assert {f.name for f in fields(Capabilities)} == on_wire
