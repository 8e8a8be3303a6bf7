"""`mmbot agent certs init`: a CA, a server certificate with the right names, a client cert."""

from __future__ import annotations

import ipaddress
import json
import stat
import subprocess
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID

from agent.certs import init_certs
from tests.test_grpc_helpers import ENV_BASE, cli


def _load(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def _signed_by(cert: x509.Certificate, ca: x509.Certificate) -> bool:
    key = ca.public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey)
    cert.verify_directly_issued_by(ca)
    return True


def test_init_creates_a_ca_a_server_and_a_client_certificate(tmp_path: Path) -> None:
    files = init_certs(tmp_path / "tls", ["agent.example.com", "192.0.2.10"])
    ca, srv, cli_cert = _load(files.ca_cert), _load(files.server_cert), _load(files.client_cert)
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert _signed_by(srv, ca) and _signed_by(cli_cert, ca)
    san = srv.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert set(san.get_values_for_type(x509.DNSName)) == {"localhost", "agent.example.com"}
    assert set(san.get_values_for_type(x509.IPAddress)) == {
        ipaddress.ip_address("127.0.0.1"),
        ipaddress.ip_address("::1"),
        ipaddress.ip_address("192.0.2.10"),
    }
    eku = lambda c: c.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value  # noqa: E731
    assert ExtendedKeyUsageOID.SERVER_AUTH in eku(srv)
    assert ExtendedKeyUsageOID.CLIENT_AUTH in eku(cli_cert)
    for key in (files.ca_key, files.server_key, files.client_key):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600


def test_cli_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    d = tmp_path / "tls"
    run = lambda *a: subprocess.run(  # noqa: E731
        cli("agent", "certs", "init", "--dir", str(d), *a),
        capture_output=True,
        text=True,
        env=ENV_BASE,
        timeout=30,
    )
    r = run("--hosts", "a.example,10.1.2.3", "--hosts", "b.example", "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["hosts"][-3:] == ["a.example", "10.1.2.3", "b.example"]
    first_ca = (d / "ca.crt").read_bytes()
    r = run()
    assert r.returncode == 2 and "--force" in r.stderr
    assert (d / "ca.crt").read_bytes() == first_ca
    assert run("--force").returncode == 0
    assert (d / "ca.crt").read_bytes() != first_ca
