"""The client's SSL context from PEM or PKCS#12, and the ConfigError that names what to fix."""

from __future__ import annotations

import datetime as dt
import ssl
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from per_cli.bankid.certs import StateFiles, ensure_pki
from per_cli.bankid.client import client_from_config
from per_cli.bankid.tls import PKCS12_PASSWORD_ENV, client_ssl_context
from per_cli.errors import ConfigError


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> StateFiles:
    return ensure_pki(tmp_path_factory.mktemp("pki"), ["127.0.0.1"])


def _password(files: StateFiles) -> str:
    return files.client_pkcs12_password.read_text().strip()


def test_pem_pair(files: StateFiles) -> None:
    ctx = client_ssl_context(ca_file=files.ca_cert, cert_file=files.client_cert, key_file=files.client_key)
    assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname
    assert ctx.minimum_version == ssl.TLSVersion.TLSv1_2
    assert len(ctx.get_ca_certs()) == 1  # only the configured CA, not the system bundle


def test_pkcs12_with_password(files: StateFiles) -> None:
    ctx = client_ssl_context(ca_file=files.ca_cert, pkcs12_file=files.client_pkcs12, pkcs12_password=_password(files))
    assert isinstance(ctx, ssl.SSLContext)


@pytest.mark.parametrize(("password", "needle"), [("wrong", "wrong password"), (None, PKCS12_PASSWORD_ENV)])
def test_pkcs12_bad_or_missing_password(files: StateFiles, password: str | None, needle: str) -> None:
    with pytest.raises(ConfigError) as info:
        client_ssl_context(ca_file=files.ca_cert, pkcs12_file=files.client_pkcs12, pkcs12_password=password)
    assert info.value.field == "bankid.pkcs12_file"
    assert needle in info.value.message


@pytest.mark.parametrize("key", ["ca_file", "cert_file", "key_file", "pkcs12_file"])
def test_missing_file_names_the_key(files: StateFiles, tmp_path: Path, key: str) -> None:
    kwargs: dict[str, Path] = {"ca_file": files.ca_cert}
    if key == "pkcs12_file":
        kwargs["pkcs12_file"] = files.client_pkcs12
    else:
        kwargs.update(cert_file=files.client_cert, key_file=files.client_key)
    kwargs[key] = tmp_path / "nope.pem"
    with pytest.raises(ConfigError) as info:
        client_ssl_context(**kwargs)  # type: ignore[arg-type]
    assert info.value.field == f"bankid.{key}"
    assert "nope.pem" in info.value.message


def test_ca_file_without_certificate(files: StateFiles, tmp_path: Path) -> None:
    junk = tmp_path / "ca.pem"
    junk.write_text("not a certificate\n")
    with pytest.raises(ConfigError) as info:
        client_ssl_context(ca_file=junk, cert_file=files.client_cert, key_file=files.client_key)
    assert info.value.field == "bankid.ca_file"


def test_key_that_does_not_match(files: StateFiles) -> None:
    with pytest.raises(ConfigError) as info:
        client_ssl_context(ca_file=files.ca_cert, cert_file=files.client_cert, key_file=files.server_key)
    assert info.value.field == "bankid.key_file"


def test_expired_certificate_is_reported_with_its_date(files: StateFiles, tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "old RP")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
        .not_valid_after(dt.datetime(2022, 9, 5, tzinfo=dt.UTC))
        .sign(key, hashes.SHA256())
    )
    (tmp_path / "old.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "old.key").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    with pytest.raises(ConfigError, match="expired on 2022-09-05") as info:
        client_ssl_context(ca_file=files.ca_cert, cert_file=tmp_path / "old.pem", key_file=tmp_path / "old.key")
    assert info.value.field == "bankid.cert_file"


def test_either_pkcs12_or_pem(files: StateFiles) -> None:
    with pytest.raises(ConfigError, match="not both"):
        client_ssl_context(
            ca_file=files.ca_cert,
            pkcs12_file=files.client_pkcs12,
            cert_file=files.client_cert,
            key_file=files.client_key,
        )
    with pytest.raises(ConfigError, match="client certificate is required"):
        client_ssl_context(ca_file=files.ca_cert)
    with pytest.raises(ConfigError) as info:
        client_ssl_context(ca_file=files.ca_cert, cert_file=files.client_cert)
    assert info.value.field == "bankid.key_file"


def test_config_reads_the_pkcs12_password_from_the_environment_only(files: StateFiles) -> None:
    section = {"base_url": "https://127.0.0.1:1/rp/v6.0", "ca_file": str(files.ca_cert)}
    section["pkcs12_file"] = str(files.client_pkcs12)
    with client_from_config(section, {PKCS12_PASSWORD_ENV: _password(files)}) as client:
        assert client.base_url == "https://127.0.0.1:1/rp/v6.0/"
    with pytest.raises(ConfigError, match=PKCS12_PASSWORD_ENV):
        client_from_config(section, {})
    with pytest.raises(ConfigError, match=PKCS12_PASSWORD_ENV) as info:
        client_from_config({**section, "pkcs12_password": "x"}, {PKCS12_PASSWORD_ENV: _password(files)})
    assert info.value.field == "bankid.pkcs12_password"


def test_config_relative_paths_and_checks(files: StateFiles) -> None:
    section: dict[str, object] = {
        "base_url": "https://127.0.0.1:1/rp/v6.0/",
        "ca_file": "ca.pem",
        "cert_file": "client.pem",
        "key_file": "client.key",
        "language": "en",
        "timeout": 3,
    }
    with client_from_config(section, {}, base_dir=files.state_dir) as client:
        assert client.language == "en"
    cases: list[tuple[dict[str, object], str]] = [
        ({"base_url": None}, "bankid.base_url"),
        ({"base_url": "http://127.0.0.1/rp/v6.0/"}, "bankid.base_url"),
        ({"ca_file": None}, "bankid.ca_file"),
        ({"timeout": "soon"}, "bankid.timeout"),
        ({"language": "fi"}, "bankid.language"),
    ]
    for change, field in cases:
        broken = {k: v for k, v in {**section, **change}.items() if v is not None}
        with pytest.raises(ConfigError) as info:
            client_from_config(broken, {}, base_dir=files.state_dir)
        assert info.value.field == field, change
