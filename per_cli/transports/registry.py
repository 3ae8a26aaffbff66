"""From a setting to an open transport: which URL applies, which class serves its scheme, and validation.

Built-ins are imported only when chosen (``smtp`` never loads httpx). Other schemes come from installed
packages that declare an entry point in the group ``per_cli.transports``::

    [project.entry-points."per_cli.transports"]
    memo = "per_memo:MemoTransport"     # a per_cli.transports.base.Transport subclass

A plugin cannot take over a built-in scheme.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping
from importlib.metadata import EntryPoint, entry_points
from typing import Any, NamedTuple

from per_cli.errors import ConfigError
from per_cli.transports.base import CHANNELS, Transport, log
from per_cli.transports.url import BadURL, masked, parse_url

ENTRY_POINT_GROUP = "per_cli.transports"

BUILTINS: dict[str, str] = {
    "smtp": "per_cli.transports.smtp:SmtpTransport",
    "elks": "per_cli.transports.elks:ElksTransport",
    "twilio": "per_cli.transports.twilio:TwilioTransport",
    "file": "per_cli.transports.file:FileTransport",
    "console": "per_cli.transports.console:ConsoleTransport",
}

#: Environment variable and config key per channel (README, "Configuration").
ENV_VARS: dict[str, str] = {"email": "PER_EMAIL_TRANSPORT", "sms": "PER_SMS_TRANSPORT"}
CONFIG_SECTION = "transports"


def _plugins() -> dict[str, EntryPoint]:
    found: dict[str, EntryPoint] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        name = ep.name.lower()
        if name in BUILTINS:
            log.warning("ignoring plugin %s: it claims the built-in scheme %s://", ep.value, name)
        else:
            found.setdefault(name, ep)
    return found


def known_schemes() -> list[str]:
    """Built-in schemes first, then installed plugins, for error messages and ``--help``."""
    return [*BUILTINS, *sorted(_plugins())]


def transport_class(scheme: str, *, setting: str | None = None) -> type[Transport]:
    """The class for ``scheme``; ConfigError listing the known schemes when there is none."""
    plugins = {} if scheme in BUILTINS else _plugins()
    try:
        if scheme in BUILTINS:
            module, _, attr = BUILTINS[scheme].partition(":")
            cls = getattr(importlib.import_module(module), attr)
        elif scheme in plugins:
            cls = plugins[scheme].load()
        else:
            known = ", ".join(f"{s}://" for s in [*BUILTINS, *sorted(plugins)])
            raise ConfigError(f"scheme: unknown scheme {scheme}:// (known: {known})", field=setting)
    except ConfigError:
        raise
    except Exception as exc:  # a broken plugin must not crash the CLI with a traceback
        raise ConfigError(
            f"scheme: the {scheme}:// plugin failed to load: {exc}; reinstall its package where per is installed",
            field=setting,
        ) from None
    if not (isinstance(cls, type) and issubclass(cls, Transport)):
        raise ConfigError(f"scheme: the {scheme}:// plugin does not provide a Transport class", field=setting)
    return cls


def open_transport(url: str, *, channel: str, setting: str, default_from: str | None = None) -> Transport:
    """Parse and validate ``url`` and return a transport for ``channel``; nothing is connected yet.

    ``setting`` names where the URL came from (``PER_SMS_TRANSPORT``, ``transports.sms``) so that a
    ConfigError reads e.g. ``PER_EMAIL_TRANSPORT: port: not a number``. ``default_from`` is the sender
    used when the URL has no ``from=``.
    """
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}")
    try:
        parsed = parse_url(url)
    except BadURL as exc:
        raise ConfigError(str(exc), field=setting) from None
    cls = transport_class(parsed.scheme, setting=setting)
    if cls.channel not in ("both", channel):
        able = [s for s in known_schemes() if _serves(s, channel)]
        raise ConfigError(
            f"scheme: {parsed.scheme}:// cannot send {channel} (use one of: {', '.join(f'{s}://' for s in able)})",
            field=setting,
        )
    try:
        transport = cls(parsed, default_from=default_from)
    except BadURL as exc:
        raise ConfigError(str(exc), field=setting) from None
    except ValueError as exc:  # a plugin's own validation
        raise ConfigError(f"url: {exc}", field=setting) from None
    log.debug("%s transport: %s (from %s)", channel, masked(url), setting)
    return transport


def _serves(scheme: str, channel: str) -> bool:
    try:
        return transport_class(scheme).channel in ("both", channel)
    except ConfigError:
        return False


class TransportSetting(NamedTuple):
    url: str
    setting: str  # the environment variable or config key the URL came from, for error messages


def transport_url_for(
    channel: str, config: Mapping[str, Any] | None, environ: Mapping[str, str] | None = None
) -> TransportSetting:
    """The URL for ``channel``: ``PER_<CHANNEL>_TRANSPORT`` wins over ``[transports] <channel>`` in the file.

    Raises ConfigError when neither is set, naming both places.
    """
    env = os.environ if environ is None else environ
    var = ENV_VARS[channel]
    if env.get(var, "").strip():
        return TransportSetting(env[var].strip(), var)
    section = (config or {}).get(CONFIG_SECTION) or {}
    key = f"{CONFIG_SECTION}.{channel}"
    if not isinstance(section, Mapping):
        raise ConfigError(f"[{CONFIG_SECTION}] must be a table", field="config")
    value = section.get(channel)
    if value is None or value == "":
        what = "e-mail" if channel == "email" else "SMS"
        raise ConfigError(f'no {what} transport configured: set {var} or `{channel} = "URL"` under [{CONFIG_SECTION}]')
    if not isinstance(value, str):
        raise ConfigError("must be a URL string", field=key)
    return TransportSetting(value.strip(), key)


def open_configured(
    channel: str,
    config: Mapping[str, Any] | None,
    environ: Mapping[str, str] | None = None,
    *,
    default_from: str | None = None,
) -> Transport:
    """``transport_url_for`` + ``open_transport``: what a command that sends usually wants."""
    url, setting = transport_url_for(channel, config, environ)
    return open_transport(url, channel=channel, setting=setting, default_from=default_from)
