"""Transport URLs: parsing into parts, validation that names the wrong part, and masking for logs.

A URL carries credentials, so every message here is built from parts that are never secret, and
``masked`` is the only form of a URL that may reach a log line or the terminal.

Percent-encoding works everywhere (``p%40ss`` for ``p@ss``); unlike form encoding, ``+`` in the query is a
plus, so ``?from=+46700000000`` means what it says.
"""

from __future__ import annotations

import ipaddress
import os
import re
import ssl
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from urllib.parse import quote, unquote

MASK = "***"
#: Query parameters whose values are masked like a password (plugins may carry tokens there).
SECRET_PARAMS = frozenset({"password", "pass", "passwd", "secret", "token", "auth_token", "key", "api_key", "apikey"})

_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")
_HOSTNAME = re.compile(r"[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?(\.[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?)*\.?")


class BadURL(ValueError):
    """One part of a transport URL is wrong; the registry turns this into a ConfigError naming the setting."""

    def __init__(self, part: str, reason: str) -> None:
        super().__init__(f"{part}: {reason}")
        self.part = part
        self.reason = reason


def is_loopback(host: str | None) -> bool:
    """True for localhost and loopback addresses: the only hosts where plain-text credentials are allowed."""
    if not host:
        return False
    name = host.strip("[]").lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True, repr=False)
class TransportURL:
    """A parsed transport URL; ``user``/``password``/``path``/``params`` are percent-decoded."""

    raw: str
    scheme: str
    user: str | None = None
    password: str | None = None
    host: str | None = None
    port: int | None = None
    path: str = ""
    params: Mapping[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:  # tracebacks and debuggers show the masked form only
        return f"TransportURL({self.masked()!r})"

    def masked(self) -> str:
        return _rebuild(self)

    @property
    def address(self) -> str:
        """``host:port`` as used in messages (IPv6 in brackets)."""
        host = f"[{self.host}]" if self.host and ":" in self.host else (self.host or "")
        return f"{host}:{self.port}" if self.port is not None else host

    def check_params(self, allowed: Collection[str]) -> None:
        for name in self.params:
            if name not in allowed:
                known = ", ".join(sorted(allowed)) or "none"
                raise BadURL(name, f"unknown parameter for {self.scheme}:// (known: {known})")

    def require_no_path(self) -> None:
        if self.path not in ("", "/"):
            raise BadURL("path", f"{self.scheme}:// URLs take no path")

    def choice(self, name: str, choices: tuple[str, ...], default: str) -> str:
        value = self.params.get(name, default).lower()
        if value not in choices:
            raise BadURL(name, f"{self.params[name]!r} is not one of {'|'.join(choices)}")
        return value

    def seconds(self, name: str, default: float, *, high: float = 600.0) -> float:
        text = self.params.get(name)
        if text is None:
            return default
        try:
            value = float(text)
        except ValueError:
            raise BadURL(name, f"{text!r} is not a number of seconds") from None
        if not 0 < value <= high:
            raise BadURL(name, f"must be more than 0 and at most {high:g} seconds")
        return value

    def ssl_context(self) -> ssl.SSLContext:
        """A verifying client context; ``cafile=PEM`` trusts that file's CAs instead of the system store."""
        cafile = self.params.get("cafile")
        if cafile is not None and not os.path.isfile(cafile):
            raise BadURL("cafile", f"no such file: {cafile}")
        try:
            return ssl.create_default_context(cafile=cafile)
        except ssl.SSLError as exc:
            raise BadURL("cafile", f"not a PEM certificate file: {exc.reason or exc}") from None


def parse_url(raw: str) -> TransportURL:
    """Split ``raw`` into its parts; raises BadURL naming the part that is wrong.

    Error texts never quote the authority: an unencoded ``/`` or ``?`` in a password would otherwise put a
    piece of it into the message.
    """
    text = raw.strip()
    if not text:
        raise BadURL("url", "empty")
    m = _SCHEME.match(text)
    if not m:
        raise BadURL("scheme", "missing; a transport URL looks like smtp://HOST, elks://USER:PASS@ or file:///DIR")
    scheme = m.group(1).lower()
    rest = text[m.end() :]
    if "#" in rest:
        raise BadURL("url", "'#' is not allowed; percent-encode it as %23 if it is part of a user name or password")
    rest, _, query = rest.partition("?")
    authority, slash, path = rest.partition("/")
    path = slash + path
    if "@" in path and scheme != "file":
        raise BadURL("password", "percent-encode '/', '?', '#' and '@' in user names and passwords")
    user = password = None
    hostport = authority
    if "@" in authority:
        userinfo, _, hostport = authority.rpartition("@")
        u, colon, p = userinfo.partition(":")
        user = unquote(u) or None
        password = unquote(p) if colon and p else None
    host, port = _split_hostport(hostport)
    return TransportURL(
        raw=text, scheme=scheme, user=user, password=password, host=host, port=port,
        path=unquote(path), params=_parse_query(query),
    )  # fmt: skip


def _split_hostport(hostport: str) -> tuple[str | None, int | None]:
    if hostport.startswith("["):
        host, bracket, after = hostport[1:].partition("]")
        if not bracket:
            raise BadURL("host", "an IPv6 address needs a closing ']'")
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise BadURL("host", "not a valid IPv6 address") from None
        if after and not after.startswith(":"):
            raise BadURL("host", "unexpected text after the IPv6 address")
        port_text: str | None = after[1:] if after else None
    else:
        host, colon, port_text_ = hostport.partition(":")
        port_text = port_text_ if colon else None
        if host and not _HOSTNAME.fullmatch(host):
            raise BadURL("host", "not a valid host name or address")
        host = host.lower()
    port = None
    if port_text is not None:
        if not port_text.isdigit() or not port_text.isascii():
            raise BadURL("port", "not a number")
        port = int(port_text)
        if not 1 <= port <= 65535:
            raise BadURL("port", f"{port} is out of range (1–65535)")
    return host or None, port


def _parse_query(query: str) -> dict[str, str]:
    """Like ``parse_qsl`` but ``+`` stays a plus: ``from=+46700000000`` must not become a space."""
    params: dict[str, str] = {}
    for pair in query.split("&"):
        if not pair:
            continue
        key, _, value = pair.partition("=")
        name = unquote(key).lower()
        if name in params:
            raise BadURL(name, "given twice")
        params[name] = unquote(value)
    return params


def _rebuild(url: TransportURL) -> str:
    out = f"{url.scheme}://"
    if url.user or url.password:
        out += quote(url.user or "", safe="")
        if url.password:
            out += ":" + MASK
        out += "@"
    if url.host:
        out += f"[{url.host}]" if ":" in url.host else url.host
    if url.port is not None:
        out += f":{url.port}"
    out += quote(url.path, safe="/")
    if url.params:
        pairs = (
            f"{quote(k, safe='')}={MASK if k in SECRET_PARAMS else quote(v, safe='@:/,+')}"
            for k, v in url.params.items()
        )
        out += "?" + "&".join(pairs)
    return out


def masked(url: str) -> str:
    """``url`` with the password and secret parameters replaced by ``***``; safe to log or print.

    A URL that does not parse keeps only its scheme, since where its secret ends cannot be known.
    """
    try:
        return parse_url(url).masked()
    except BadURL:
        m = _SCHEME.match(url.strip())
        return f"{m.group(1).lower()}://{MASK}" if m else MASK
