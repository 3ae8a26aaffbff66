"""``per login otp`` and ``per login proxy`` end to end: real database, real file:// outbox, real config."""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.helpers.per import SAMORDNING, TOLVAN, Run, RunPer, enrol_args
from tests.helpers.world import CAREGIVER, CG_PASSWORD, DENIED, EMAIL, MOBILE, PASSWORD, World

# --- password + one-time code ---


def test_one_step_login_with_the_code_from_the_outbox(world: World, actor: str) -> None:
    result = world.login("1212121212")  # 10 digits, as the patient guide says to type it
    assert result.exit_code == 0, result.stderr
    record = json.loads(result.stdout)
    assert list(record) == ["token", "patient", "method", "expires_at", "must_change_password"]
    assert record["patient"] == "19121212-1212" and record["method"] == "otp"
    assert record["must_change_password"] is True
    assert len(record["token"]) >= 43  # 256 bits, URL-safe base64
    assert "per password change" in result.stderr
    # the code went to both channels on the profile; no message names the patient's personnummer
    sent = world.messages()
    assert sorted((m["channel"], m["to"]) for m in sent) == [("email", EMAIL), ("sms", MOBILE)]
    for message in sent:
        assert TOLVAN not in message["body"] and "121212-1212" not in message["body"]
        assert "1212121212" not in message["body"]
    # stored: the token's digest and the code's keyed hash, never the secrets themselves
    code = world.last_code()
    (digest,) = world.sql("SELECT token_hash FROM login_session")[0]
    assert digest == hashlib.sha256(record["token"].encode()).hexdigest()
    cid, code_hash, consumed = world.sql("SELECT id, code_hash, consumed_at FROM otp_challenge")[0]
    key = world.key_file.read_text().strip().encode()
    assert code_hash == hmac.new(key, f"{cid}:{code}".encode(), hashlib.sha256).hexdigest()
    assert consumed is not None
    events = world.audit("login.otp")
    assert [(e["outcome"], e["details"]["step"]) for e in events] == [("code_sent", "password"), ("ok", "code")]
    assert events[1]["unit"] == "NEURO-SU" and events[1]["actor"] == actor
    dump = json.dumps(world.sql("SELECT details FROM audit_event"), default=str)
    for secret in (PASSWORD, code, record["token"]):
        assert secret not in dump


def test_two_steps_and_a_code_is_single_use(world: World) -> None:
    challenge = world.send_only()
    code = world.last_code()
    ok = world.per("login", "otp", "--challenge", challenge, "--code", code, "--format", "json")
    assert ok.exit_code == 0, ok.stderr
    assert json.loads(ok.stdout)["patient"] == "19121212-1212"
    again = world.per("login", "otp", "--challenge", challenge, "--code", code)
    assert again.exit_code == 4
    assert "already used" in again.stderr
    assert world.reasons()[-1] == "code_used"
    assert len(world.sql("SELECT id FROM login_session")) == 1


def test_send_only_prints_the_challenge_first_for_scripts(world: World) -> None:
    result = world.per(
        "-q",
        "login",
        "otp",
        TOLVAN,
        "--password-stdin",
        "--send-only",
        "--channel",
        "email",
        "--format",
        "plain",
        input=PASSWORD + "\n",
    )
    assert result.exit_code == 0, result.stderr
    challenge = result.stdout.split("\t")[0]
    assert len(challenge) == 32 and result.stderr == ""
    assert [m["channel"] for m in world.messages()] == ["email"]
    done = world.per("login", "otp", "--challenge", challenge, "--code-from-outbox", "--format", "json")
    assert done.exit_code == 0, done.stderr


class Typist(io.RawIOBase):
    """Stdin that produces each line only when the program reads it: the code exists only after the send."""

    def __init__(self, *lines: str | Callable[[], str]) -> None:
        self.lines = list(lines)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if not self.lines:
            return 0
        line = self.lines.pop(0)
        data = ((line() if callable(line) else line) + "\n").encode()
        buffer[: len(data)] = data
        return len(data)


def test_the_code_at_the_prompt_with_a_retry_after_a_typo_and_a_wrong_code(world: World) -> None:
    wrong = "000000"
    stdin = io.BufferedReader(Typist(PASSWORD, "12ab", wrong, world.last_code))
    result = world.per("login", "otp", TOLVAN, "--password-stdin", "--format", "json", input=stdin)
    if world.last_code() == wrong:  # one chance in a million
        pytest.skip("the random code happened to be the wrong one")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["method"] == "otp"
    assert "a one-time code is 6 digits" in result.stderr and "wrong one-time code (4 tries left)" in result.stderr
    assert world.reasons() == ["wrong_code"]


def test_every_refusal_reads_the_same_and_the_audit_log_knows_why(world: World) -> None:
    def refused(pnr: str, password: str, case: str) -> None:
        result = world.per("login", "otp", pnr, "--password-stdin", "--code-from-outbox", input=password + "\n")
        assert result.exit_code == 4, case
        assert result.stderr.strip().splitlines()[-1] == DENIED, case
        assert result.stdout == "" and world.messages() == [], case
        event = world.audit("login.otp")[-1]
        assert event["outcome"] == "denied" and event["details"]["reason"] == case
        assert (event["patient_id"] is None) == (case == "unknown_patient"), case

    refused(TOLVAN, "not-the-password", "wrong_password")
    refused(SAMORDNING, PASSWORD, "unknown_patient")
    world.sql("UPDATE patient_credential SET locked_until = :t", t=datetime.now(UTC) + timedelta(minutes=5))
    refused(TOLVAN, PASSWORD, "locked")
    world.sql("DELETE FROM patient_credential")
    refused(TOLVAN, PASSWORD, "no_password")
    world.set_password()
    assert world.per("patient", "exclude", TOLVAN, "--reason", "test").exit_code == 0
    refused(TOLVAN, PASSWORD, "excluded")


def test_wrong_passwords_slow_down_then_lock_and_a_new_code_never_resets(world: World) -> None:
    """The slow-down is stored (``not_before``), not slept: a try before it is refused at once, uncompared."""
    world.configure(
        {"login": {"slow_after": 2, "delay_ms": 50_000, "max_delay_ms": 300_000, "lock_after": 4, "lock_minutes": 15}}
    )

    def attempt(password: str) -> Run:
        return world.per("login", "otp", TOLVAN, "--password-stdin", "--send-only", input=password + "\n")

    def state() -> tuple[int, bool, bool]:
        failed, not_before, locked_until = world.sql(
            "SELECT failed_logins, not_before, locked_until FROM patient_credential"
        )[0]
        return failed, not_before is not None, locked_until is not None

    def open_again() -> None:
        past = datetime.now(UTC) - timedelta(seconds=1)
        world.sql("UPDATE patient_credential SET not_before = :t WHERE not_before IS NOT NULL", t=past)

    assert attempt("wrong-1").exit_code == 4 and state() == (1, False, False)
    assert attempt("wrong-2").exit_code == 4 and state() == (2, True, False)
    too_soon = attempt(PASSWORD)  # the right password, but too soon: refused without comparing
    assert too_soon.exit_code == 4
    assert re.fullmatch(r"Error: login denied: too many failed attempts; try again in (49|50) s\n", too_soon.stderr)
    assert state() == (2, True, False)
    open_again()
    assert attempt(PASSWORD).exit_code == 0  # asking for a new code does not reset the count ...
    assert state() == (2, False, False)  # (the right password took back its own try)
    challenge = world.sql("SELECT id FROM otp_challenge WHERE consumed_at IS NULL AND superseded_at IS NULL")[0][0]
    assert world.per("login", "otp", "--challenge", challenge, "--code", "000000").exit_code == 4  # 3 failures
    assert state() == (3, True, False)
    soon = world.per("login", "otp", "--challenge", challenge, "--code", "000001")
    assert soon.exit_code == 4 and "try again in" in soon.stderr and state() == (3, True, False)
    open_again()
    wrong = world.per("login", "otp", "--challenge", challenge, "--code", "000001")  # 4: locked
    assert wrong.exit_code == 4 and "locked" in wrong.stderr and state() == (4, True, True)
    open_again()
    assert attempt(PASSWORD).exit_code == 4  # ... and the right password is refused while locked
    assert world.reasons() == [
        "wrong_password", "wrong_password", "too_soon", "wrong_code", "too_soon", "wrong_code", "locked"
    ]  # fmt: skip
    assert world.sql("SELECT attempts FROM otp_challenge WHERE id = :c", c=challenge)[0][0] == 2
    # the lock expires; a completed login resets the count
    world.sql("UPDATE patient_credential SET locked_until = :t", t=datetime.now(UTC) - timedelta(seconds=1))
    assert world.login().exit_code == 0
    assert state() == (0, False, False)


def test_five_tries_per_code(world: World) -> None:
    challenge = world.send_only()
    code = world.last_code()
    for n in range(5):
        wrong = f"{(int(code) + 1 + n) % 1_000_000:06d}"
        result = world.per("login", "otp", "--challenge", challenge, "--code", wrong)
        assert result.exit_code == 4
    assert "no tries left" in result.stderr
    result = world.per("login", "otp", "--challenge", challenge, "--code", code)
    assert result.exit_code == 4
    assert world.reasons()[-1] == "too_many_attempts"
    assert world.sql("SELECT attempts FROM otp_challenge")[0][0] == 5


def test_a_new_code_replaces_the_previous_one(world: World) -> None:
    first = world.send_only()
    first_code = world.last_code()
    second = world.send_only()
    old = world.per("login", "otp", "--challenge", first, "--code", first_code)
    assert old.exit_code == 4 and world.reasons()[-1] == "code_replaced"
    new = world.per("login", "otp", "--challenge", second, "--code", world.last_code())
    assert new.exit_code == 0, new.stderr
    assert world.audit("login.otp")[1]["details"]["replaced"] == 1


def test_an_expired_code_is_refused(world: World) -> None:
    challenge = world.send_only()
    world.sql("UPDATE otp_challenge SET expires_at = :t", t=datetime.now(UTC) - timedelta(seconds=1))
    result = world.per("login", "otp", "--challenge", challenge, "--code", world.last_code())
    assert result.exit_code == 4 and world.reasons()[-1] == "code_expired"


def test_eight_digit_codes_english_texts_and_the_origin_line(world: World) -> None:
    world.configure(
        {"otp": {"digits": 8, "ttl_seconds": 120}, "messages": {"language": "en", "otp_origin": "per.example.se"}}
    )
    result = world.login(TOLVAN, PASSWORD, "--channel", "sms")
    assert result.exit_code == 0, result.stderr
    body = world.messages()[-1]["body"]
    code = world.last_code()
    assert len(code) == 8 and body.startswith(f"Your one-time code for PER is {code}. It is valid for 2 minutes")
    assert body.splitlines()[-1] == f"@per.example.se #{code}"


def test_a_channel_without_a_usable_contact_is_refused_before_anything_changes(world: World) -> None:
    for mobile, email, channel, message in [
        (None, EMAIL, "sms", "no mobile number"),
        ("08-123 456 78", EMAIL, "sms", "not a mobile number"),
        ("070-174 06 05", None, "email", "no e-mail address"),
        ("070-174 06 05", None, "all", "no e-mail address"),
        (None, None, None, "no mobile number or e-mail address"),
    ]:
        args = ["patient", "edit-profile", TOLVAN]
        args += ["--mobile", mobile] if mobile else ["--no-mobile"]
        args += ["--email", email] if email else ["--no-email"]
        assert world.per(*args).exit_code == 0
        extra = ["--channel", channel] if channel else []
        result = world.per("login", "otp", TOLVAN, "--password-stdin", *extra, input=PASSWORD + "\n")
        assert result.exit_code == 1 and message in result.stderr, (mobile, email, channel)
        assert world.messages() == [] and world.sql("SELECT id FROM otp_challenge") == []
        event = world.audit("login.otp")[-1]
        assert event["outcome"] == "error" and event["details"]["reason"] == "no_usable_contact"


def test_default_channels_skip_a_landline_with_a_warning(world: World) -> None:
    assert world.per("patient", "edit-profile", TOLVAN, "--mobile", "08-123 456 78").exit_code == 0
    result = world.login()
    assert result.exit_code == 0, result.stderr
    assert "not a mobile number" in result.stderr
    assert [m["channel"] for m in world.messages()] == ["email"]


def test_code_from_outbox_is_refused_with_any_other_transport(world: World) -> None:
    world.configure(sms="console://")
    result = world.per(
        "login", "otp", TOLVAN, "--password-stdin", "--channel", "sms", "--code-from-outbox", input=PASSWORD + "\n"
    )
    assert result.exit_code == 1
    assert "--code-from-outbox: needs the file:// transport" in result.stderr
    assert "engångskod" not in result.stderr  # nothing was sent to the console
    assert world.sql("SELECT id FROM otp_challenge") == []


def test_no_channel_delivers_then_nothing_is_stored_and_exit_1(world: World) -> None:
    blocker = world.tmp / "not-a-dir"
    blocker.write_text("a file where the outbox directory should be")
    world.configure(sms=f"file://{blocker}", email=f"file://{blocker}")
    result = world.per("login", "otp", TOLVAN, "--password-stdin", input=PASSWORD + "\n")
    assert result.exit_code == 1 and "no code could be sent" in result.stderr
    assert world.sql("SELECT id FROM otp_challenge") == []
    assert world.reasons()[-1] == "delivery_failed"


def test_one_channel_failing_still_logs_in_and_says_which(world: World) -> None:
    blocker = world.tmp / "not-a-dir"
    blocker.write_text("")
    world.configure(email=f"file://{blocker}")
    result = world.login()
    assert result.exit_code == 0, result.stderr
    assert "Warning: not sent: email:" in result.stderr
    assert world.audit("login.otp")[0]["details"]["failed_channels"] == ["email"]


def test_a_ten_digit_number_matching_two_patients_asks_for_twelve(world: World) -> None:
    assert world.per(*enrol_args("201212121212")).exit_code == 0  # same last 10 digits, born 2012
    result = world.per("login", "otp", "1212121212", "--password-stdin", input=PASSWORD + "\n")
    assert result.exit_code == 1 and "12 digits" in result.stderr
    assert world.login("19121212-1212").exit_code == 0


def test_a_mistyped_personnummer_or_config_is_broken_not_denied(world: World) -> None:
    bad = world.per("login", "otp", "191212121213", "--password-stdin", input=PASSWORD + "\n")
    assert bad.exit_code == 1 and "check digit" in bad.stderr
    world.configure({"otp": {"ttl_seconds": 3600}})
    assert world.per("login", "otp", TOLVAN, "--password-stdin", input=PASSWORD + "\n").exit_code == 1


def test_usage_errors(world: World) -> None:
    for args in (
        ["login", "otp"],
        ["login", "otp", TOLVAN, "--code", "123456"],
        ["login", "otp", "--challenge", "a" * 32, "--send-only"],
        ["login", "otp", TOLVAN, "--send-only", "--code-from-outbox"],
    ):
        assert world.per(*args).exit_code == 2, args
    empty = world.per("login", "otp", TOLVAN, "--password-stdin", input="")
    assert empty.exit_code == 2 and "--password-stdin" in empty.stderr
    assert world.per("login", "otp", "--challenge", "nope", "--code", "123456").exit_code == 4
    assert world.per("login", "otp", "--challenge", "a" * 32, "--code", "123456").exit_code == 4
    assert world.per("login", "otp", "--challenge", "b" * 32, "--code-from-outbox").exit_code == 4
    assert world.reasons() == ["unknown_challenge", "unknown_challenge"]


def test_end_to_end_as_a_subprocess(world: World, per_proc: RunPer, backend: str) -> None:
    if backend == "sqlite":
        pytest.skip("on SQLite, tests/test_ci_smoke_script.py runs these flows as subprocesses")
    sent = per_proc(
        "login", "otp", TOLVAN, "--password-stdin", "--send-only", "--format", "json", input=PASSWORD + "\n"
    )
    assert sent.exit_code == 0, sent.stderr
    challenge = json.loads(sent.stdout)["challenge"]
    done = per_proc("login", "otp", "1212121212", "--challenge", challenge, "--code-from-outbox", "--format", "json")
    assert done.exit_code == 0, done.stderr
    assert json.loads(done.stdout)["method"] == "otp"
    denied = per_proc("login", "otp", TOLVAN, "--password-stdin", input="wrong\n")
    assert denied.exit_code == 4 and denied.stderr.strip() == DENIED


# --- care giver proxy ---


def add_caregiver(world: World, user: str = "anna.lind", unit: str = "NEURO-SU") -> None:
    result = world.per(
        "caregiver", "add", user, "--unit", unit, "--name", "Anna Lind", "--password-stdin", input=CG_PASSWORD + "\n"
    )
    assert result.exit_code == 0, result.stderr


def proxy(world: World, user: str = CAREGIVER, password: str = CG_PASSWORD, pnr: str = TOLVAN) -> Run:
    return world.proxy(user=user, password=password, pnr=pnr)


def test_proxy_login_for_a_patient_of_the_care_givers_unit(world: World) -> None:
    add_caregiver(world)
    result = proxy(world, user="Anna.Lind", pnr="121212-1212")
    assert result.exit_code == 0, result.stderr
    record = json.loads(result.stdout)
    assert record["method"] == "proxy" and record["proxy_by"] == "anna.lind"
    assert record["must_change_password"] is False
    assert "through care giver anna.lind" in result.stderr
    (event,) = world.audit("login.proxy")
    assert event["outcome"] == "ok" and event["patient_id"] is not None
    assert event["details"]["caregiver"] == "anna.lind" and event["details"]["caregiver_unit"] == "NEURO-SU"
    assert world.sql("SELECT method, caregiver_id IS NOT NULL FROM login_session")[0] == ("proxy", True)


def test_proxy_refused_for_patients_outside_the_unit(world: World) -> None:
    add_caregiver(world)
    assert world.per("unit", "add", "NEURO-KS", "--name", "Karolinska").exit_code == 0
    other = "198001011231"
    assert world.per(*enrol_args(other, unit="NEURO-KS")).exit_code == 0
    assert world.per("patient", "exclude", TOLVAN).exit_code == 0
    for pnr, case in ((other, "other_unit"), (SAMORDNING, "unknown_patient"), (TOLVAN, "excluded")):
        result = proxy(world, pnr=pnr)
        assert result.exit_code == 4, case
        assert "anna.lind may not log in for this patient" in result.stderr
        event = world.audit("login.proxy")[-1]
        assert event["details"]["reason"] == case and event["details"]["caregiver"] == "anna.lind"
        assert (event["patient_id"] is None) == (case == "unknown_patient"), case
        assert event["unit"] == "NEURO-SU"
    assert world.audit("login.proxy")[0]["details"]["patient_unit"] == "NEURO-KS"
    assert world.sql("SELECT id FROM login_session") == []


def test_proxy_refused_for_the_care_giver_with_one_message(world: World) -> None:
    add_caregiver(world)

    def refused(user: str, password: str, case: str) -> None:
        result = proxy(world, user=user, password=password)
        assert result.exit_code == 4, case
        assert "wrong user name or password, or the account is locked or disabled" in result.stderr, case
        event = world.audit("login.proxy")[-1]
        assert event["details"]["reason"] == case and event["patient_id"] is not None  # both identities

    refused("anna.lind", "not-the-password", "wrong_password")
    refused("bo.ek", CG_PASSWORD, "unknown_caregiver")
    world.sql("UPDATE caregiver SET locked_until = :t", t=datetime.now(UTC) + timedelta(minutes=1))
    refused("anna.lind", CG_PASSWORD, "caregiver_locked")
    world.sql("UPDATE caregiver SET locked_until = NULL")
    assert world.per("caregiver", "disable", "anna.lind").exit_code == 0
    refused("anna.lind", CG_PASSWORD, "caregiver_disabled")


def test_proxy_wrong_passwords_lock_the_care_giver(world: World) -> None:
    world.configure({"login": {"lock_after": 2}})
    add_caregiver(world)
    assert proxy(world, password="wrong-1").exit_code == 4
    assert proxy(world, password="wrong-2").exit_code == 4
    assert proxy(world).exit_code == 4
    assert world.reasons("login.proxy") == ["wrong_password", "wrong_password", "caregiver_locked"]
    reset = world.per("caregiver", "set-password", "anna.lind", "--password-stdin", input=CG_PASSWORD + "\n")
    assert reset.exit_code == 0, reset.stderr
    assert proxy(world).exit_code == 0


def test_a_typed_user_name_that_is_not_one_is_not_logged(world: World) -> None:
    result = proxy(world, user="Tolvans första lösen!")
    assert result.exit_code == 4
    assert world.audit("login.proxy")[-1]["details"] == {
        "reason": "unknown_caregiver",
        "caregiver": None,
        "failures": 1,
    }
