"""Technical logs (``-v``/``-vv``) never carry a personnummer, a password, a one-time code, a session token or a
credential: every flow runs as a subprocess with ``-vv`` and each technical log line is searched for each of them.

A technical log line is one written by the ``per`` logger (``per: LEVEL name: message``, see
``per_cli.cli._configure_logging``), on stderr or stdout. Data on stdout (a patient's record) and one-line
errors are not technical logs and may name the patient the user asked about.

To cover a new flow, append a ``Flow`` to ``FLOWS``: its arguments, optional stdin, the exit code it must give
and, if the flow reveals a secret (a session token on stdout, a password or code in the outbox), a function that
returns those secrets so they are searched for too.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.helpers.per import SAMORDNING, TOLVAN, Run, RunPer

DB_PASSWORD = "Db-Secret-4711"  # in the PostgreSQL URL; the local server trusts, so any password connects
LOG_LINE = re.compile(r"^per: (DEBUG|INFO|WARNING|ERROR|CRITICAL) ")


@dataclass
class Context:
    """What a flow may need: the outbox of the ``file://`` transports, the secrets seen so far, and values
    (a password, a session token) that later flows type in."""

    outbox: Path
    secrets: set[str] = field(default_factory=set)
    values: dict[str, str] = field(default_factory=dict)


def outbox_messages(ctx: Context) -> Iterator[dict[str, str]]:
    """Every message the ``file://`` transports wrote (for flows that send passwords or codes)."""
    for path in sorted(ctx.outbox.glob("**/*.json")):
        yield json.loads(path.read_text(encoding="utf-8"))


def printed(key: str) -> Callable[[Run, Context], Iterable[str]]:
    """For a flow run with ``--format json``: the value it printed under ``key`` (e.g. a session ``token``)."""

    def pick(run: Run, ctx: Context) -> Iterable[str]:
        value = json.loads(run.stdout).get(key) if run.stdout.strip() else None
        return [str(value)] if value else []

    return pick


@dataclass(frozen=True)
class Flow:
    name: str
    args: tuple[str, ...] | Callable[[Context], tuple[str, ...]]
    stdin: str | Callable[[Context], str] | None = None
    exit_code: int = 0
    #: secrets this flow revealed (on stdout, in the outbox …): they must not be in any technical log line
    secrets: Callable[[Run, Context], Iterable[str]] | None = None

    def argv(self, ctx: Context) -> tuple[str, ...]:
        return self.args(ctx) if callable(self.args) else self.args

    def input(self, ctx: Context) -> str | None:
        return self.stdin(ctx) if callable(self.stdin) else self.stdin


CAREGIVER_PASSWORD = "Vårdgivare-Lösen-2026"
NEW_PASSWORD = "Mitt-eget-nya-lösen-77"


def sent_password(run: Run, ctx: Context) -> Iterable[str]:
    """The password `password send` put in the SMS (``… PER: PASSWORD``), remembered for the login flows."""
    for message in outbox_messages(ctx):
        match = re.search(r"PER: (\S+)", message["body"]) if message["channel"] == "sms" else None
        if match:
            ctx.values["password"] = match.group(1)
    return [ctx.values["password"]]


def remember_token(run: Run, ctx: Context) -> Iterable[str]:
    token = json.loads(run.stdout)["token"]
    ctx.values["token"] = token
    return [token]


def otp_codes(run: Run, ctx: Context) -> Iterable[str]:
    """Every one-time code in the outbox (6 digits after the text) and the session token printed."""
    codes = [m for message in outbox_messages(ctx) for m in re.findall(r"\b\d{6}\b", message["body"])]
    return [*codes, *remember_token(run, ctx)]


def _flows() -> list[Flow]:
    return [
        Flow("unit add", ("unit", "add", "NEURO-SU", "--name", "Neurologi, Sahlgrenska")),
        Flow(
            "patient enrol",
            (
                "patient",
                "enrol",
                "19121212-1212",
                "--first-name",
                "Tolvan",
                "--last-name",
                "Tolvansson",
                "--unit",
                "NEURO-SU",
                "--mobile",
                "070-174 06 05",
                "--email",
                "tolvan.tolvansson@tolv.se",
            ),
        ),
        Flow(
            "patient enrol samordningsnummer",
            ("patient", "enrol", "701063-2391", "--first-name", "Sam", "--last-name", "Ordning", "--unit", "NEURO-SU"),
        ),
        Flow(
            "patient enrol again (conflict)",
            ("patient", "enrol", TOLVAN, "--first-name", "Tolvan", "--last-name", "Tolvansson", "--unit", "NEURO-SU"),
            exit_code=1,
        ),
        Flow("patient show, 10 digits", ("patient", "show", "1212121212")),
        Flow("patient show, with +", ("patient", "show", "121212+1212", "--format", "json")),
        Flow("patient show, not enrolled", ("patient", "show", "19800101-0019"), exit_code=1),
        Flow("patient show, bad check digit", ("patient", "show", "19800101-0018"), exit_code=1),
        Flow("patient list", ("patient", "list", "--format", "csv")),
        Flow(
            "patient edit-profile",
            ("patient", "edit-profile", TOLVAN, "--mobile", "+46701740606", "--contact-person", "relative"),
        ),
        Flow("patient exclude", ("patient", "exclude", SAMORDNING, "--reason", "Avböjer")),
        Flow("audit list", ("audit", "list", "--patient", TOLVAN, "--format", "json")),
        Flow("audit extract", ("audit", "extract", "19121212-1212", "--language", "en")),
        Flow("audit review", ("audit", "review", "--sample", "3", "--seed", "1")),
        Flow("audit verify", ("audit", "verify")),
        Flow(
            "password send",
            ("password", "send", TOLVAN, "--sms", "--email", "--contact-verified-by", "callback", "--format", "json"),
            secrets=sent_password,
        ),
        Flow(
            "login otp, wrong password",
            ("login", "otp", TOLVAN, "--password-stdin", "--code-from-outbox"),
            stdin="fel-lösenord-123\n",
            exit_code=4,
        ),
        Flow(
            "login otp",
            ("login", "otp", "1212121212", "--password-stdin", "--code-from-outbox", "--format", "json"),
            stdin=lambda ctx: ctx.values["password"] + "\n",
            secrets=otp_codes,
        ),
        Flow("session show", lambda ctx: ("session", "show", ctx.values["token"], "--format", "json")),
        Flow("session list", ("session", "list", "--patient", TOLVAN)),
        Flow(
            "registration new",
            lambda ctx: (
                "registration",
                "new",
                TOLVAN,
                "--scales",
                "MSIS-29,EQ-5D-5L",
                "--session",
                ctx.values["token"],
            ),
        ),
        Flow(
            "registration answer", ("registration", "answer", "1", "--scale", "EQ-5D-5L", "--answers", "1,2,3,4,5,80")
        ),
        Flow("registration show", ("registration", "show", "1", "--format", "json")),
        Flow("registration export", ("registration", "export", "--format", "csv")),
        Flow(
            "password change",
            lambda ctx: ("password", "change", TOLVAN, "--session", ctx.values["token"], "--password-stdin"),
            stdin=lambda ctx: f"{ctx.values['password']}\n{NEW_PASSWORD}\n{NEW_PASSWORD}\n",
            secrets=lambda run, ctx: [NEW_PASSWORD],
        ),
        Flow(
            "caregiver add",
            ("caregiver", "add", "anna", "--unit", "NEURO-SU", "--name", "Anna Berg", "--password-stdin"),
            stdin=CAREGIVER_PASSWORD + "\n",
            secrets=lambda run, ctx: [CAREGIVER_PASSWORD],
        ),
        Flow(
            "login proxy, wrong password",
            ("login", "proxy", TOLVAN, "--user", "anna", "--password-stdin"),
            stdin="inte-rätt-lösen-99\n",
            exit_code=4,
        ),
        Flow(
            "login proxy",
            ("login", "proxy", TOLVAN, "--user", "anna", "--password-stdin", "--format", "json"),
            stdin=CAREGIVER_PASSWORD + "\n",
            secrets=remember_token,
        ),
        Flow("login bankid", ("login", "bankid", TOLVAN, "--no-qr", "--format", "json"), secrets=remember_token),
        Flow("login bankid, excluded patient", ("login", "bankid", SAMORDNING, "--no-qr"), exit_code=4),
        Flow("session revoke", ("session", "revoke", "--patient", TOLVAN)),
        Flow("audit verify, at the end", ("audit", "verify")),
    ]


FLOWS = _flows()


def personnummer_forms(canonical: str) -> set[str]:
    """Every way a personnummer is typed or shown: 12 digits, YYYYMMDD-NNNN, 10 digits, YYMMDD-NNNN, YYMMDD+NNNN."""
    short = canonical[2:]
    return {
        canonical,
        f"{canonical[:8]}-{canonical[8:]}",
        short,
        f"{short[:6]}-{short[6:]}",
        f"{short[:6]}+{short[6:]}",
    }


def technical_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if LOG_LINE.match(line)]


@pytest.fixture
def verbose_env(env: dict[str, str], backend: str, tmp_path: Path) -> dict[str, str]:
    """The test environment plus a database password (PostgreSQL) and file transports with an outbox."""
    outbox = tmp_path / "outbox"
    outbox.mkdir()
    extra = {
        "PER_EMAIL_TRANSPORT": f"file://{outbox}",
        "PER_SMS_TRANSPORT": f"file://{outbox}",
        "PER_OTP_KEY": "k" * 64,
    }
    if backend == "postgresql":
        url = env["PER_DATABASE_URL"]
        extra["PER_DATABASE_URL"] = url.replace("postgres@", f"postgres:{DB_PASSWORD}@", 1)
        assert DB_PASSWORD in extra["PER_DATABASE_URL"]
    return extra


@pytest.fixture
def bankid_config(env: dict[str, str], tmp_path: Path) -> Iterator[None]:
    """A BankID stand-in over mutual TLS, in the config file with fast polling and no login slow-down."""
    from per_cli.bankid.simulator import Simulator

    sim = Simulator(state_dir=tmp_path / "bankid", polls=1)
    sim.start()
    section = "\n".join(f"{k} = {json.dumps(v)}" for k, v in sim.config_section().items())
    Path(env["PER_CONFIG"]).write_text(f"[login]\ndelay_ms = 0\n\n[bankid]\n{section}\npoll_interval = 0.05\n")
    yield
    sim.stop()


def test_verbose_logs_of_every_flow_hold_no_personnummer_and_no_secret(
    per_proc: RunPer, verbose_env: dict[str, str], tmp_path: Path, bankid_config: None
) -> None:
    ctx = Context(outbox=tmp_path / "outbox", secrets={DB_PASSWORD})
    forbidden_pnr = (
        personnummer_forms(TOLVAN)
        | personnummer_forms(SAMORDNING)
        | personnummer_forms("198001010019")
        | personnummer_forms("198001010018")
    )
    logged: list[tuple[str, str]] = []
    for flow in FLOWS:
        result = per_proc("-vv", *flow.argv(ctx), input=flow.input(ctx), extra_env=verbose_env)
        assert result.exit_code == flow.exit_code, (flow.name, result.stderr)
        if flow.secrets:
            ctx.secrets.update(s for s in flow.secrets(result, ctx) if s)
        logged += [(flow.name, line) for line in technical_lines(result.stderr + "\n" + result.stdout)]
    assert len({name for name, _ in logged}) == len(FLOWS), "-vv wrote no technical log line for some flow"
    leaks = [
        (name, line, value) for name, line in logged for value in sorted(forbidden_pnr | ctx.secrets) if value in line
    ]
    assert leaks == []


def test_the_search_would_find_a_leak() -> None:
    """The patterns are not vacuous: a line that does leak is caught, a harmless one is not."""
    text = "per: DEBUG per.x: looked up 121212-1212\nper: INFO per: database: postgresql+psycopg://postgres:***@h\n"
    lines = technical_lines(text + "Tolvan 19121212-1212 (data on stdout, not a log line)\n")
    assert len(lines) == 2
    hits = [line for line in lines for value in personnummer_forms(TOLVAN) if value in line]
    assert hits == [lines[0]]
