"""`per audit verify`: an intact chain passes; every edit, deletion or reordering made directly in the database
is detected and the first broken event is named (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select

from per_cli.audit.events import Event, event_hash
from per_cli.audit.verify import CONTENT_CHANGED, LINK_BROKEN, verify_chain
from per_cli.db.models import AuditEvent
from tests.helpers.audit import frozen_clock, ids, remove, row, set_columns, shows, swap, write
from tests.helpers.per import RunPer, enrol_args


@pytest.fixture
def ten(engine: Engine) -> list[int]:
    write(
        engine,
        [
            Event(
                actor="anna",
                action="patient.edit_profile",
                patient_id=i,
                unit_code="NEURO-SU",
                details={"changed": ["mobile"], "n": i},
            )
            for i in range(1, 11)
        ],
        per_transaction=3,
    )
    return ids(engine)


def test_an_intact_chain_verifies_end_to_end(per: RunPer, per_proc: RunPer, unit: str, tolvan: str) -> None:
    assert per("patient", "show", tolvan).exit_code == 0
    result = per_proc("audit", "verify")
    assert (result.exit_code, result.stdout) == (0, "ok: 2 events, chain intact\n")  # enrol, show
    as_json = json.loads(per("audit", "verify", "--format", "json").stdout)
    assert as_json["intact"] is True and as_json["events"] == 2 and as_json["broken_at"] is None
    assert len(as_json["head"]) == 64


def test_an_empty_log_verifies(per: RunPer) -> None:
    assert per("audit", "verify").stdout == "ok: 0 events, chain intact\n"


def test_every_format_gives_the_same_record(per: RunPer, engine: Engine, ten: list[int]) -> None:
    record = json.loads(per("audit", "verify", "--format", "json").stdout)
    assert list(record) == ["intact", "events", "broken_at", "reason", "starts_from", "head", "last_id"]
    assert (record["intact"], record["events"], record["last_id"]) == (True, 10, ten[-1])
    assert json.loads(per("audit", "verify", "--format", "jsonl").stdout) == record
    csv_lines = per("audit", "verify", "--format", "csv").stdout.splitlines()
    assert csv_lines == [",".join(record), f"yes,10,,,{'0' * 64},{record['head']},{ten[-1]}"]
    assert per("audit", "verify", "--format", "plain").stdout == csv_lines[1].replace(",", "\t") + "\n"
    set_columns(engine, ten[4], actor="someone.else")
    broken = per("audit", "verify", "--format", "json")
    assert broken.exit_code == 1
    assert json.loads(broken.stdout)["broken_at"] == ten[4] and json.loads(broken.stdout)["intact"] is False


def test_a_changed_detail_is_named_end_to_end(per_proc: RunPer, engine: Engine, ten: list[int]) -> None:
    set_columns(engine, ten[4], details='{"changed":["email"],"n":5}')
    result = per_proc("audit", "verify")
    assert (result.exit_code, result.stdout) == (1, f"broken at event {ten[4]}: content changed\n")


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("actor", "someone.else"),
        ("action", "patient.show"),
        ("patient_id", None),
        ("unit_code", "OTHER"),
        ("outcome", "denied"),
    ],
)
def test_each_column_is_covered_by_the_hash(engine: Engine, ten: list[int], column: str, value: object) -> None:
    set_columns(engine, ten[2], **{column: value})
    result = verify_chain(engine)
    assert (result.broken_at, result.reason, result.events) == (ten[2], CONTENT_CHANGED, 2)


def test_a_moved_timestamp_is_detected(engine: Engine, ten: list[int]) -> None:
    set_columns(engine, ten[6], at=row(engine, ten[6])["at"] + timedelta(microseconds=1))
    assert (verify_chain(engine).broken_at, verify_chain(engine).reason) == (ten[6], CONTENT_CHANGED)


def test_a_deleted_middle_event_is_detected_at_its_successor(per: RunPer, engine: Engine, ten: list[int]) -> None:
    remove(engine, ten[4])
    result = per("audit", "verify")
    assert (result.exit_code, result.stdout) == (1, f"broken at event {ten[5]}: {LINK_BROKEN}\n")


def test_a_deleted_first_event_is_detected(engine: Engine, ten: list[int]) -> None:
    remove(engine, ten[0])
    assert (verify_chain(engine).broken_at, verify_chain(engine).reason) == (ten[1], LINK_BROKEN)


def test_two_swapped_events_are_detected_at_the_first(per: RunPer, engine: Engine, ten: list[int]) -> None:
    swap(engine, ten[3], ten[7])
    result = per("audit", "verify")
    assert (result.exit_code, result.stdout) == (1, f"broken at event {ten[3]}: {LINK_BROKEN}\n")


def test_swapping_neighbours_is_detected(engine: Engine, ten: list[int]) -> None:
    swap(engine, ten[8], ten[9])
    assert (verify_chain(engine).broken_at, verify_chain(engine).reason) == (ten[8], LINK_BROKEN)


def test_an_edit_with_a_recomputed_hash_breaks_the_next_link(engine: Engine, ten: list[int]) -> None:
    old = row(engine, ten[4])
    forged = event_hash(
        old["prev_hash"],
        old["at"],
        "mallory",
        old["action"],
        old["patient_id"],
        old["unit_code"],
        old["outcome"],
        old["details"],
    )
    set_columns(engine, ten[4], actor="mallory", hash=forged)
    assert (verify_chain(engine).broken_at, verify_chain(engine).reason) == (ten[5], LINK_BROKEN)


def test_unusual_text_and_whole_second_times_hash_the_same_on_both_paths(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fast verifier formats on its own; it must agree with ``event_hash`` on everything stored."""
    odd = ['quote " back\\slash', "tab\tnew\nline\r\x01\x1f", "åäö ÅÄÖ é ß", "emoji 🩺", "line\u2028sep", "{}", ""]
    moments = [
        datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC),
        datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(2026, 6, 30, 22, 0, 0, 1, tzinfo=UTC),
    ] + [datetime(2026, 2, 28, tzinfo=UTC)] * len(odd)
    events = [
        Event(actor="a", action="x.y", patient_id=None, unit_code=None),
        Event(actor="b", action="x.y", patient_id=2**31 - 1, unit_code="U"),
        Event(actor="c", action="x.y", patient_id=0),
    ]
    events += [
        Event(actor=text or "x", action=text or "y", unit_code=text, outcome=text or "ok", details={"note": text})
        for text in odd
    ]
    with frozen_clock(monkeypatch, *moments):
        write(engine, events, per_transaction=4)
    result = verify_chain(engine)
    assert result.intact, result.line()
    assert result.events == len(events)


def test_verification_streams_in_batches(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """More events than one batch: links across batch boundaries are checked too."""
    monkeypatch.setattr("per_cli.audit.verify.BATCH", 7)
    write(engine, shows(30), per_transaction=30)
    assert verify_chain(engine).line() == "ok: 30 events, chain intact"
    with engine.connect() as conn:
        middle = conn.execute(select(func.min(AuditEvent.id) + 14)).scalar_one()
    remove(engine, middle)
    assert verify_chain(engine).broken_at == middle + 1


def test_the_foundation_flows_write_a_verifiable_chain(per: RunPer, unit: str) -> None:
    assert per(*enrol_args("191212121212")).exit_code == 0
    assert per(*enrol_args("197010632391")).exit_code == 0
    assert per("patient", "list").exit_code == 0
    assert per("patient", "edit-profile", "191212121212", "--email", "t@example.se").exit_code == 0
    assert per("audit", "list", "--patient", "191212121212").exit_code == 0
    assert per("audit", "verify").stdout == "ok: 6 events, chain intact\n"
