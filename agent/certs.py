"""`mmbot agent certs init`: a private CA, a server certificate and a client certificate.

Off loopback the agent speaks TLS and, by default, only to clients holding a certificate from
the operator's own CA (mutual TLS), so a leaked token alone is not enough to steer it. The CA
is the operator's, not a public one: nobody else can issue a client certificate for it. Keys
are ECDSA P-256 (small, fast handshakes) and written with mode 0600.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from agent.credentials import write_private

CA_DAYS = 3650
LEAF_DAYS = 825
DEFAULT_HOSTS = ("localhost", "127.0.0.1", "::1")

PrivateKey = ec.EllipticCurvePrivateKey


@dataclass(frozen=True)
class CertFiles:
    """Where `init_certs` put everything (the names `agent serve` and `ctl` look for)."""

    dir: Path

    @property
    def ca_cert(self) -> Path:
        return self.dir / "ca.crt"

    @property
    def ca_key(self) -> Path:
        return self.dir / "ca.key"

    @property
    def server_cert(self) -> Path:
        return self.dir / "server.crt"

    @property
    def server_key(self) -> Path:
        return self.dir / "server.key"

    @property
    def client_cert(self) -> Path:
        return self.dir / "client.crt"

    @property
    def client_key(self) -> Path:
        return self.dir / "client.key"

    def all(self) -> list[Path]:
        return [
            self.ca_cert,
            self.ca_key,
            self.server_cert,
            self.server_key,
            self.client_cert,
            self.client_key,
        ]


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "mmbot"),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def new_key() -> PrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def make_ca(
    common_name: str = "mmbot agent CA", days: int = CA_DAYS
) -> tuple[PrivateKey, x509.Certificate]:
    key = new_key()
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(_name(common_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def san_entries(hosts: list[str] | tuple[str, ...]) -> list[x509.GeneralName]:
    """DNS names and IP addresses for the subjectAltName, without duplicates."""
    out: list[x509.GeneralName] = []
    seen: set[str] = set()
    for h in hosts:
        h = h.strip().strip("[]")
        if not h or h in seen:
            continue
        seen.add(h)
        try:
            out.append(x509.IPAddress(ipaddress.ip_address(h)))
        except ValueError:
            out.append(x509.DNSName(h))
    return out


def issue(
    ca_key: PrivateKey,
    ca_cert: x509.Certificate,
    common_name: str,
    *,
    server: bool,
    hosts: list[str] | tuple[str, ...] = (),
    days: int = LEAF_DAYS,
) -> tuple[PrivateKey, x509.Certificate]:
    """A leaf certificate signed by the CA: server auth with SANs, or client auth."""
    key = new_key()
    now = _now()
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
    )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(san_entries(hosts)), critical=False
        )
    return key, builder.sign(ca_key, hashes.SHA256())


def cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def key_pem(key: PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


class CertsExist(FileExistsError):
    """`certs init` refuses to overwrite: replacing a CA locks every existing client out."""


def init_certs(
    directory: Path,
    hosts: list[str] | tuple[str, ...] = (),
    *,
    client_name: str = "mmbot-ctl",
    days: int = LEAF_DAYS,
    force: bool = False,
) -> CertFiles:
    """Create the CA, a server certificate (SANs: localhost, 127.0.0.1, ::1 and `hosts`) and a
    client certificate in `directory`."""
    files = CertFiles(directory)
    existing = [p for p in files.all() if p.exists()]
    if existing and not force:
        raise CertsExist(
            f"{', '.join(p.name for p in existing)} already in {directory} (--force replaces them)"
        )
    ca_key, ca_cert = make_ca()
    srv_key, srv_cert = issue(
        ca_key, ca_cert, "mmbot agent", server=True, hosts=[*DEFAULT_HOSTS, *hosts], days=days
    )
    cli_key, cli_cert = issue(ca_key, ca_cert, client_name, server=False, days=days)
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    for path, data in (
        (files.ca_key, key_pem(ca_key)),
        (files.server_key, key_pem(srv_key)),
        (files.client_key, key_pem(cli_key)),
    ):
        write_private(path, data)
    for path, data in (
        (files.ca_cert, cert_pem(ca_cert)),
        (files.server_cert, cert_pem(srv_cert)),
        (files.client_cert, cert_pem(cli_cert)),
    ):
        path.write_bytes(data)
        path.chmod(0o644)
    return files
