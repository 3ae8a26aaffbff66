"""The one-time-code key is the same on every machine or refused: the database records its fingerprint."""

from __future__ import annotations

import os
import subprocess

from tests.helpers.per import PER, TOLVAN
from tests.helpers.world import PASSWORD, World

KEY_A = "a" * 40
KEY_B = "b" * 40
FIELD_LINE = "Error: [otp] key / PER_OTP_KEY: "


def test_a_machine_with_another_key_stops_instead_of_calling_a_right_code_wrong(world: World) -> None:
    challenge = world.send_only(TOLVAN, PASSWORD)  # this machine: the key file, recorded on first use
    assert world.key_file.exists()
    (fingerprint,) = world.sql("SELECT fingerprint FROM otp_key")[0]
    assert len(fingerprint) == 64 and world.key_file.read_text().strip() not in fingerprint
    other = world.per("login", "otp", "--challenge", challenge, "--code", world.last_code(),
                      extra_env={"PER_OTP_KEY": KEY_B})  # fmt: skip
    assert other.exit_code == 1
    assert other.stderr.startswith(FIELD_LINE + "this key differs") and len(other.stderr.splitlines()) == 1
    assert world.sql("SELECT attempts FROM otp_challenge")[0][0] == 0  # nothing compared, nothing counted
    same = world.per("login", "otp", "--challenge", challenge, "--code", world.last_code())
    assert same.exit_code == 0, same.stderr


def test_a_machine_without_a_key_does_not_create_one_once_the_database_has_one(world: World) -> None:
    world.configure({"otp": {"key": KEY_A}})
    world.send_only()
    missing = world.tmp / "elsewhere" / "otp.key"
    world.configure({"otp": {"key_file": str(missing)}})
    result = world.per("login", "otp", TOLVAN, "--password-stdin", "--send-only", input=PASSWORD + "\n")
    assert result.exit_code == 1 and result.stderr.startswith(FIELD_LINE + "no one-time-code key on this machine")
    assert not missing.exists()
    world.configure({"otp": {"key_file": str(missing)}})
    ok = world.per("login", "otp", TOLVAN, "--password-stdin", "--send-only", input=PASSWORD + "\n",
                   extra_env={"PER_OTP_KEY": KEY_A})  # fmt: skip
    assert ok.exit_code == 0, ok.stderr


def test_first_logins_at_once_on_a_new_machine_agree_on_one_key(world: World) -> None:
    """The key file and the fingerprint are made by whichever login comes first; the others take them."""
    assert not world.key_file.exists()
    cmd = [PER, "login", "otp", TOLVAN, "--password-stdin", "--send-only"]
    env = {**os.environ, **world.env}
    procs = [subprocess.Popen(cmd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(12)]  # fmt: skip
    results = [p.communicate(PASSWORD + "\n", timeout=300) for p in procs]
    refused = [err for p, (_, err) in zip(procs, results, strict=True) if p.returncode != 0]
    cap = "Error: login denied: too many one-time codes were sent; a new code can be sent in 15 min\n"
    assert set(refused) <= {cap} and len(refused) < 12, refused  # the send cap answers the rest, not the key check
    assert len(world.sql("SELECT fingerprint FROM otp_key")) == 1
