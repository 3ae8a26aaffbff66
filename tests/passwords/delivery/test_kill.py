"""SIGKILL at several points of a bulk send, SQLite and PostgreSQL: after every kill,
each patient logs in with the last password a message gave them; re-running the list resumes the campaign and
never sends a patient a second password unless asked (``--resend-unknown``)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections import defaultdict
from pathlib import Path

from per_cli.credentials.passwords import verify_password
from tests.helpers.per import PER
from tests.helpers.world import World

PATIENTS = 40


def _pnr(i: int) -> str:
    base = f"1970{1 + i // 28:02d}{1 + i % 28:02d}123"
    digits = base[2:]
    total = sum(d - 9 if d > 9 else d for d in (int(c) * (2 - k % 2) for k, c in enumerate(digits)))
    return base + str((10 - total % 10) % 10)


def _logs_in(credential: object, password: str) -> bool:
    hashes = [getattr(credential, "password_hash", None), getattr(credential, "pending_hash", None)]
    return any(h and verify_password(h, password) for h in hashes)


def _check(desk: World, mobiles: dict[str, str]) -> int:
    """Every patient who got a message logs in with the last one; returns how many got one."""
    last: dict[str, str] = {}
    for message in desk.messages():  # oldest first
        last[message["to"]] = desk.password_in(message)
    for mobile, password in last.items():
        assert _logs_in(desk.credential(mobiles[mobile]), password), f"{mobile}: the last password does not work"
    return len(last)


def _wait_for(desk: World, messages: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if messages == 0:
            if desk.sql("SELECT count(*) FROM campaign_target")[0][0]:
                return
        elif len(list(desk.outbox.glob("*.json"))) >= messages:
            return
        time.sleep(0.005)


def test_sigkill_at_several_points_leaves_every_last_password_working(desk: World, tmp_path: Path) -> None:
    desk.configure({"passwords": {"argon2_time_cost": 2, "argon2_memory_kib": 8192}})
    mobiles = {}
    for i in range(PATIENTS):
        mobile = f"+4670174{i:04d}"
        desk.enrol(_pnr(i), mobile=mobile, email=None)
        mobiles[mobile] = _pnr(i)
    listing = tmp_path / "lista.txt"
    listing.write_text("\n".join(_pnr(i) for i in range(PATIENTS)) + "\n")
    env = {**os.environ, **desk.env}
    command = [PER, "password", "send", "--file", str(listing), "--sms", "--workers", "1", "--format", "json"]
    reached = 0
    for point in (0, 3, 9, 17, 28):  # kill once this many messages are out (0: once the campaign exists)
        proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_for(desk, point, proc)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        reached = _check(desk, mobiles)
        desk.sql("UPDATE campaign SET lease_until = NULL")  # the dead run's lease, instead of waiting it out
    final = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert final.returncode in (0, 3), final.stderr
    assert "Resuming " in final.stderr
    reached = _check(desk, mobiles)
    per_patient: dict[str, int] = defaultdict(int)
    for message in desk.messages():
        per_patient[message["to"]] += 1
    assert max(per_patient.values()) == 1, "a patient got two passwords without --resend-unknown"
    unknown = desk.sql("SELECT count(*) FROM campaign_target WHERE status = 'unknown'")[0][0]
    assert reached + unknown >= PATIENTS - unknown and reached >= PATIENTS - unknown
    assert len(desk.sql("SELECT id FROM campaign")) == 1
    if unknown:  # those the kills left in doubt: resent only when asked, and then they log in with the newest
        again = subprocess.run([*command, "--resend-unknown"], env=env, capture_output=True, text=True, timeout=300)
        assert again.returncode in (0, 3), again.stderr
        assert _check(desk, mobiles) == PATIENTS
