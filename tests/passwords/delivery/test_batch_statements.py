"""The two transactions around a send do a constant number of statements per batch, not per patient.

A campaign's main thread shares the machine with the threads that hash: every statement a patient costs is CPU
taken from Argon2id. ``records.prepare`` and ``records.finish`` for 6 and for 60 patients (a mix of patients
with and without a password, with sessions and unused codes; sent, partly sent, failed and unknown; some whose
pending password a later send replaced meanwhile) run the same number of statements (an executemany counts
once), and leave what the per-patient path left: pending passwords, the old one put back after a failed send,
a later send's password left alone, sessions and codes ended and counted per patient in the audit events.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event, text

from per_cli.campaigns.store import Spec, create
from per_cli.credentials.pending import Prior
from per_cli.db.engine import make_engine, session_scope
from per_cli.db.models import utcnow
from per_cli.passwords.delivery.core import ChannelResult, Delivery, Target, new_batch_id
from per_cli.passwords.delivery.records import finish, prepare
from tests.helpers.world import World

OLD, NEW = "old-hash", "new-hash"


def _pnr(i: int) -> str:
    base = f"1975{1 + i // 28:02d}{1 + i % 28:02d}321"
    digits = base[2:]
    total = sum(d - 9 if d > 9 else d for d in (int(c) * (2 - k % 2) for k, c in enumerate(digits)))
    return base + str((10 - total % 10) % 10)


def _enrol(desk: World, tmp_path: Path, n: int) -> list[int]:
    lines = ["personnummer;förnamn;efternamn;enhet;mobil"]
    lines += [f"{_pnr(i)};Åsa;Öberg;NEURO-SU;+4670176{i:04d}" for i in range(n)]
    enrolment = tmp_path / "enrol.csv"
    enrolment.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = desk.per("patient", "enrol", "--file", str(enrolment))
    assert result.exit_code == 0, result.stderr
    return [int(r[0]) for r in desk.sql("SELECT id FROM patient ORDER BY id")]


def _give_state(engine: Engine, ids: list[int]) -> None:
    """Every other patient has a password (a third of those with one pending from an earlier campaign, and a
    lock); each patient has ``i % 3`` open sessions, one ended session and ``i % 2`` unused codes."""
    now = utcnow()
    with engine.begin() as conn:
        for i, pid in enumerate(ids):
            if i % 2 == 0:
                pending = ("earlier-hash", now, "earlier") if i % 3 == 0 else (None, None, None)
                conn.execute(
                    text(
                        "INSERT INTO patient_credential (patient_id, password_hash, must_change, set_at, failed_logins,"
                        " locked_until, pending_hash, pending_since, pending_campaign) "
                        "VALUES (:p, :h, :m, :t, 7, :lock, :ph, :ps, :pc)"
                    ),
                    {"p": pid, "h": OLD, "m": False, "t": now, "lock": now + timedelta(hours=1),
                     "ph": pending[0], "ps": pending[1], "pc": pending[2]},
                )  # fmt: skip
            for k in range(i % 3 + 1):
                conn.execute(
                    text(
                        "INSERT INTO login_session (token_hash, patient_id, method, created_at, last_seen_at, "
                        "expires_at, revoked_at, idle_minutes) VALUES (:h, :p, 'otp', :t, :t, :e, :r, 30)"
                    ),
                    {"h": f"{pid:08d}{k:056d}", "p": pid, "t": now, "e": now + timedelta(hours=12),
                     "r": now if k == 0 else None},
                )  # fmt: skip
            for k in range(i % 2):
                conn.execute(
                    text(
                        "INSERT INTO otp_challenge (id, patient_id, code_hash, channels, created_at, expires_at, "
                        "attempts) VALUES (:i, :p, 'x', 'sms', :t, :e, 0)"
                    ),
                    {"i": f"c{pid}-{k}", "p": pid, "t": now, "e": now + timedelta(minutes=5)},
                )


#: the channels' outcomes of the n-th patient of a batch (n % 6), and whether a later send replaced its pending
#: password while the messages were on their way
KINDS: list[tuple[tuple[Any, Any], bool]] = [
    (("sent", "sent"), False),
    (("sent", "sent"), True),
    (("failed", "failed"), False),  # put back
    (("unknown", "failed"), False),
    (("sent", "failed"), False),  # partly sent
    (("failed", "failed"), True),
]
OUTCOMES = ["ok", "ok", "failed", "unknown", "partial", "failed"]


def _outcome(n: int, target: Target, prior: Prior) -> Delivery:
    statuses, _ = KINDS[n % len(KINDS)]
    results = [
        ChannelResult(ch, to, status, f"p{k}")
        for k, (status, (ch, to)) in enumerate(zip(statuses, target.recipients, strict=True))
    ]
    reached = any(s in ("sent", "unknown") for s in statuses)
    return Delivery(target, results, utcnow() if reached else None, NEW, prior)


def _target(i: int, pid: int) -> Target:
    return Target(pid, _pnr(i), "NEURO-SU", (("email", f"p{pid}@example.se"), ("sms", f"+4670176{i:04d}")))


def _run(engine: Engine, url: str, actor: str, ids: list[int], first: int) -> tuple[int, int, str]:
    """Prepare and finish one batch over ``ids`` (the ``first``-th patient on) on an engine of its own: the
    statements each transaction ran, and the campaign."""
    campaign_id = new_batch_id()
    mine = make_engine(url)
    try:
        with session_scope(mine) as session:
            create(session, actor, Spec("file", ("email", "sms")), campaign_id)
        targets = [_target(first + n, pid) for n, pid in enumerate(ids)]
        statements: list[str] = []
        event.listen(mine, "before_cursor_execute", lambda *a: statements.append(a[2]))
        with session_scope(mine) as session:
            priors = prepare(session, [(t, NEW) for t in targets], campaign_id=campaign_id)
        prepared = len(statements)
        replaced = [pid for n, pid in enumerate(ids) if KINDS[n % len(KINDS)][1]]
        with engine.begin() as conn:  # a later send's pending password
            conn.execute(
                text("UPDATE patient_credential SET pending_hash = 'later', pending_campaign = 'later' "
                     "WHERE patient_id = :p"),
                [{"p": pid} for pid in replaced],
            )  # fmt: skip
        deliveries = [_outcome(n, t, priors[t.patient_id]) for n, t in enumerate(targets)]
        with session_scope(mine) as session:
            finish(session, actor, deliveries, campaign_id=campaign_id, source="file")
        return prepared, len(statements) - prepared, campaign_id
    finally:
        mine.dispose()


def test_prepare_and_finish_run_as_many_statements_for_60_patients_as_for_6(
    desk: World, tmp_path: Path, actor: str
) -> None:
    ids = _enrol(desk, tmp_path, 66)
    _give_state(desk.engine, ids)
    small = _run(desk.engine, desk.db_url, actor, ids[:6], 0)
    large = _run(desk.engine, desk.db_url, actor, ids[6:], 6)
    assert small[:2] == large[:2], (small, large)

    # what the batch left is what a patient-by-patient send leaves
    events = {e["patient_id"]: e for e in desk.audit("password.send")}
    credentials: dict[int, Any] = {r.patient_id: r for r in desk.sql("SELECT * FROM patient_credential")}
    sessions = Counter(r[0] for r in desk.sql("SELECT patient_id FROM login_session WHERE revoked_at IS NULL"))
    codes = Counter(r[0] for r in desk.sql("SELECT patient_id FROM otp_challenge WHERE superseded_at IS NULL"))
    for i, pid in enumerate(ids):
        (statuses, replaced), outcome = KINDS[i % len(KINDS)], OUTCOMES[i % len(KINDS)]  # i % 6 is the batch's n % 6
        had, earlier = i % 2 == 0, i % 2 == 0 and i % 3 == 0
        sent, reached = "sent" in statuses, "sent" in statuses or "unknown" in statuses
        details = events[pid]["details"]
        assert events[pid]["outcome"] == outcome and details["batch_id"] == (small if i < 6 else large)[2]
        ended = {"sessions_ended": i % 3, "challenges_ended": i % 2} if sent else {}
        assert {k: details[k] for k in ("sessions_ended", "challenges_ended") if k in details} == ended, (i, details)
        assert (sessions[pid], codes[pid]) == ((0, 0) if sent else (i % 3, i % 2)), i
        if replaced:  # the later send's password is left alone; the sessions, codes and lock still go
            credential = credentials[pid]
            assert (credential.pending_hash, credential.pending_campaign, credential.last_sent_at) == ("later",) * 2 + (
                None,
            )
            assert credential.password_hash == (OLD if had else NEW) and credential.must_change == (not had)
            assert credential.failed_logins == (0 if sent or not had else 7)
        elif not reached and not had:  # a first password that surely failed is taken back
            assert pid not in credentials
        elif not reached:  # a send that surely failed puts back what was there before
            credential = credentials[pid]
            assert credential.password_hash == OLD and credential.pending_hash == ("earlier-hash" if earlier else None)
            assert credential.pending_campaign == ("earlier" if earlier else None)
            assert credential.failed_logins == 7 and not credential.must_change
        else:
            credential = credentials[pid]
            assert credential.pending_hash == NEW and credential.password_hash == (OLD if had else NEW)
            assert credential.pending_campaign == details["batch_id"]
            if sent:
                assert credential.must_change and credential.last_sent_at is not None
                assert credential.last_sent_to == ", ".join(
                    to
                    for (status, (_, to)) in zip(statuses, _target(i, pid).recipients, strict=True)
                    if status == "sent"
                )
                assert credential.failed_logins == 0 and credential.locked_until is None
            else:
                assert credential.last_sent_at is None and credential.failed_logins == (7 if had else 0)
    assert json.dumps([e["details"] for e in events.values()]).count(NEW) == 0
