"""``-q``: every command that writes notes, warnings, rejected rows, progress or BankID lines on stderr then writes
only its errors there, and the same stdout.

Each case runs twice, each time in a fresh world built the same way (SQLite, file:// outbox): once as it is, once
with ``-q``. The first run shows that the case writes more than errors on stderr today; the second that ``-q``
leaves exactly the error lines and changes nothing on stdout (tokens and times masked: they differ between worlds).
"""

from __future__ import annotations

import io
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from per_cli.bankid.simulator import Simulator
from tests.helpers.enrolment_rows import write_csv
from tests.helpers.per import PER, TOLVAN, Run

OTHER = "200001012384"
PASSWORD = "Tolvans-första-lösen"
NEW_PASSWORD = "Tolvans-andra-lösen"
CG_PASSWORD = "vårdgivarens-eget-lösen"
_TOKEN = re.compile(r"(?<![\w-])[A-Za-z0-9_-]{43}(?![\w-])")
_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?")


def masked(text: str) -> str:
    return _TIME.sub("<time>", _TOKEN.sub("<token>", text))


@dataclass
class Sandbox:
    """One fresh SQLite database and config: a unit, Tolvan enrolled with a password, a care giver."""

    dir: Path
    config: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def env(self) -> dict[str, str]:
        return {
            "PER_DATABASE_URL": f"sqlite:///{self.dir / 'per.db'}",
            "PER_CONFIG": str(self.dir / "per.toml"),
            "PER_ACTOR": "tester",
            "HOME": str(self.dir),
            "PER_SMS_TRANSPORT": "",
            "PER_EMAIL_TRANSPORT": "",
        }

    def configure(self, **sections: dict[str, Any]) -> None:
        for name, values in sections.items():
            self.config.setdefault(name, {}).update(values)
        lines = []
        for name, values in self.config.items():
            lines.append(f"[{name}]")
            lines += [f"{key} = {json.dumps(value, ensure_ascii=False)}" for key, value in values.items()]
        (self.dir / "per.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")

    def per(self, *args: str, input: str | None = None, extra_env: dict[str, str] | None = None) -> Run:
        from per_cli.cli import cli

        result = CliRunner().invoke(
            cli, list(args), input=input, env={**self.env, **(extra_env or {})}, prog_name="per", catch_exceptions=False
        )
        return Run(result.exit_code, result.stdout, result.stderr)

    def ok(self, *args: str, input: str | None = None) -> Run:
        result = self.per(*args, input=input)
        assert result.exit_code == 0, (args, result.stderr)
        return result

    def build(self) -> None:
        outbox = f"file://{self.dir / 'outbox'}"
        self.configure(
            passwords={"argon2_time_cost": 1, "argon2_memory_kib": 64},
            login={"delay_ms": 0},
            otp={"key": "k" * 40},
            transports={"sms": outbox, "email": outbox},
        )
        self.ok("db", "upgrade")  # creates the database (a path that does not exist is refused elsewhere)
        self.ok("unit", "add", "NEURO-SU", "--name", "Neurologi, Sahlgrenska")
        self.ok(
            "patient", "enrol", TOLVAN, "--first-name", "Tolvan", "--last-name", "Tolvansson", "--unit", "NEURO-SU",
            "--mobile", "070-174 06 05", "--email", "tolvan.tolvansson@tolv.se",
        )  # fmt: skip
        self.ok("caregiver", "add", "anna.lind", "--unit", "NEURO-SU", "--password-stdin", input=CG_PASSWORD + "\n")
        from per_cli.credentials.passwords import Argon2Params, hash_password

        digest = hash_password(PASSWORD, Argon2Params(time_cost=1, memory_kib=64))
        with sqlite3.connect(self.dir / "per.db") as conn:
            conn.execute(
                "INSERT INTO patient_credential (patient_id, password_hash, must_change, set_at, failed_logins) "
                "SELECT id, ?, 1, CURRENT_TIMESTAMP, 0 FROM patient WHERE personnummer = ?",
                (digest, TOLVAN),
            )


Setup = Callable[[Sandbox], dict[str, str]]


def _nothing(world: Sandbox) -> dict[str, str]:
    return {}


def _rows_to_enrol(world: Sandbox) -> dict[str, str]:
    (world.dir / "patienter.csv").write_text(
        "personnummer;förnamn;efternamn\n200001012384;Anna;Andersson\n191212121213;Fel;Siffra\n", encoding="utf-8"
    )
    return {}


def _list_to_send(world: Sandbox) -> dict[str, str]:
    (world.dir / "lista.txt").write_text(f"{TOLVAN}\n19121212-1213\n", encoding="utf-8")
    return {}


def _long_sms(world: Sandbox) -> dict[str, str]:
    world.configure(messages={"password_sms": "Ditt lösenord: {password}. " + "Välkommen till PER! " * 8})
    return {}


def _logged_in(world: Sandbox) -> dict[str, str]:
    login = world.ok("login", "otp", TOLVAN, "--password-stdin", "--code-from-outbox", "--format", "json",
                     input=PASSWORD + "\n")  # fmt: skip
    return {"PER_SESSION": json.loads(login.stdout)["token"]}


def _registered(world: Sandbox) -> dict[str, str]:
    world.ok("registration", "new", TOLVAN, "--scales", "EQ-5D-5L")
    return {}


@dataclass(frozen=True)
class Case:
    args: tuple[str, ...]
    setup: Setup = _nothing
    input: str | None = None

    def argv(self, world: Sandbox) -> list[str]:
        return [arg.format(dir=world.dir) for arg in self.args]


CASES = {
    "unit add": Case(("unit", "add", "NEURO-KS", "--name", "Neurologi, Karolinska")),
    "patient enrol (a landline as mobile)": Case(
        (
            "patient",
            "enrol",
            OTHER,
            *("--first-name", "Anna", "--last-name", "Andersson", "--unit", "NEURO-SU"),
            "--mobile",
            "08-123 456 78",
        )
    ),
    "patient enrol --file (a rejected row, dry run)": Case(
        ("patient", "enrol", "--file", "{dir}/patienter.csv", "--unit", "NEURO-SU", "--dry-run"), _rows_to_enrol
    ),
    "patient edit-profile": Case(("patient", "edit-profile", TOLVAN, "--pal", "Dr. Berg")),
    "patient exclude": Case(("patient", "exclude", TOLVAN, "--reason", "Avböjer")),
    "caregiver add": Case(
        ("caregiver", "add", "bo.berg", "--unit", "NEURO-SU", "--password-stdin"), input=CG_PASSWORD + "\n"
    ),
    "caregiver set-password": Case(
        ("caregiver", "set-password", "anna.lind", "--password-stdin"), input="ett-helt-nytt-lösen\n"
    ),
    "caregiver disable": Case(("caregiver", "disable", "anna.lind")),
    "session revoke": Case(("session", "revoke", "--patient", TOLVAN)),
    "password send (an SMS of two segments)": Case(("password", "send", TOLVAN, "--sms"), _long_sms),
    "password send --file (a rejected row)": Case(
        ("password", "send", "--file", "{dir}/lista.txt", "--email"), _list_to_send
    ),
    "password change": Case(
        ("password", "change", TOLVAN, "--password-stdin"), _logged_in, f"{PASSWORD}\n{NEW_PASSWORD}\n{NEW_PASSWORD}\n"
    ),
    "login otp": Case(("login", "otp", TOLVAN, "--password-stdin", "--code-from-outbox"), input=PASSWORD + "\n"),
    "login proxy": Case(
        ("login", "proxy", TOLVAN, "--user", "anna.lind", "--password-stdin"), input=CG_PASSWORD + "\n"
    ),
    "login bankid --no-qr": Case(("login", "bankid", TOLVAN, "--no-qr")),
    "registration new": Case(("registration", "new", TOLVAN, "--scales", "EQ-5D-5L")),
    "registration answer": Case(
        ("registration", "answer", "1", "--scale", "EQ-5D-5L", "--answers", "1,1,2,1,1,85"), _registered
    ),
    "registration list (none)": Case(("registration", "list", TOLVAN)),
    "registration export": Case(("registration", "export"), _registered),
    "audit review": Case(("audit", "review", "--seed", "7")),
}


@pytest.fixture
def simulator(make_sim: Callable[..., Simulator]) -> Simulator:
    return make_sim(polls=1)


def _world(path: Path, case: Case, sim: Simulator) -> tuple[Sandbox, dict[str, str]]:
    path.mkdir()
    world = Sandbox(path)
    world.build()
    world.configure(bankid={**sim.config_section(), "poll_interval": 0.01})
    return world, case.setup(world)


@pytest.mark.parametrize("name", list(CASES))
def test_quiet_leaves_only_errors_on_stderr_and_stdout_unchanged(
    tmp_path: Path, simulator: Simulator, name: str
) -> None:
    case = CASES[name]
    loud, loud_env = _world(tmp_path / "loud", case, simulator)
    quiet, quiet_env = _world(tmp_path / "quiet", case, simulator)
    said = loud.per(*case.argv(loud), input=case.input, extra_env=loud_env)
    hushed = quiet.per("-q", *case.argv(quiet), input=case.input, extra_env=quiet_env)
    errors = "".join(line for line in said.stderr.splitlines(keepends=True) if line.startswith("Error: "))
    assert said.stderr.strip() and said.stderr != errors, "the case must write more than errors without -q"
    assert hushed.stderr == errors
    assert hushed.exit_code == said.exit_code
    assert masked(hushed.stdout) == masked(said.stdout)


def test_quiet_draws_no_progress_on_a_terminal(tmp_path: Path) -> None:
    import pty

    world = Sandbox(tmp_path)
    world.build()
    world.configure(enrolment={"chunk_size": 100})
    path = write_csv(tmp_path / "p.csv", 300)
    primary, secondary = pty.openpty()
    proc = subprocess.Popen(
        [PER, "-q", "patient", "enrol", "--file", str(path), "--unit", "NEURO-SU", "--format", "json"],
        env={**os.environ, **world.env}, stdout=subprocess.PIPE, stderr=secondary,
    )  # fmt: skip
    os.close(secondary)
    written = b""
    while True:
        try:
            data = os.read(primary, 4096)
        except OSError:
            break
        if not data:
            break
        written += data
    out, _ = proc.communicate(timeout=120)
    os.close(primary)
    assert proc.returncode == 0
    assert json.loads(out)["created"] == 300
    assert written == b""


def test_quiet_bankid_display_draws_nothing_even_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    from per_cli.bankid.qr import qr_data
    from per_cli.cli.app import App
    from per_cli.config import Config

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    for verbosity, drawn in ((0, True), (-1, False)):
        screen = Terminal()
        monkeypatch.setattr(sys, "stderr", screen)
        display = App(config=Config(environ={}), actor="tester", verbosity=verbosity).order_display(qr=True)
        display.started("bankid:///?autostarttoken=x")
        display.qr(qr_data("token", "secret", 0))
        display.message("Starta BankID-appen.")
        display.qr_done()
        assert bool(screen.getvalue()) is drawn
        assert ("Starta BankID-appen." in screen.getvalue()) is drawn


def test_quiet_bankid_simulator_names_no_config_file(tmp_path: Path) -> None:
    env = {**os.environ, "PER_CONFIG": str(tmp_path / "per.toml"), "HOME": str(tmp_path)}
    (tmp_path / "per.toml").write_text("")
    proc = subprocess.Popen(
        [PER, "-q", "bankid", "simulator", "--state-dir", str(tmp_path / "state"), "--log-requests"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert re.fullmatch(r"listening on https://127\.0\.0\.1:\d+/rp/v6\.0/\n", line), line
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
    finally:
        proc.kill()
    assert (proc.returncode, out, err) == (0, "", "")
