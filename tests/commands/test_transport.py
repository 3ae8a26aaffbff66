"""``per transport test``: one test message, the provider's answer on stdout, exit 1 when it failed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from commands.transport import cli
from per_cli.cli.app import App
from per_cli.config import Config
from per_cli.errors import ConfigError, DeliveryFailed
from tests.helpers.servers import ELKS_PASSWORD, Gateway

ENV_CLEAR = {"PER_EMAIL_TRANSPORT": None, "PER_SMS_TRANSPORT": None}


def invoke(args: list[str], *, obj: App | None = None, **kwargs: Any) -> Result:
    """The ``transport`` group as the root runs it: with an App (no config file unless ``obj`` has one)."""
    return CliRunner().invoke(cli, args, obj=obj or App(config=Config(), actor="tester"), **kwargs)


def test_exactly_one_of_sms_or_email() -> None:
    for args in ([], ["--sms", "+46701740605", "--email", "a@b.se"]):
        result = invoke(["test", *args])
        assert result.exit_code == 2
        assert "give exactly one of --sms NUMBER or --email ADDRESS" in result.output


def test_email_through_file_transport(tmp_path: Path) -> None:
    env = {**ENV_CLEAR, "PER_EMAIL_TRANSPORT": f"file://{tmp_path}"}
    result = invoke(["test", "--email", "Tolvan.Tolvansson@TOLV.se"], env=env)
    assert result.exit_code == 0, result.output
    lines = dict(line.split(None, 1) for line in result.stdout.splitlines())
    assert lines["status"] == "sent" and lines["channel"] == "email"
    assert lines["to"] == "Tolvan.Tolvansson@tolv.se"  # domain normalised
    [written] = tmp_path.glob("*.json")
    assert lines["provider_id"] == written.stem
    record = json.loads(written.read_text(encoding="utf-8"))
    assert record["subject"] == "per: testmeddelande / test message"


def test_the_answer_as_a_record(tmp_path: Path) -> None:
    env = {**ENV_CLEAR, "PER_EMAIL_TRANSPORT": f"file://{tmp_path}"}
    result = invoke(["test", "--email", "tolvan@tolv.se", "--format", "json"], env=env)
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    [written] = tmp_path.glob("*.json")
    assert record == {
        "transport": f"file://{tmp_path}",
        "channel": "email",
        "to": "tolvan@tolv.se",
        "status": "sent",
        "provider_id": written.stem,
        "error": None,
        "detail": record["detail"],
    }
    assert isinstance(record["detail"], dict)


def test_sms_number_is_normalised_and_answer_shown(elks_gateway: Gateway) -> None:
    env = {**ENV_CLEAR, "PER_SMS_TRANSPORT": elks_gateway.url()}
    result = invoke(["test", "--sms", "070-174 06 05"], env=env)
    assert result.exit_code == 0, result.output
    assert elks_gateway.requests[0]["form"]["to"] == "+46701740605"
    assert "status       sent" in result.stdout and "parts        1" in result.stdout
    assert ELKS_PASSWORD not in result.output and "elks://u0123456789abcdef:***@127.0.0.1" in result.stdout


def test_failure_shows_the_answer_and_raises_delivery_failed(elks_gateway: Gateway) -> None:
    elks_gateway.mode = "401"
    env = {**ENV_CLEAR, "PER_SMS_TRANSPORT": elks_gateway.url()}
    result = invoke(["test", "--sms", "+46701740605"], env=env)
    assert "status       failed" in result.stdout
    assert "error        gateway answered 401 Unauthorized: Requires authentication" in result.stdout
    assert isinstance(result.exception, DeliveryFailed) and result.exception.exit_code == 1


def test_config_file_section_from_ctx_obj(tmp_path: Path) -> None:
    app = App(config=Config(data={"transports": {"sms": f"file://{tmp_path}"}}, environ={}), actor="tester")
    result = invoke(["test", "--sms", "+46701740605"], obj=app, env=ENV_CLEAR)
    assert result.exit_code == 0, result.output
    assert len(list(tmp_path.glob("*.json"))) == 1


def test_bad_url_and_missing_transport() -> None:
    result = invoke(["test", "--sms", "+46701740605"], env={**ENV_CLEAR, "PER_SMS_TRANSPORT": "elks://u:p@h:x"})
    assert isinstance(result.exception, ConfigError)
    assert str(result.exception) == "PER_SMS_TRANSPORT: port: not a number"
    result = invoke(["test", "--email", "a@tolv.se"], env=ENV_CLEAR)
    assert isinstance(result.exception, ConfigError) and "no e-mail transport configured" in str(result.exception)


@pytest.mark.parametrize(("args", "hint"), [(["--sms", "12"], "--sms"), (["--email", "nobody"], "--email")])
def test_invalid_recipient_is_a_usage_error(args: list[str], hint: str) -> None:
    result = invoke(["test", *args], env={**ENV_CLEAR, "PER_SMS_TRANSPORT": "console://"})
    assert result.exit_code == 2 and hint in result.output


def test_through_the_root_command(tmp_path: Path, closed_port: int) -> None:
    from per_cli.cli import cli as root

    config = tmp_path / "per.toml"
    config.write_text(f'[transports]\nemail = "smtp://127.0.0.1:{closed_port}?security=none&from=per@tolv.se"\n')
    env = {**ENV_CLEAR, "PER_CONFIG": str(config), "HOME": str(tmp_path)}
    result = CliRunner().invoke(root, ["transport", "test", "--email", "tolvan@tolv.se"], env=env)
    assert result.exit_code == 1
    assert f"error        connection refused by 127.0.0.1:{closed_port}" in result.stdout
    assert f"test email to tolvan@tolv.se failed: connection refused by 127.0.0.1:{closed_port}" in result.stderr
