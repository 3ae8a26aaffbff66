"""``per login bankid`` against the real simulator over mutual TLS, on both backends.

The simulator logs every request it serves, so a test can tell that no order was started (no /auth) or that
Ctrl-C reached BankID as a /cancel. Collect runs every 0.01 s here (``[bankid] poll_interval``) unless a test
drives a fake clock.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import re
import signal
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from per_cli.bankid.client import BankIdClient, BankIdError, BankIdUnavailable
from per_cli.bankid.simulator import Simulator
from per_cli.cli.app import App
from per_cli.cli.qr import QrDisplay
from per_cli.config import load_config
from per_cli.errors import EXIT_DENIED, AuthDenied
from per_cli.login.bankid import BANKID_DENIED, login_bankid
from tests.helpers.bankid import FakeTime
from tests.helpers.per import PER, SAMORDNING, TOLVAN, RunPer, enrol_args

RFA1 = "Starta BankID-appen."
RFA9 = "Skriv in din säkerhetskod i BankID-appen och välj Identifiera eller Skriv under."
DENIED = f"Error: {BANKID_DENIED}"


@dataclass
class BankIdWorld:
    per: RunPer
    env: dict[str, str]
    db_url: str
    engine: Engine
    make_sim: Callable[..., Simulator]
    requests: list[str] = field(default_factory=list)
    sim: Simulator | None = None

    def start(self, *, language: str | None = None, poll_interval: float = 0.01, **kwargs: Any) -> Simulator:
        """A simulator that logs its requests, and a config file pointing at it."""
        self.sim = self.make_sim(log=self.requests.append, **kwargs)
        lines = [f"{k} = {json.dumps(v)}" for k, v in self.sim.config_section().items()]
        lines.append(f"poll_interval = {poll_interval}")
        if language:
            lines.append(f'language = "{language}"')
        Path(self.env["PER_CONFIG"]).write_text("[login]\ndelay_ms = 0\n\n[bankid]\n" + "\n".join(lines) + "\n")
        return self.sim

    def app(self) -> App:
        return App(config=load_config(self.env["PER_CONFIG"], self.env), actor="tester", database_url=self.db_url)

    def served(self, endpoint: str) -> list[str]:
        """The simulator's log lines for ``endpoint`` (``auth``, ``collect``, ``cancel``, ``phone/auth``)."""
        return [line for line in self.requests if f'"POST /rp/v6.0/{endpoint} HTTP' in line]

    def sql(self, statement: str, **params: Any) -> list[Any]:
        with self.engine.begin() as conn:
            result = conn.execute(text(statement), params)
            return list(result) if result.returns_rows else []

    def audit(self, action: str = "login.bankid") -> list[dict[str, Any]]:
        rows = self.sql("SELECT outcome, unit_code, details FROM audit_event WHERE action = :a ORDER BY id", a=action)
        return [{"outcome": r[0], "unit": r[1], "details": json.loads(r[2])} for r in rows]

    def sessions(self) -> list[Any]:
        return self.sql("SELECT method FROM login_session")


@pytest.fixture
def world(
    per: RunPer, env: dict[str, str], db_url: str, tolvan: str, make_sim: Callable[..., Simulator]
) -> Iterator[BankIdWorld]:
    from per_cli.db.engine import make_engine

    engine = make_engine(db_url)
    yield BankIdWorld(per=per, env=env, db_url=db_url, engine=engine, make_sim=make_sim)
    engine.dispose()


def blobs(pnr: str = TOLVAN) -> list[str]:
    """The simulator's signature and OCSP response for ``pnr`` (deterministic), and the digest inside both."""
    digest = hashlib.sha256(pnr.encode()).digest()
    signature = (
        f'<Signature xmlns="http://www.w3.org/2000/09/xmldsig#"><SignatureValue>{digest.hex()}'
        f"</SignatureValue><!-- per BankID simulator: not a real signature --></Signature>"
    )
    return [
        base64.b64encode(signature.encode()).decode(),
        base64.b64encode(b"per-bankid-simulator-ocsp:" + digest).decode(),
        digest.hex(),
    ]


# --- complete ---


def test_complete_gives_a_session_and_keeps_the_completion_in_the_audit_log(world: BankIdWorld) -> None:
    world.start()
    result = world.per("login", "bankid", TOLVAN, "--no-qr", "--format", "json")
    assert result.exit_code == 0, result.stderr
    record = json.loads(result.stdout)
    assert list(record) == ["token", "patient", "method", "expires_at", "must_change_password"]
    assert record["patient"] == "19121212-1212" and record["method"] == "bankid"
    assert re.search(
        r"^Open BankID on this computer: bankid:///\?autostarttoken=[0-9a-f-]{36}&redirect=null$", result.stderr, re.M
    )
    assert result.stderr.index(RFA1) < result.stderr.index(RFA9) < result.stderr.index("Logged in Tolvan")
    assert world.sessions() == [("bankid",)]
    (event,) = world.audit()
    assert event["outcome"] == "ok" and event["unit"] == "NEURO-SU"
    details = event["details"]
    assert "personal_number" not in details and "name" not in details  # the event names the patient already
    assert {k: details[k] for k in ("device_ip", "bankid_issue_date", "end_user_ip")} == {
        "device_ip": "127.0.0.1",
        "bankid_issue_date": "2024-06-10",
        "end_user_ip": "127.0.0.1",
    }
    assert re.fullmatch(r"[0-9a-f-]{36}", details["order_ref"]) and isinstance(details["session_id"], int)
    everything = result.stdout + result.stderr + json.dumps(world.sql("SELECT * FROM audit_event"), default=str)
    for blob in blobs():
        assert blob not in everything
    assert "signature" not in everything.lower() and "ocsp" not in everything.lower()
    assert len(world.served("auth")) == 1 and len(world.served("cancel")) == 0


def test_ten_digits_resolve_through_the_register_and_ipv6_end_user(world: BankIdWorld, per: RunPer) -> None:
    assert per(*enrol_args(SAMORDNING)).exit_code == 0
    world.start()
    result = world.per("-q", "login", "bankid", "1212121212", "--end-user-ip", "2001:DB8::1", "--format", "plain")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.split("\t")[1] == "19121212-1212"
    assert RFA1 not in result.stderr  # -q: no progress messages
    details = world.audit()[0]["details"]
    patient_id = world.sql("SELECT patient_id FROM audit_event WHERE action = 'login.bankid'")[0][0]
    assert world.sql("SELECT personnummer FROM patient WHERE id = :i", i=patient_id) == [("191212121212",)]
    assert details["end_user_ip"] == details["device_ip"] == "2001:db8::1"


def test_animated_qr_code_on_a_terminal_redrawn_every_second(world: BankIdWorld) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    world.start(poll_interval=2.0, polls=3)
    screen, clock = Terminal(), FakeTime()
    result = login_bankid(world.app(), TOLVAN, display=QrDisplay(screen), sleep=clock.sleep, clock=clock.clock)
    assert result.method == "bankid"
    out = screen.getvalue()
    # collects at 0, 2, 4 (userSign: the code goes) and 6 (complete); a new code every second until then
    frames = re.findall(r"(?:\x1b\[38;5;16;48;5;231m[^\n]*\x1b\[0m\n)+", out)
    assert len(frames) == 6 and len(set(frames)) == 5  # t=0 drawn again under the first message
    assert out.count("\x1b[J") == 5 + 1  # every redraw erases the previous one in place, and so does the hide
    assert out.rstrip("\n").endswith(RFA9)
    assert clock.now - 1000.0 == pytest.approx(6.0)


# --- refusals before any order ---


def test_unknown_patient_is_denied_and_no_order_is_started(world: BankIdWorld) -> None:
    world.start()
    result = world.per("login", "bankid", "200001012384", "--no-qr")
    assert result.exit_code == EXIT_DENIED
    assert result.stderr.strip() == DENIED
    assert world.audit()[0]["details"] == {"reason": "unknown_patient"}
    assert world.served("auth") == [] and world.sessions() == []


def test_excluded_patient_gets_the_same_answer_and_no_order(world: BankIdWorld, per: RunPer) -> None:
    assert per("patient", "exclude", TOLVAN).exit_code == 0
    world.start()
    result = world.per("login", "bankid", "1212121212", "--no-qr")
    assert result.exit_code == EXIT_DENIED
    assert result.stderr.strip() == DENIED
    (event,) = world.audit()
    assert event["outcome"] == "denied" and event["details"] == {"reason": "excluded"}
    assert world.served("auth") == []


def test_excluded_while_the_order_ran_is_denied_after_completion(world: BankIdWorld) -> None:
    world.start(poll_interval=2.0)
    clock = FakeTime()

    def sleep(seconds: float) -> None:  # staff exclude the patient while the patient holds the phone
        world.sql("UPDATE patient SET excluded_on = CURRENT_DATE WHERE personnummer = :p", p=TOLVAN)
        clock.sleep(seconds)

    with pytest.raises(AuthDenied, match="not enrolled, or excluded"):
        login_bankid(
            world.app(), TOLVAN, display=QrDisplay(io.StringIO(), animate_qr=False), sleep=sleep, clock=clock.clock
        )
    (event,) = world.audit()
    assert event["details"]["reason"] == "excluded" and "personal_number" not in event["details"]
    assert world.sessions() == []


def test_bad_input_is_refused_before_anything(world: BankIdWorld) -> None:
    world.start()
    bad_ip = world.per("login", "bankid", TOLVAN, "--end-user-ip", "localhost")
    assert bad_ip.exit_code == 2 and "not an IPv4 or IPv6 address" in bad_ip.stderr
    bad_pnr = world.per("login", "bankid", "191212121213", "--no-qr")
    assert bad_pnr.exit_code == 1 and "check digit" in bad_pnr.stderr
    Path(world.env["PER_CONFIG"]).write_text("")
    unconfigured = world.per("login", "bankid", TOLVAN, "--no-qr")
    assert unconfigured.exit_code == 1 and "bankid.base_url: missing" in unconfigured.stderr
    assert world.served("auth") == [] and world.audit() == []


# --- failed orders: exit 4 with BankID's recommended text ---


@pytest.mark.parametrize(
    ("scenario", "args", "language", "message"),
    [
        ("userCancel", ["--no-qr"], None, "Åtgärden avbröts."),
        ("expiredTransaction", ["--no-qr"], "en", "The BankID app is not responding."),
        ("certificateErr", ["--no-qr"], None, "Ditt BankID är för gammalt eller spärrat."),
        ("startFailed", [], None, "Misslyckades att läsa av QR-koden."),  # RFA17B: the QR code was shown
        ("startFailed", ["--no-qr"], "en", "You don't seem to have the BankID app/program."),  # RFA17A
        ("transactionRiskBlocked", ["--no-qr"], None, "Något gick fel. Försök igen."),  # unknown to us: RFA22
    ],
)
def test_failed_order_is_denied_with_the_recommended_message(
    world: BankIdWorld, scenario: str, args: list[str], language: str | None, message: str
) -> None:
    world.start(language=language, persons={TOLVAN: scenario})
    result = world.per("login", "bankid", TOLVAN, *args)
    assert result.exit_code == EXIT_DENIED, result.stderr
    assert f"Error: BankID login failed: {message}" in result.stderr
    assert result.stdout == "" and world.sessions() == []
    (event,) = world.audit()
    assert event["outcome"] == "denied"
    assert event["details"]["reason"] == "bankid_failed" and event["details"]["hint"] == scenario
    assert world.served("cancel") == []  # a failed order is over: nothing to cancel


def test_already_in_progress_is_denied_with_rfa4(world: BankIdWorld) -> None:
    world.start(persons={TOLVAN: "alreadyInProgress"})
    result = world.per("login", "bankid", TOLVAN, "--no-qr")
    assert result.exit_code == EXIT_DENIED
    assert "redan påbörjad" in result.stderr
    (event,) = world.audit()
    assert event["outcome"] == "denied" and event["details"]["reason"] == "already_in_progress"


# --- API faults: only maintenance is retried ---


def test_maintenance_is_retried(world: BankIdWorld, make_client: Callable[..., BankIdClient]) -> None:
    sim = world.start()
    sim.inject_error("maintenance", times=2)
    client = make_client(sim, retry_backoff=0.0)
    result = login_bankid(world.app(), TOLVAN, display=QrDisplay(io.StringIO(), animate_qr=False), client=client)
    assert result.method == "bankid"
    assert [" 503 " in line for line in world.served("auth")] == [True, True, False]


def test_maintenance_that_lasts_is_an_error(world: BankIdWorld, make_client: Callable[..., BankIdClient]) -> None:
    sim = world.start()
    sim.inject_error("maintenance", times=4)
    client = make_client(sim, retry_backoff=0.0, maintenance_retries=3)
    with pytest.raises(BankIdUnavailable, match="Något gick fel") as caught:
        login_bankid(world.app(), TOLVAN, display=QrDisplay(io.StringIO(), animate_qr=False), client=client)
    assert caught.value.exit_code == 1
    (event,) = world.audit()
    assert event["outcome"] == "error" and event["details"]["error"] == "maintenance"


def test_internal_error_is_exit_1_and_not_retried(world: BankIdWorld) -> None:
    sim = world.start()
    sim.inject_error("internalError")
    result = world.per("login", "bankid", TOLVAN, "--no-qr")
    assert result.exit_code == 1
    assert "Något gick fel. Försök igen. [BankID internalError (HTTP 500)" in result.stderr
    assert len(world.served("auth")) == 1
    (event,) = world.audit()
    assert event["outcome"] == "error"
    assert event["details"]["reason"] == "bankid_error" and event["details"]["http_status"] == 500


def test_collect_error_cancels_the_order(world: BankIdWorld) -> None:
    sim = world.start(poll_interval=0.05, polls=50)
    clock = FakeTime()

    def sleep(seconds: float) -> None:
        if not clock.sleeps:  # after the first collect, the next one fails
            sim.inject_error("invalidParameters")
        clock.sleep(seconds)

    with pytest.raises(BankIdError, match="invalidParameters") as caught:
        login_bankid(
            world.app(), TOLVAN, display=QrDisplay(io.StringIO(), animate_qr=False), sleep=sleep, clock=clock.clock
        )
    assert caught.value.exit_code == 1
    assert [" 400 " in line for line in world.served("collect")] == [False, True]
    assert len(world.served("cancel")) == 1 and " 200 " in world.served("cancel")[0]
    assert world.audit()[0]["outcome"] == "error"


# --- subprocesses: CI and Ctrl-C ---


def test_end_to_end_as_ci_runs_it(world: BankIdWorld, per_proc: RunPer) -> None:
    world.start()
    result = per_proc("login", "bankid", TOLVAN, "--no-qr", "--format", "json")
    assert result.exit_code == 0, result.stderr
    token = json.loads(result.stdout)["token"]
    shown = world.per("session", "show", token, "--format", "json")
    assert shown.exit_code == 0 and '"bankid"' in shown.stdout


def test_ctrl_c_cancels_the_order(world: BankIdWorld, env: dict[str, str]) -> None:
    world.start(poll_interval=0.05, polls=100_000)
    proc = subprocess.Popen(
        [PER, "login", "bankid", TOLVAN, "--no-qr"],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # a background job may inherit SIGINT ignored; the real Ctrl-C arrives at a foreground process
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        assert proc.stderr is not None
        seen = [proc.stderr.readline() for _ in range(2)]
        assert seen[1].strip() == RFA1, seen
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == EXIT_DENIED, err
    assert "Error: BankID login cancelled (Ctrl-C): Åtgärden avbröts." in err and "Traceback" not in err
    assert out == ""
    assert len(world.served("cancel")) == 1 and " 200 " in world.served("cancel")[0]
    (event,) = world.audit()
    assert event["details"]["reason"] == "interrupted" and "order_ref" in event["details"]


# --- a BankID login and the password; no BankID for the support desk (ID-växling) ---


def test_a_bankid_login_resets_the_password_failures_and_does_not_ask_for_a_password_change(
    world: BankIdWorld,
) -> None:
    from per_cli.credentials.passwords import Argon2Params, hash_password

    world.start()
    (patient_id,) = world.sql("SELECT id FROM patient WHERE personnummer = :p", p=TOLVAN)[0]
    world.sql(
        "INSERT INTO patient_credential (patient_id, password_hash, must_change, set_at, failed_logins, locked_until) "
        "VALUES (:i, :h, :m, CURRENT_TIMESTAMP, 7, NULL)",
        i=patient_id,
        h=hash_password("Tolvans-lösen", Argon2Params(time_cost=1, memory_kib=64)),
        m=True,
    )
    result = world.per("login", "bankid", TOLVAN, "--no-qr", "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["must_change_password"] is False
    assert "must be changed" not in result.stderr and "Warning" not in result.stderr
    assert world.sql("SELECT failed_logins, locked_until FROM patient_credential")[0] == (0, None)


def test_password_send_verify_caller_is_gone_and_says_why(world: BankIdWorld, tmp_path: Path) -> None:
    world.start()
    outbox = tmp_path / "outbox"
    extra = {"PER_EMAIL_TRANSPORT": f"file://{outbox}", "PER_SMS_TRANSPORT": f"file://{outbox}"}
    for args in (("--sms", "--verify-caller"), ("--verify-caller",)):
        result = world.per("password", "send", TOLVAN, *args, extra_env=extra)
        assert result.exit_code == 2, result.stderr
        (line,) = [ln for ln in result.stderr.splitlines() if ln.startswith("Error:")]
        assert "--verify-caller was removed" in line and "ID-växling" in line and "--contact-verified-by" in line
    assert "--verify-caller" not in world.per("password", "send", "--help").stdout
    assert not list(outbox.glob("*.json")) and world.served("phone/auth") == [] and world.served("auth") == []
    assert world.sql("SELECT count(*) FROM patient_credential")[0][0] == 0


def test_nothing_in_per_calls_phone_auth() -> None:
    """The simulator keeps /phone/auth for fidelity; no client code path reaches it."""
    import commands
    import per_cli

    callers = []
    for package in (per_cli, commands):
        folder = Path(str(package.__file__)).parent
        root = folder.parent
        for path in folder.rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            if "phone/auth" in text or "phone_auth" in text:
                callers.append(path.relative_to(root).as_posix())
    assert callers == ["per_cli/bankid/sim_http.py"]
