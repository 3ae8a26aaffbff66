"""The root's options after the subcommand too, "Did you mean …?" at every level, and TAB after every file, unit and
care giver option."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from click.shell_completion import CompletionItem, ShellComplete

from per_cli.cli import cli
from per_cli.cli.global_options import GLOBALS
from tests.helpers.per import RunPer


def _commands(command: click.Command = cli, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], click.Command]]:
    found = [(path, command)]
    if isinstance(command, click.Group):
        ctx = click.Context(command)
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            assert sub is not None
            found += _commands(sub, (*path, name))
    return found


def test_every_command_below_the_root_takes_the_global_options_unless_it_has_the_flag_itself() -> None:
    commands = _commands()[1:]
    assert len(commands) > 40
    for path, command in commands:
        own = {flag for p in command.params if not getattr(p, "hidden", False) for flag in p.opts}
        hidden = {flag for p in command.params if getattr(p, "hidden", False) for flag in p.opts}
        for decls, _ in GLOBALS.values():
            for flag in decls:
                assert flag in own or flag in hidden, (path, flag)
    audit_list = dict(commands)[("audit", "list")]
    assert [p.name for p in audit_list.params if "--actor" in p.opts] == ["actor"]  # its own filter stays


def test_quiet_after_the_command_silences_its_notes(per: RunPer, unit: str) -> None:
    loud = per("unit", "add", "NEURO-KS", "--name", "Karolinska")
    quiet = per("unit", "add", "NEURO-LU", "--name", "Lund", "-q")
    assert loud.exit_code == quiet.exit_code == 0
    assert "Added care unit NEURO-KS." in loud.stderr
    assert quiet.stderr == "" and "NEURO-LU" in quiet.stdout
    assert per("unit", "list", "--quiet", "--format", "json").stderr == ""


def test_a_value_that_looks_like_a_flag_stays_the_value(per: RunPer, unit: str) -> None:
    result = per("patient", "enrol", "191212121212", "--first-name", "Åsa", "--last-name", "Öberg", "--unit", unit,
                 "--comment", "-q", "--format", "json")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["comment"] == "-q"
    assert "Enrolled Åsa Öberg" in result.stderr


def test_database_after_the_command_wins(per: RunPer, unit: str, tmp_path: Path) -> None:
    (tmp_path / "other.db").touch(mode=0o600)
    other = f"sqlite:///{tmp_path / 'other.db'}"
    assert [u["code"] for u in json.loads(per("unit", "list", "--format", "json").stdout)] == [unit]
    elsewhere = per("unit", "list", "--format", "json", "--database", other)
    assert elsewhere.exit_code == 0, elsewhere.stderr
    assert json.loads(elsewhere.stdout) == []


def test_config_after_the_command_is_read_and_a_missing_one_named(per: RunPer, tmp_path: Path) -> None:
    missing = per("unit", "list", "--config", str(tmp_path / "nope.toml"))
    assert missing.exit_code == 1
    assert missing.stderr.strip().splitlines()[-1].startswith("Error: --config: no such file:")
    broken = tmp_path / "broken.toml"
    broken.write_text("[database\n")
    result = per("unit", "list", "--config", str(broken))
    assert result.exit_code == 1 and "not valid TOML" in result.stderr


def test_actor_after_the_command_is_the_actor_before_it(per: RunPer, tolvan: str, backend: str) -> None:
    assert per("--actor", "anna.lind", "patient", "show", tolvan).exit_code == 0
    assert per("patient", "show", tolvan, "--actor", "anna.lind").exit_code == 0
    events = json.loads(per("audit", "list", "--action", "patient.show", "--format", "json").stdout)
    assert len(events) == 2
    assert events[0]["actor"] == events[1]["actor"]
    if backend == "sqlite":
        assert events[0]["actor"] == "anna.lind"


def test_verbose_after_the_command_shows_technical_logs(per: RunPer, unit: str) -> None:
    assert "per: DEBUG" not in per("unit", "list").stderr
    assert "per: DEBUG" in per("unit", "list", "-vv").stderr
    assert "per: DEBUG" in per("-v", "unit", "list", "-v").stderr  # counts add up


@pytest.mark.parametrize(
    ("args", "suggestion"),
    [
        (["patinet"], "Did you mean 'patient'?"),
        (["regstration", "list"], "Did you mean 'registration'?"),
        (["patient", "enrl"], "Did you mean 'enrol'?"),
        (["login", "prox"], "Did you mean 'proxy'?"),
        (["bankid", "simulatr"], "Did you mean 'simulator'?"),
    ],
)
def test_a_mistyped_command_gets_a_suggestion_at_every_level(args: list[str], suggestion: str) -> None:
    from click.testing import CliRunner

    result = CliRunner().invoke(cli, args, prog_name="per")
    assert result.exit_code == 2
    assert suggestion in result.stderr


# --- TAB ---


def _complete(args: list[str], incomplete: str) -> list[CompletionItem]:
    return ShellComplete(cli, {}, "per", "_PER_COMPLETE").get_completions(args, incomplete)


def _values(args: list[str], incomplete: str) -> list[str]:
    return [item.value for item in _complete(args, incomplete)]


def test_every_file_option_completes_file_names() -> None:
    file_options = [
        (path, param)
        for path, command in _commands()
        for param in command.params
        if isinstance(param, click.Option)
        and not param.hidden
        and ("FILE" in (param.metavar or "") or param.name in ("file", "rejects", "output"))
    ]
    named = {(" ".join(path), max(p.opts, key=len)) for path, p in file_options}
    assert {("patient enrol", "--file"), ("patient enrol", "--rejects"), ("password send", "--file")} <= named
    ctx = click.Context(cli)
    for path, param in file_options:
        items = param.type.shell_complete(ctx, param, "pat")
        assert [(i.type, i.value) for i in items] == [("file", "pat")], (path, param.opts)


def test_file_names_through_the_whole_program() -> None:
    assert [(i.type, i.value) for i in _complete(["patient", "enrol", "--file"], "pa")] == [("file", "pa")]
    assert [(i.type, i.value) for i in _complete(["patient", "enrol", "--rejects"], "")] == [("file", "")]


def test_unit_codes_and_user_names_come_from_the_database(
    per: RunPer, unit: str, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert per("unit", "add", "NEURO-KS", "--name", "Karolinska").exit_code == 0
    assert per("unit", "add", "ORTO-SU", "--name", "Ortopedi").exit_code == 0
    assert per("caregiver", "add", "anna.lind", "--unit", unit, "--generate-password").exit_code == 0
    assert per("caregiver", "add", "arne.ek", "--unit", "ORTO-SU", "--generate-password").exit_code == 0
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert _values(["patient", "enrol", "--unit"], "neu") == ["NEURO-KS", "NEURO-SU"]
    assert _values(["caregiver", "list", "--unit"], "") == ["NEURO-KS", "NEURO-SU", "ORTO-SU"]
    assert _values(["registration", "export", "--unit"], "O") == ["ORTO-SU"]
    items = _complete(["login", "proxy", "191212121212", "--user"], "a")
    assert [(i.value, i.help) for i in items] == [("anna.lind", "NEURO-SU"), ("arne.ek", "ORTO-SU")]
    assert _values(["caregiver", "disable"], "ar") == ["arne.ek"]
    assert _values(["patient", "list", "--unit"], "X%") == []


def test_completion_reads_the_database_named_after_the_command_and_creates_none(
    per: RunPer, unit: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PER_DATABASE_URL", raising=False)
    monkeypatch.setenv("PER_CONFIG", str(tmp_path / "per.toml"))
    (tmp_path / "per.toml").write_text("")
    other = tmp_path / "other.db"
    other.touch(mode=0o600)
    per("--database", f"sqlite:///{other}", "unit", "add", "ORE-1", "--name", "Örebro")
    assert _values(["patient", "list", "--database", f"sqlite:///{other}", "--unit"], "") == ["ORE-1"]
    assert _values(["--database", f"sqlite:///{other}", "patient", "list", "--unit"], "o") == ["ORE-1"]
    missing = tmp_path / "typo" / "per.db"
    assert _values(["patient", "list", "--database", f"sqlite:///{missing}", "--unit"], "") == []
    assert not missing.parent.exists()
