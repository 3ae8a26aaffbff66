"""Throwaway PKI for the simulator: a CA, a server certificate and RP client certificates in a state dir.

Mutual TLS is the part of BankID integrations that breaks most often, so the stand-in uses real certificates
instead of switching TLS off. EC P-256 keys keep generation instant. Existing files are reused while valid so a
CI job can restart the simulator without re-reading a new password.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import json
import os
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_VALIDITY = dt.timedelta(days=365)
_RENEW_BEFORE = dt.timedelta(days=1)


@dataclass(frozen=True)
class StateFiles:
    """Where the simulator keeps its certificates and the config file it writes for per."""

    state_dir: Path

    @property
    def ca_cert(self) -> Path:
        return self.state_dir / "ca.pem"

    @property
    def ca_key(self) -> Path:
        return self.state_dir / "ca.key"

    @property
    def server_cert(self) -> Path:
        return self.state_dir / "server.pem"

    @property
    def server_key(self) -> Path:
        return self.state_dir / "server.key"

    @property
    def client_cert(self) -> Path:
        return self.state_dir / "client.pem"

    @property
    def client_key(self) -> Path:
        return self.state_dir / "client.key"

    @property
    def client_pkcs12(self) -> Path:
        return self.state_dir / "client.p12"

    @property
    def client_pkcs12_password(self) -> Path:
        return self.state_dir / "client.p12.password"

    @property
    def config(self) -> Path:
        return self.state_dir / "per.toml"


def ensure_pki(state_dir: Path, hosts: Iterable[str]) -> StateFiles:
    """Create (or reuse, if complete, valid and covering ``hosts``) the CA, server and client certificates."""
    files = StateFiles(state_dir)
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    names = _san_names(hosts)
    if not _reusable(files, names):
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca = _build(_name("per BankID simulator CA"), ca_key, None, ca_key, ca=True)
        _write_key(files.ca_key, ca_key)
        _write(files.ca_cert, ca.public_bytes(serialization.Encoding.PEM))
        server_key = ec.generate_private_key(ec.SECP256R1())
        server = _build(_name("per BankID simulator server"), server_key, ca, ca_key, san=names)
        _write_key(files.server_key, server_key)
        _write(files.server_cert, server.public_bytes(serialization.Encoding.PEM))
        _write_client(files, ca, ca_key)
    return files


def issue_client_cert(files: StateFiles, name: str, out_dir: Path) -> tuple[Path, Path]:
    """Another RP certificate from the simulator's CA (PEM cert, key); for tests of unauthorized/foreign RPs."""
    ca, ca_key = _load_ca(files)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = _build(_name(name), key, ca, ca_key, client=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    slug = "".join(c if c.isalnum() else "-" for c in name)
    cert_path, key_path = out_dir / f"{slug}.pem", out_dir / f"{slug}.key"
    _write(cert_path, cert.public_bytes(serialization.Encoding.PEM))
    _write_key(key_path, key)
    return cert_path, key_path


def fingerprint(der: bytes) -> str:
    """SHA-256 of a DER certificate: how the simulator recognises an RP."""
    return hashlib.sha256(der).hexdigest()


def pem_fingerprint(path: Path) -> str:
    cert = x509.load_pem_x509_certificate(path.read_bytes())
    return fingerprint(cert.public_bytes(serialization.Encoding.DER))


def write_config(files: StateFiles, base_url: str) -> Path:
    """A ready ``[bankid]`` section for per. It uses the PEM pair, so no password is needed; the PKCS#12
    alternative is shown commented out, its password staying in a separate file (never in the config)."""
    q = json.dumps  # JSON strings are valid TOML basic strings
    text = f"""\
# Written by `per bankid simulator`; valid while the simulator runs at this address.
[bankid]
base_url = {q(base_url)}
ca_file = {q(str(files.ca_cert))}
cert_file = {q(str(files.client_cert))}
key_file = {q(str(files.client_key))}

# Or the same RP certificate as PKCS#12 (remove cert_file and key_file); the password is read only from
# the environment: export PER_BANKID_PKCS12_PASSWORD="$(cat {files.client_pkcs12_password})"
# pkcs12_file = {q(str(files.client_pkcs12))}
"""
    _write(files.config, text.encode(), mode=0o644)
    return files.config


def write_ready_file(path: Path, *, url: str, config: Path) -> None:
    """``--ready-file``: ``url=…`` and ``config=…`` lines, written whole (a rename) once the simulator accepts
    connections, so a script waits for the file and reads a line (``sed -n 's/^config=//p'``)."""
    _write(path, f"url={url}\nconfig={config.resolve()}\n".encode(), mode=0o644)


def _write_client(files: StateFiles, ca: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = _build(_name("per BankID simulator RP"), key, ca, ca_key, client=True)
    password = secrets.token_urlsafe(16)
    p12 = pkcs12.serialize_key_and_certificates(
        b"per-bankid-simulator-rp", key, cert, [ca], serialization.BestAvailableEncryption(password.encode())
    )
    _write_key(files.client_key, key)
    _write(files.client_cert, cert.public_bytes(serialization.Encoding.PEM))
    _write(files.client_pkcs12, p12)
    _write(files.client_pkcs12_password, password.encode() + b"\n")


def _reusable(files: StateFiles, names: list[x509.GeneralName]) -> bool:
    paths = (files.ca_cert, files.ca_key, files.server_cert, files.server_key, files.client_cert, files.client_key)
    if not all(p.exists() for p in (*paths, files.client_pkcs12, files.client_pkcs12_password)):
        return False
    try:
        certs = [x509.load_pem_x509_certificate(p.read_bytes()) for p in (files.ca_cert, files.server_cert)]
        certs.append(x509.load_pem_x509_certificate(files.client_cert.read_bytes()))
        san = certs[1].extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (ValueError, x509.ExtensionNotFound):
        return False
    deadline = dt.datetime.now(dt.UTC) + _RENEW_BEFORE
    return all(c.not_valid_after_utc > deadline for c in certs) and all(n in san for n in names)


def _load_ca(files: StateFiles) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    ca = x509.load_pem_x509_certificate(files.ca_cert.read_bytes())
    key = serialization.load_pem_private_key(files.ca_key.read_bytes(), None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):  # pragma: no cover - we wrote it
        raise ValueError("unexpected CA key type")
    return ca, key


def _san_names(hosts: Iterable[str]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = [
        x509.DNSName("localhost"),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        x509.IPAddress(ipaddress.ip_address("::1")),
    ]
    for host in hosts:
        try:
            name: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(host.strip("[]")))
        except ValueError:
            name = x509.DNSName(host)
        if name not in names and host not in ("0.0.0.0", "::", ""):
            names.append(name)
    return names


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "per test only"),
        ]
    )


def _build(
    subject: x509.Name,
    key: ec.EllipticCurvePrivateKey,
    issuer: x509.Certificate | None,
    issuer_key: ec.EllipticCurvePrivateKey,
    *,
    ca: bool = False,
    client: bool = False,
    san: list[x509.GeneralName] | None = None,
) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + _VALIDITY)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if issuer is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False
        )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
    else:
        usage = ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False).add_extension(
            x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True
        )
    if san:
        builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _write(path: Path, data: bytes, *, mode: int = 0o600) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.replace(tmp, path)


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    _write(path, pem)
