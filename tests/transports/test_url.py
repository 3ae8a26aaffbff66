"""Transport URLs: parts, errors that name the wrong part, masking, and where the URL comes from."""

from __future__ import annotations

import pytest

from per_cli.errors import ConfigError
from per_cli.transports import mask_recipient, masked, open_transport, parse_url, transport_url_for
from per_cli.transports.url import BadURL, is_loopback

TOKEN = "tw1l1o-t0ken"


def test_parse_parts_and_percent_decoding() -> None:
    url = parse_url("SMTP://relay%40tolv.se:p%2Fss%40w%3Ard@Mail.Tolv.se:2525?security=tls&from=per%40tolv.se")
    assert (url.scheme, url.user, url.password, url.host, url.port) == (
        "smtp", "relay@tolv.se", "p/ss@w:rd", "mail.tolv.se", 2525,
    )  # fmt: skip
    assert dict(url.params) == {"security": "tls", "from": "per@tolv.se"}
    assert parse_url("file:///var/spool/per").path == "/var/spool/per"
    assert parse_url("elks://u:p@[::1]:8080").host == "::1"
    assert parse_url("smtp://u:p@ss@host").password == "p@ss"  # the last '@' ends the user info
    assert parse_url("elks://u:p@?from=+46700000000").params == {"from": "+46700000000"}  # '+' is not a space
    assert parse_url("elks://u:p@?from=%2B46700000000&").params == {"from": "+46700000000"}


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("", "url: empty"),
        ("mail.tolv.se:587", "scheme: missing"),
        ("smtp://host:smtp", "port: not a number"),
        ("smtp://host:0", "port: 0 is out of range"),
        ("smtp://host:70000", "port: 70000 is out of range"),
        ("smtp://ho st", "host: not a valid host name"),
        ("smtp://[::1", "host: an IPv6 address needs"),
        ("smtp://u:pa#ss@host", "url: '#' is not allowed"),
        ("smtp://host?from=a@b.se&from=c@d.se", "from: given twice"),
    ],
)
def test_parse_errors_name_the_part(url: str, message: str) -> None:
    with pytest.raises(BadURL) as info:
        parse_url(url)
    assert str(info.value).startswith(message)


def test_errors_never_quote_a_password_with_unencoded_reserved_characters() -> None:
    for url in ("smtp://user:Xq/7Zk@host", "smtp://user:Xq?7Zk@host", "smtp://u:Xq@7Zk:"):
        with pytest.raises(BadURL) as info:
            parse_url(url)
        assert "Xq" not in str(info.value) and "7Zk" not in str(info.value), str(info.value)
        assert "Xq" not in masked(url) and "7Zk" not in masked(url)
    assert parse_url("smtp://user:Xq:7Zk@host").password == "Xq:7Zk"
    assert masked("smtp://user:Xq:7Zk@host") == "smtp://user:***@host"


def _config_error(url: str, channel: str = "email", setting: str = "PER_EMAIL_TRANSPORT") -> str:
    with pytest.raises(ConfigError) as info:
        open_transport(url, channel=channel, setting=setting)
    assert info.value.field == setting
    return info.value.message


@pytest.mark.parametrize(
    ("url", "channel", "message"),
    [
        (
            "smpt://host",
            "email",
            "scheme: unknown scheme smpt:// (known: smtp://, elks://, twilio://, file://, console://",
        ),
        ("smtp://host:abc?from=a@b.se", "email", "port: not a number"),
        ("smtp://host?security=ssl&from=a@b.se", "email", "security: 'ssl' is not one of starttls|tls|none"),
        ("smtp://host?secrity=tls&from=a@b.se", "email", "secrity: unknown parameter for smtp://"),
        ("smtp://?from=a@b.se", "email", "host: missing"),
        ("smtp://host", "email", "from: missing"),
        ("smtp://host?from=nobody", "email", "from: 'nobody' is not an e-mail address"),
        ("smtp://host/inbox?from=a@b.se", "email", "path: smtp:// URLs take no path"),
        ("smtp://host?from=a@b.se&timeout=soon", "email", "timeout: 'soon' is not a number of seconds"),
        ("smtp://host?from=a@b.se&timeout=0", "email", "timeout: must be more than 0"),
        ("smtp://host?from=a@b.se&cafile=/nonexistent/ca.pem", "email", "cafile: no such file"),
        ("smtp://u:p@mail.tolv.se?security=none&from=a@b.se", "email", "security: none would send the password"),
        ("smtp://host?from=a@b.se", "sms", "scheme: smtp:// cannot send sms (use one of: elks://, twilio://"),
        ("elks://api.46elks.com", "sms", "user: missing"),
        ("elks://u@api.46elks.com", "sms", "password: missing"),
        ("elks://u:p@api.46elks.com?tls=off", "sms", "tls: off is allowed only for loopback hosts"),
        (
            "elks://u:p@?tls=off",
            "sms",
            "tls: off is allowed only for loopback hosts (localhost, 127.0.0.1, ::1), not api.46elks.com",
        ),
        ("elks://u:p@?tls=maybe", "sms", "tls: 'maybe' is not one of on|off"),
        ("elks://u:p@?from=1Neuro", "sms", "from: '1Neuro' must not start with a digit"),
        ("elks://u:p@?from=NeuroregisterSU", "sms", "from: 'NeuroregisterSU' must be 3–11 characters"),
        ("elks://u:p@?dryrun=maybe", "sms", "dryrun: 'maybe' is not one of yes|no"),
        (f"twilio://AC{'0' * 32}:{TOKEN}@", "sms", "from: missing; Twilio needs ?from=SENDER"),
        (f"twilio://ACME:{TOKEN}@?from=PER", "sms", "user: a Twilio Account SID is AC followed by 32 hex digits"),
        ("file://relative/dir", "sms", "host: file URLs name a local directory"),
        ("file://", "sms", "path: must be an absolute directory"),
        ("file:///tmp/x?keep=1", "sms", "keep: unknown parameter for file:// (known: none)"),
        ("console://x", "sms", "url: console:// takes nothing"),
    ],
)
def test_bad_urls_name_the_part(url: str, channel: str, message: str) -> None:
    setting = f"PER_{channel.upper()}_TRANSPORT"
    assert _config_error(url, channel, setting).startswith(message)


def test_config_error_names_the_setting() -> None:
    with pytest.raises(ConfigError) as info:
        open_transport("smtp://host:x", channel="email", setting="transports.email")
    assert str(info.value) == "transports.email: port: not a number"


def test_twilio_error_does_not_echo_the_token() -> None:
    message = _config_error(f"twilio://AC{'0' * 32}:{TOKEN}@", "sms", "PER_SMS_TRANSPORT")
    assert TOKEN not in message


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            "smtp://relay:hunter2@mail.tolv.se:587?from=per@tolv.se",
            "smtp://relay:***@mail.tolv.se:587?from=per@tolv.se",
        ),
        (f"twilio://AC{'a' * 32}:{TOKEN}@?from=PER", f"twilio://AC{'a' * 32}:***@?from=PER"),
        ("elks://u:p%2Fw@127.0.0.1:8080?tls=off", "elks://u:***@127.0.0.1:8080?tls=off"),
        ("memo://host?token=abc&note=hi", "memo://host?token=***&note=hi"),
        ("smtp://mail.tolv.se", "smtp://mail.tolv.se"),
        ("file:///var/spool/per", "file:///var/spool/per"),
        ("smtp://u:hunter2@ho st", "smtp://***"),
        ("garbage hunter2", "***"),
    ],
)
def test_masked(url: str, shown: str) -> None:
    assert masked(url) == shown


def test_transport_description_is_masked() -> None:
    transport = open_transport(f"twilio://AC{'a' * 32}:{TOKEN}@?from=PER", channel="sms", setting="X")
    assert TOKEN not in transport.description and TOKEN not in repr(transport.url)
    assert repr(parse_url("memo://h?token=abc")) == "TransportURL('memo://h?token=***')"


@pytest.mark.parametrize(
    ("to", "shown"),
    [("+46701740605", "+4670*****05"), ("tolvan.tolvansson@tolv.se", "t***@tolv.se"), ("12345", "*****")],
)
def test_mask_recipient(to: str, shown: str) -> None:
    assert mask_recipient(to) == shown


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("localhost", True), ("127.0.0.1", True), ("127.8.9.10", True), ("::1", True), ("[::1]", True),
     ("api.46elks.com", False), ("10.0.0.1", False), (None, False)],
)  # fmt: skip
def test_is_loopback(host: str | None, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_environment_wins_over_config_file() -> None:
    config = {"transports": {"email": "smtp://file-host?from=a@b.se", "sms": "console://"}}
    env = {"PER_EMAIL_TRANSPORT": "file:///tmp/outbox"}
    assert transport_url_for("email", config, env) == ("file:///tmp/outbox", "PER_EMAIL_TRANSPORT")
    assert transport_url_for("sms", config, env) == ("console://", "transports.sms")
    assert transport_url_for("sms", config, {"PER_SMS_TRANSPORT": "  "}) == ("console://", "transports.sms")


def test_no_transport_configured() -> None:
    with pytest.raises(ConfigError, match=r"no SMS transport configured: set PER_SMS_TRANSPORT"):
        transport_url_for("sms", None, {})
    with pytest.raises(ConfigError, match="must be a URL string") as info:
        transport_url_for("email", {"transports": {"email": 25}}, {})
    assert info.value.field == "transports.email"
