"""The client side of BankID's mutual TLS, as an ``ssl.SSLContext`` built here rather than by httpx.

httpx 0.28 silently drops a client certificate in some ``cert=``/``verify=`` combinations
(https://github.com/encode/httpx/issues/3441), so the context is complete before httpx sees it. BankID's own root CA
is the only trust anchor: the public CA bundle must not vouch for the RP API. Every failure names the configuration
key to fix.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import ssl
import tempfile
from pathlib import Path

from per_cli.errors import ConfigError

PKCS12_PASSWORD_ENV = "PER_BANKID_PKCS12_PASSWORD"
KEY_PASSWORD_ENV = "PER_BANKID_KEY_PASSWORD"


def client_ssl_context(
    *,
    ca_file: str | Path,
    pkcs12_file: str | Path | None = None,
    pkcs12_password: str | None = None,
    cert_file: str | Path | None = None,
    key_file: str | Path | None = None,
    key_password: str | None = None,
) -> ssl.SSLContext:
    """A TLS ≥1.2 client context trusting only ``ca_file`` and presenting the RP certificate.

    Give either ``pkcs12_file`` (+ ``pkcs12_password``) or ``cert_file`` + ``key_file`` (+ ``key_password`` for an
    encrypted key).
    """
    if pkcs12_file is not None and (cert_file is not None or key_file is not None):
        raise ConfigError("give either pkcs12_file or cert_file and key_file, not both", field="bankid")
    if pkcs12_file is None and (cert_file is None or key_file is None):
        missing = "key_file" if cert_file is not None else "cert_file"
        raise ConfigError(
            "a client certificate is required: set pkcs12_file, or cert_file and key_file",
            field=f"bankid.{missing}" if (cert_file or key_file) else "bankid.pkcs12_file",
        )
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    _load_ca(ctx, Path(ca_file))
    if pkcs12_file is not None:
        _load_pkcs12(ctx, Path(pkcs12_file), pkcs12_password)
    else:
        assert cert_file is not None and key_file is not None
        _load_pem(ctx, Path(cert_file), Path(key_file), key_password)
    return ctx


def _read(path: Path, field: str) -> bytes:
    try:
        return path.expanduser().read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}", field=field) from exc


def _load_ca(ctx: ssl.SSLContext, path: Path) -> None:
    data = _read(path, "bankid.ca_file")
    try:
        ctx.load_verify_locations(cadata=data.decode("ascii", errors="replace"))
    except (ssl.SSLError, ValueError) as exc:
        raise ConfigError(f"{path} holds no usable PEM CA certificate ({exc})", field="bankid.ca_file") from exc


def _check_validity(not_before: dt.datetime, not_after: dt.datetime, field: str) -> None:
    """An expired RP certificate otherwise shows up as an obscure TLS alert; BankID test certs do expire."""
    now = dt.datetime.now(dt.UTC)
    if now > not_after:
        raise ConfigError(f"the client certificate expired on {not_after:%Y-%m-%d}", field=field)
    if now < not_before:
        raise ConfigError(f"the client certificate is not valid before {not_before:%Y-%m-%d}", field=field)


def _load_pem(ctx: ssl.SSLContext, cert: Path, key: Path, password: str | None) -> None:
    from cryptography import x509

    cert_pem = _read(cert, "bankid.cert_file")
    _read(key, "bankid.key_file")  # a clear error for a missing key file before OpenSSL's generic one
    try:
        leaf = x509.load_pem_x509_certificate(cert_pem)
    except ValueError as exc:
        raise ConfigError(f"{cert} holds no PEM certificate", field="bankid.cert_file") from exc
    _check_validity(leaf.not_valid_before_utc, leaf.not_valid_after_utc, "bankid.cert_file")
    try:
        ctx.load_cert_chain(cert.expanduser(), key.expanduser(), password=password or None)
    except ssl.SSLError as exc:
        hint = f" (encrypted key? set {KEY_PASSWORD_ENV})" if password is None else ""
        raise ConfigError(f"cannot use {key} with {cert}: {exc.reason or exc}{hint}", field="bankid.key_file") from exc


def _load_pkcs12(ctx: ssl.SSLContext, path: Path, password: str | None) -> None:
    from cryptography.hazmat.primitives.serialization import (
        BestAvailableEncryption,
        Encoding,
        PrivateFormat,
        pkcs12,
    )

    data = _read(path, "bankid.pkcs12_file")
    try:
        key, leaf, extra = pkcs12.load_key_and_certificates(data, password.encode() if password else None)
    except ValueError as exc:
        why = "wrong password or not a PKCS#12 file" if password else f"password needed: set {PKCS12_PASSWORD_ENV}"
        raise ConfigError(f"cannot open {path}: {why}", field="bankid.pkcs12_file") from exc
    if key is None or leaf is None:
        raise ConfigError(f"{path} holds no certificate with its private key", field="bankid.pkcs12_file")
    _check_validity(leaf.not_valid_before_utc, leaf.not_valid_after_utc, "bankid.pkcs12_file")
    # ssl can only load files; the key is written re-encrypted with a one-off password, never in the clear.
    one_off = secrets.token_urlsafe(24)
    pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, BestAvailableEncryption(one_off.encode()))
    pem += leaf.public_bytes(Encoding.PEM) + b"".join(c.public_bytes(Encoding.PEM) for c in extra)
    with tempfile.TemporaryDirectory(prefix="per-bankid-") as tmp:
        chain = Path(tmp, "chain.pem")
        fd = os.open(chain, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(pem)
        try:
            ctx.load_cert_chain(chain, password=one_off)
        except ssl.SSLError as exc:  # pragma: no cover - cryptography produced a key OpenSSL refuses
            raise ConfigError(f"cannot use {path}: {exc.reason or exc}", field="bankid.pkcs12_file") from exc
