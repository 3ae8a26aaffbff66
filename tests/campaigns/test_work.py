"""Queued campaigns on PostgreSQL: `password send --file … --enqueue`, then `campaign work`
processes started and SIGKILLed at random; new ones finish: every patient reached exactly once. Plus the bad
settings and the SQLite refusals (one line, nothing sent)."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from per_cli.credentials.passwords import verify_password
from tests.helpers.per import PER, TOLVAN
from tests.helpers.world import World

PATIENTS = 150


def _pnr(i: int) -> str:
    base = f"1980{1 + i // 28:02d}{1 + i % 28:02d}456"
    digits = base[2:]
    total = sum(d - 9 if d > 9 else d for d in (int(c) * (2 - k % 2) for k, c in enumerate(digits)))
    return base + str((10 - total % 10) % 10)


def _enrol(desk: World, tmp_path: Path) -> tuple[Path, dict[str, str]]:
    lines = ["personnummer;förnamn;efternamn;enhet;mobil"]
    mobiles = {}
    for i in range(PATIENTS):
        mobile = f"+4670175{i:04d}"
        lines.append(f"{_pnr(i)};Åsa;Öberg;NEURO-SU;{mobile}")
        mobiles[mobile] = _pnr(i)
    enrolment = tmp_path / "enrol.csv"
    enrolment.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = desk.per("patient", "enrol", "--file", str(enrolment))
    assert result.exit_code == 0, result.stderr
    listing = tmp_path / "lista.txt"
    listing.write_text("\n".join(_pnr(i) for i in range(PATIENTS)) + "\n")
    return listing, mobiles


def test_three_workers_killed_at_random_and_new_ones_reach_everyone_exactly_once(
    desk: World, tmp_path: Path, backend: str
) -> None:
    if backend != "postgresql":
        pytest.skip("the queue is shared through PostgreSQL; on SQLite the sending process sends")
    desk.configure({"passwords": {"argon2_time_cost": 2, "argon2_memory_kib": 8192}})
    listing, mobiles = _enrol(desk, tmp_path)
    queued = desk.send("--file", str(listing), "--sms", "--enqueue")
    assert queued.exit_code == 0, queued.stderr
    assert desk.messages() == [] and "campaign work" in queued.stderr
    env = {**os.environ, **desk.env}
    work = [PER, "campaign", "work", "--concurrency", "2", "--drain"]
    rng = random.Random(17)
    for _round in range(3):
        workers = [subprocess.Popen(work, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                   for _ in range(3)]  # fmt: skip
        target = len(desk.messages()) + rng.randint(5, 30)  # kill mid-way: once some more messages are out
        deadline = time.monotonic() + 60
        while len(list(desk.outbox.glob("*.json"))) < target and time.monotonic() < deadline:
            if all(p.poll() is not None for p in workers):
                break
            time.sleep(0.01)
        for proc in workers:
            if rng.random() < 0.8 and proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
        for proc in workers:
            proc.wait(timeout=300)
        desk.sql("UPDATE campaign_target SET lease_until = now() - interval '1 second' WHERE lease_until IS NOT NULL")
    finals = [subprocess.run(work, env=env, capture_output=True, text=True, timeout=300, check=False) for _ in range(1)]
    assert all(f.returncode == 0 for f in finals), [f.stderr for f in finals]
    received = Counter(m["to"] for m in desk.messages())
    assert set(received) == set(mobiles) and set(received.values()) == {1}, received.most_common(3)
    last = {m["to"]: desk.password_in(m) for m in desk.messages()}
    for mobile, password in last.items():
        credential = desk.credential(mobiles[mobile])
        assert verify_password(credential.pending_hash or credential.password_hash, password)
    states = desk.sql("SELECT status, count(*) FROM campaign_target GROUP BY status")
    assert dict(states) == {"sent": PATIENTS}
    recovered = [e for e in desk.audit("password.send") if e["details"].get("reason") == "worker_stopped"]
    print(f"taken up after a kill: {len(recovered)}; sent by the last worker: {finals[0].stderr.strip()}")


def test_a_worker_stopped_with_ctrl_c_gives_back_what_it_claimed_and_did_not_store(
    desk: World, tmp_path: Path, backend: str
) -> None:
    if backend != "postgresql":
        pytest.skip("the queue is shared through PostgreSQL; on SQLite the sending process sends")
    listing, mobiles = _enrol(desk, tmp_path)  # default Argon2id: a batch of 32 takes about a second to hash
    assert desk.send("--file", str(listing), "--sms", "--enqueue").exit_code == 0
    env = {**os.environ, **desk.env}
    worker = subprocess.Popen([PER, "campaign", "work", "--concurrency", "1"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # fmt: skip
    deadline = time.monotonic() + 60
    while not list(desk.outbox.glob("*.json")) and time.monotonic() < deadline and worker.poll() is None:
        time.sleep(0.01)  # the first batch is out, the next one is being hashed
    worker.send_signal(signal.SIGINT)
    _, err = worker.communicate(timeout=120)
    assert worker.returncode == 130 and len(err.splitlines()) == 1, err
    states = dict(desk.sql("SELECT status, count(*) FROM campaign_target GROUP BY status"))
    assert "claimed" not in states and states.get("queued", 0) > 0, states  # at once, not after the lease
    done = subprocess.run([PER, "campaign", "work", "--drain", "--format", "json"], env=env, capture_output=True,
                          text=True, timeout=300, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["recovered"] == {}  # nothing was left for the lease recovery
    received = Counter(m["to"] for m in desk.messages())
    assert set(received) == set(mobiles) and set(received.values()) == {1}, received.most_common(3)


def test_bad_limits_and_queue_on_sqlite_are_one_line_and_send_nothing(
    desk: World, tmp_path: Path, backend: str
) -> None:
    desk.enrol()
    listing = tmp_path / "lista.txt"
    listing.write_text(TOLVAN + "\n")
    for sections, reason in (
        ({"transports": {"sms_per_second": 0}}, "[transports] sms_per_second: must be a number above 0"),
        ({"transports": {"email_per_second": "fast"}}, "[transports] email_per_second: must be a number above 0"),
        ({"messages": {"quiet_hours": "9pm-8am"}}, "[messages] quiet_hours: '9pm-8am' is not HH:MM-HH:MM"),
    ):
        desk.configure(sections)
        result = desk.send("--file", str(listing), "--sms")
        assert result.exit_code in (1, 2) and reason in result.stderr, result.stderr
        assert len(result.stderr.splitlines()) == 1
    desk.configure()
    if backend == "sqlite":
        enqueue = desk.send("--file", str(listing), "--sms", "--enqueue")
        assert enqueue.exit_code == 1 and enqueue.stderr.startswith("Error: --enqueue: needs PostgreSQL")
        work = desk.per("campaign", "work", "--drain")
        assert work.exit_code == 1 and "needs PostgreSQL" not in work.stderr and "database:" in work.stderr
    assert desk.messages() == [] and desk.sql("SELECT count(*) FROM password_delivery")[0][0] == 0


def test_quiet_hours_refuse_sms_now_and_the_queue_waits(desk: World, tmp_path: Path) -> None:
    desk.enrol()
    listing = tmp_path / "lista.txt"
    listing.write_text(TOLVAN + "\n")
    desk.configure({"messages": {"quiet_hours": "00:00-23:59"}})  # now, whenever the test runs (nearly)
    result = desk.send("--file", str(listing), "--sms")
    if "quiet hours" not in result.stderr:
        pytest.skip("the test ran in the one minute outside the quiet hours")
    assert result.exit_code == 1 and result.stderr.startswith("Error: --sms: no SMS in the quiet hours 00:00-23:59")
    email = desk.send("--file", str(listing), "--email", "--format", "json")
    assert email.exit_code == 0 and json.loads(email.stdout)[0]["status"] == "sent"  # e-mail is not held


def test_a_queued_sms_claimed_in_the_quiet_hours_waits_for_their_end_and_nothing_is_sent(
    desk: World, tmp_path: Path, backend: str
) -> None:
    if backend != "postgresql":
        pytest.skip("the queue is shared through PostgreSQL; on SQLite the sending process sends")
    if datetime.now(ZoneInfo("Europe/Stockholm")).strftime("%H:%M") == "23:59":
        pytest.skip("the test runs in the one minute outside the quiet hours")  # the worker would send
    desk.enrol()
    listing = tmp_path / "lista.txt"
    listing.write_text(TOLVAN + "\n")
    assert desk.send("--file", str(listing), "--sms", "--enqueue").exit_code == 0
    desk.configure({"messages": {"quiet_hours": "00:00-23:59"}})  # now, whenever the test runs (nearly)
    worker = subprocess.Popen([PER, "campaign", "work", "--concurrency", "1"], env={**os.environ, **desk.env},
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # fmt: skip
    deadline = time.monotonic() + 60
    while not desk.sql("SELECT 1 FROM campaign_target WHERE not_before IS NOT NULL") and time.monotonic() < deadline:
        time.sleep(0.05)
    worker.send_signal(signal.SIGINT)
    _, err = worker.communicate(timeout=60)
    assert worker.returncode == 130, err
    (row,) = desk.sql("SELECT status, not_before > now(), lease_until, error FROM campaign_target")
    if row[1] is False:
        pytest.skip("the test ran in the one minute outside the quiet hours")
    assert tuple(row) == ("queued", True, None, None)
    assert desk.messages() == [] and desk.sql("SELECT count(*) FROM password_delivery")[0][0] == 0
