"""The agent's doors: the token on every call, TLS off loopback, mutual TLS, refusals at start."""

from __future__ import annotations

import socket
import stat
import subprocess
from pathlib import Path
from typing import Any

import grpc
import pytest

from agent.certs import cert_pem, init_certs, issue, key_pem, make_ca
from agent.proto.mmbot.agent.v1 import agent_pb2 as pb
from agent.service import client
from agent.service.address import ListenAddress, UsageError, is_loopback, parse_listen
from agent.service.auth import load_or_create_token
from agent.service.server import plan_security
from tests.test_grpc_helpers import ENV_BASE, TOKEN, cli, live_agent


async def _code(call: Any) -> grpc.StatusCode:
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await call
    return exc.value.code()


async def _first(stream: Any) -> Any:
    async for batch in stream:
        return batch
    return None


# ---------------------------------------------------------------- the token


async def test_every_call_needs_the_token(tmp_path: Path) -> None:
    async with live_agent(tmp_path / "d", bot=False) as agent:
        stub = agent.stub()
        wrong = client.metadata("not-the-token-at-all")
        prefix = client.metadata(TOKEN[:-1])
        for md in ((), wrong, prefix, (("authorization", TOKEN),)):
            assert await _code(stub.GetInfo(pb.GetInfoRequest(), metadata=md)) == (
                grpc.StatusCode.UNAUTHENTICATED
            )
            assert (
                await _code(_first(stub.StreamEvents(pb.StreamEventsRequest(), metadata=md)))
                == grpc.StatusCode.UNAUTHENTICATED
            )
            assert (
                await _code(
                    stub.SetCredentials(
                        pb.SetCredentialsRequest(
                            bot="x", credentials=pb.VenueCredentials(api_key="a", secret="b")
                        ),
                        metadata=md,
                    )
                )
                == grpc.StatusCode.UNAUTHENTICATED
            )
        assert not agent.credentials.has("x")
        info = await stub.GetInfo(pb.GetInfoRequest(), metadata=agent.md)
        assert list(info.bots) == []


def test_token_file_is_created_private_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "data" / "agent.token"
    t1 = load_or_create_token(path)
    assert len(t1) >= 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_token(path) == t1


# ---------------------------------------------------------------- where plaintext is allowed


def test_plan_security_rules(tmp_path: Path) -> None:
    lo = ListenAddress("127.0.0.1", 50051)
    anywhere = ListenAddress("0.0.0.0", 50051)
    assert not plan_security(lo, data_dir=tmp_path).tls
    assert not plan_security(lo, data_dir=tmp_path, insecure=True).tls
    with pytest.raises(UsageError, match="only on loopback"):
        plan_security(anywhere, data_dir=tmp_path, insecure=True)
    with pytest.raises(UsageError, match="TLS is required"):
        plan_security(anywhere, data_dir=tmp_path)
    files = init_certs(tmp_path / "tls")
    with pytest.raises(UsageError, match="mutual TLS is the default"):
        plan_security(
            anywhere, data_dir=tmp_path, tls_cert=files.server_cert, tls_key=files.server_key
        )
    plan = plan_security(
        anywhere,
        data_dir=tmp_path,
        tls_cert=files.server_cert,
        tls_key=files.server_key,
        client_ca=files.ca_cert,
    )
    assert plan.mtls
    no_mtls = plan_security(
        anywhere,
        data_dir=tmp_path,
        tls_cert=files.server_cert,
        tls_key=files.server_key,
        no_mtls=True,
    )
    assert no_mtls.tls and not no_mtls.mtls
    # the default files from `certs init` in <data-dir>/tls are picked up off loopback
    assert plan_security(anywhere, data_dir=tmp_path).mtls
    with pytest.raises(UsageError, match="cannot read"):
        plan_security(
            lo, data_dir=tmp_path, tls_cert=tmp_path / "missing", tls_key=files.server_key
        )


def test_listen_parsing_and_loopback() -> None:
    assert parse_listen("[::1]:5") == ListenAddress("::1", 5)
    assert str(ListenAddress("::1", 5)) == "[::1]:5"
    assert is_loopback("localhost") and is_loopback("127.0.0.2") and is_loopback("::1")
    assert not is_loopback("0.0.0.0") and not is_loopback("::")
    for bad in ("50051", "host:port", "h:70000"):
        with pytest.raises(UsageError):
            parse_listen(bad)


def _primary_ip() -> str | None:
    try:
        out = subprocess.run(["hostname", "-I"], capture_output=True, text=True, timeout=5)
    except OSError:
        return None
    for ip in out.stdout.split():
        if ":" not in ip and not is_loopback(ip):
            return ip
    return None


def test_serve_refuses_plaintext_off_loopback_before_binding(tmp_path: Path) -> None:
    """The port is held by us: had the agent tried to bind, it would fail differently."""
    hosts = ["0.0.0.0"] + ([ip] if (ip := _primary_ip()) else [])
    for host in hosts:
        with socket.socket() as held:
            held.bind((host, 0))
            held.listen()
            port = held.getsockname()[1]
            data = tmp_path / f"data-{host}"
            for extra in (["--insecure"], []):
                r = subprocess.run(
                    cli("agent", "serve", "--listen", f"{host}:{port}", "--data-dir", str(data))
                    + extra,
                    capture_output=True,
                    text=True,
                    env=ENV_BASE,
                    timeout=30,
                )
                assert r.returncode == 2, r.stderr
                assert "TLS" in r.stderr and "Traceback" not in r.stderr
                assert len(r.stderr.strip().splitlines()) == 1
            assert not data.exists(), "a refused start must not create anything"


# ---------------------------------------------------------------- TLS and mutual TLS


@pytest.fixture
def pki(tmp_path: Path) -> dict[str, Any]:
    files = init_certs(tmp_path / "tls")
    other_key, other_ca = make_ca("someone else's CA")
    rogue_key, rogue_cert = issue(other_key, other_ca, "rogue", server=False)
    return {
        "files": files,
        "other_ca": cert_pem(other_ca),
        "rogue_cert": cert_pem(rogue_cert),
        "rogue_key": key_pem(rogue_key),
    }


async def test_mutual_tls_refuses_clients_without_the_operators_certificate(
    tmp_path: Path, pki: dict[str, Any]
) -> None:
    files = pki["files"]
    plan = plan_security(
        ListenAddress("127.0.0.1", 0),
        data_dir=tmp_path,
        tls_cert=files.server_cert,
        tls_key=files.server_key,
        client_ca=files.ca_cert,
    )
    async with live_agent(tmp_path / "d", bot=False, security=plan) as agent:
        good = client.ClientTls.from_files(files.ca_cert, files.client_cert, files.client_key)
        stub = agent.stub(good)
        info = await stub.GetInfo(pb.GetInfoRequest(), metadata=agent.md, timeout=10)
        assert info.agent_version
        # by name too: localhost is in the server certificate
        by_name = agent.stub(good, target=f"localhost:{agent.server.port}")
        assert (await by_name.GetInfo(pb.GetInfoRequest(), metadata=agent.md)).agent_version
        # the right certificate but no token
        assert await _code(stub.GetInfo(pb.GetInfoRequest(), timeout=10)) == (
            grpc.StatusCode.UNAUTHENTICATED
        )
        ca = files.ca_cert.read_bytes()
        refused = {
            "no client certificate": client.ClientTls(ca),
            "a certificate from another CA": client.ClientTls(
                ca, pki["rogue_cert"], pki["rogue_key"]
            ),
            "trusting another CA": client.ClientTls(
                pki["other_ca"], files.client_cert.read_bytes(), files.client_key.read_bytes()
            ),
        }
        for why, tls in refused.items():
            code = await _code(
                agent.stub(tls).GetInfo(pb.GetInfoRequest(), metadata=agent.md, timeout=10)
            )
            assert code == grpc.StatusCode.UNAVAILABLE, why
        # plaintext to a TLS port
        code = await _code(agent.stub().GetInfo(pb.GetInfoRequest(), metadata=agent.md, timeout=10))
        assert code == grpc.StatusCode.UNAVAILABLE


async def test_tls_without_client_certificates_still_needs_the_token(
    tmp_path: Path, pki: dict[str, Any]
) -> None:
    files = pki["files"]
    plan = plan_security(
        ListenAddress("127.0.0.1", 0),
        data_dir=tmp_path,
        tls_cert=files.server_cert,
        tls_key=files.server_key,
    )
    assert plan.tls and not plan.mtls
    async with live_agent(tmp_path / "d", bot=False, security=plan) as agent:
        stub = agent.stub(client.ClientTls(files.ca_cert.read_bytes()))
        assert (await stub.GetInfo(pb.GetInfoRequest(), metadata=agent.md)).agent_version
        assert await _code(stub.GetInfo(pb.GetInfoRequest())) == grpc.StatusCode.UNAUTHENTICATED
