"""Erasure under concurrency, with real processes on both backends: an erasure while a bulk enrolment or logins
touch the same patient leaves either the whole patient or the tombstone, never a half."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.enrolment_rows import rows
from tests.helpers.per import PER, SAMORDNING, TOLVAN
from tests.helpers.world import CG_PASSWORD, DENIED, PASSWORD, World

pytestmark = pytest.mark.slow

TARGETS = (TOLVAN, SAMORDNING, "198112289874")
OTHERS = 1500
#: logins racing one erasure (40 `per` processes at once), half by one-time code, half by care giver proxy
LOGINS = 39


def _start(env: dict[str, str], *args: str, stdin: str | None = None) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [PER, *args],
        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, **env},
        text=True,
    )
    if stdin is not None:
        assert proc.stdin is not None
        proc.stdin.write(stdin)
        proc.stdin.close()
    return proc


def _finish(proc: subprocess.Popen[str]) -> tuple[int, str, str]:
    out = proc.stdout.read() if proc.stdout else ""
    err = proc.stderr.read() if proc.stderr else ""
    return proc.wait(timeout=300), out, err


def _leftovers(world: World, patient_id: int) -> dict[str, int]:
    """Rows of any kind still about the erased patient id (the access log apart)."""
    found = {
        "patient": world.sql("SELECT count(*) FROM patient WHERE id = :p", p=patient_id)[0][0],
        "registration_part": world.sql(
            "SELECT count(*) FROM registration_part WHERE registration_id IN "
            "(SELECT id FROM registration WHERE patient_id = :p)",
            p=patient_id,
        )[0][0],
    }
    for table in ("patient_credential", "password_delivery", "otp_challenge", "login_session", "registration"):
        found[table] = world.sql(f"SELECT count(*) FROM {table} WHERE patient_id = :p", p=patient_id)[0][0]
    return {k: v for k, v in found.items() if v}


def _events_after_erasure(world: World, patient_id: int) -> list[str]:
    """Actions that wrote the patient's data after the erasure was logged (there must be none)."""
    events = [
        tuple(e)
        for e in world.sql("SELECT action, outcome FROM audit_event WHERE patient_id = :p ORDER BY id", p=patient_id)
    ]
    actions = [action for action, _ in events]
    assert actions.count("patient.erase") == 1, actions
    after = events[actions.index("patient.erase") + 1 :]
    return [f"{action} {outcome}" for action, outcome in after if outcome not in ("denied", "error")]


def test_erasures_racing_a_bulk_enrolment_leave_whole_patients_or_tombstones(world: World, env: dict[str, str]) -> None:
    world.configure({"enrolment": {"chunk_size": 100}})
    for pnr in TARGETS[1:]:
        world.enrol(pnr, mobile=None, email=None)
    ids = dict(world.sql("SELECT personnummer, id FROM patient"))
    source = world.tmp / "stor.csv"
    others = list(rows(OTHERS, seed=18))
    assert not {r["personnummer"].replace("-", "") for r in others} & set(TARGETS)
    at = {0: TARGETS[0], OTHERS // 2: TARGETS[1], OTHERS - 100: TARGETS[2]}  # early, middle, late in the file
    with source.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(others[0]), delimiter=";")
        writer.writeheader()
        for i, row in enumerate(others):
            if i in at:
                writer.writerow({**row, "personnummer": at[i], "efternamn": "Raderasson"})
            writer.writerow(row)
    lines = {pnr: i + 2 + sorted(at).index(i) for i, pnr in at.items()}
    bulk = _start(
        env,
        "patient",
        "enrol",
        "--file",
        str(source),
        "--unit",
        "NEURO-SU",
        "--on-existing",
        "update",
        "--format",
        "json",
    )
    erasures = []
    for pnr, threshold in zip(TARGETS, (0, OTHERS // 3, 2 * OTHERS // 3), strict=True):
        while bulk.poll() is None and world.sql("SELECT count(*) FROM patient")[0][0] < threshold:
            time.sleep(0.02)  # a poll, not a timed assertion: the erasure starts once the run is this far
        erasures.append(_start(env, "patient", "erase", pnr, "--reason", "objection", "--yes"))
    code, out, err = _finish(bulk)
    assert code in (0, 3), err
    summary = json.loads(out)
    assert (summary["read"], summary["created"]) == (OTHERS + 3, OTHERS)
    assert summary["updated"] + summary["unchanged"] + summary["rejected"] == 3
    reported = [line for line in err.splitlines() if line.startswith("line ")]
    rejected = {line.split(":", 1)[0] for line in reported if ": updated " not in line}
    assert rejected <= {f"line {n}" for n in lines.values()}
    assert len(rejected) == summary["rejected"]
    for line in reported:
        assert ": updated " in line or ": personnummer: objected to registration on " in line, line
    for proc in erasures:
        done, _, erase_err = _finish(proc)
        assert done == 0, erase_err
    erased = dict(world.sql("SELECT personnummer, patient_id FROM patient_erasure"))
    assert set(erased) == set(TARGETS)
    for pnr in TARGETS:
        assert _leftovers(world, erased[pnr]) == {}, pnr
        assert _events_after_erasure(world, erased[pnr]) == [], pnr
    assert ids[SAMORDNING] == erased[SAMORDNING]
    assert world.sql("SELECT count(*) FROM patient")[0][0] == OTHERS + 0  # the targets are gone, the others all in
    verified = subprocess.run([PER, "audit", "verify"], env={**os.environ, **env}, capture_output=True, text=True)
    assert verified.returncode == 0, verified.stdout


def _login(env: dict[str, str], n: int) -> subprocess.Popen[str]:
    if n % 2:
        return _start(
            env,
            "login",
            "proxy",
            TOLVAN,
            "--user",
            "anna.lind",
            "--password-stdin",
            "--format",
            "json",
            stdin=CG_PASSWORD + "\n",
        )
    return _start(
        env,
        "login",
        "otp",
        TOLVAN,
        "--password-stdin",
        "--code-from-outbox",
        "--format",
        "json",
        stdin=PASSWORD + "\n",
    )


def test_an_erasure_among_logins_leaves_no_session_and_every_login_a_clean_answer(
    world: World, env: dict[str, str]
) -> None:
    # 40 SQLite writers queue on one lock: on a loaded machine the last may wait longer than the default 15 s
    world.configure({"database": {"busy_timeout_ms": 180_000}})
    world.add_caregiver()
    (patient_id,) = world.sql("SELECT id FROM patient WHERE personnummer = :p", p=TOLVAN)[0]
    procs = [_login(env, n) for n in range(LOGINS // 2)]
    procs.append(_start(env, "patient", "erase", TOLVAN, "--reason", "request", "--yes"))
    procs += [_login(env, n) for n in range(LOGINS // 2, LOGINS)]
    results: list[tuple[int, str, str]] = [_finish(p) for p in procs]
    erase = results.pop(LOGINS // 2)
    assert erase[0] == 0, erase[2]
    refusals = {
        DENIED,
        "Error: login denied: the one-time code is unknown, expired, already used or replaced by a newer one",
        "Error: proxy login denied: anna.lind may not log in for this patient "
        "(no such patient at the care giver's unit, or the patient is excluded)",
        # the care giver's own tries are counted before they are compared: 20 at once may lock the account
        "Error: proxy login denied: wrong user name or password, or the account is locked or disabled",
        # [otp] max_sends: 20 one-time-code logins of one patient at once meet the send cap
        "Error: login denied: too many one-time codes were sent; a new code can be sent in 15 min",
    }
    outcomes: dict[int, int] = {}
    for code, out, err in results:
        assert code in (0, 4), err
        assert "Traceback" not in err
        if code == 0:
            assert json.loads(out)["patient"] == "19121212-1212"
        else:
            assert err.strip().splitlines()[-1] in refusals, err
        outcomes[code] = outcomes.get(code, 0) + 1
    assert sum(outcomes.values()) == LOGINS
    assert _leftovers(world, patient_id) == {}
    assert _events_after_erasure(world, patient_id) == []
    tombstones: list[Any] = world.sql("SELECT patient_id, reason FROM patient_erasure")
    assert [tuple(t) for t in tombstones] == [(patient_id, "request")]
    verified = subprocess.run([PER, "audit", "verify"], env={**os.environ, **env}, capture_output=True, text=True)
    assert verified.returncode == 0, verified.stdout


def test_the_bulk_writer_sees_a_tombstone_committed_before_its_chunk(world: World, tmp_path: Path) -> None:
    """The deterministic half of the race: an erasure committed first is honoured by the next chunk."""
    source = tmp_path / "en.csv"
    source.write_text("personnummer;förnamn;efternamn\n121212-1212;Tolvan;Tolvansson\n", encoding="utf-8")
    assert world.per("patient", "erase", TOLVAN, "--reason", "objection", "--yes").exit_code == 0
    result = world.per("patient", "enrol", "--file", str(source), "--unit", "NEURO-SU", "--on-existing", "update")
    assert result.exit_code == 3
    assert "line 2: personnummer: objected to registration on " in result.stderr
    assert world.sql("SELECT count(*) FROM patient")[0][0] == 0
