"""`per audit list`: newest first, --limit (default 50) / --all, --outcome, relative periods, streamed output."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from per_cli.audit.events import Event
from per_cli.cli.options import parse_moment
from per_cli.cli.output import emit_stream, render
from tests.helpers.audit import frozen_clock, ids, shows, write
from tests.helpers.per import RunPer


def _ids(per: RunPer, *args: str, action: str = "patient.show") -> list[int]:
    """The ids listed (each `audit list` is itself logged as audit.list: leave those out)."""
    result = per("audit", "list", "--format", "json", "--action", action, *args)
    assert result.exit_code == 0, result.stderr
    return [e["id"] for e in json.loads(result.stdout)]


def test_newest_first_and_the_default_limit_takes_the_newest_50(per: RunPer, engine: Engine) -> None:
    write(engine, shows(60), per_transaction=60)
    all_ids = ids(engine)
    only = ("--action", "patient.show")
    result = per("audit", "list", *only, "--format", "json")
    assert [e["id"] for e in json.loads(result.stdout)] == all_ids[::-1][:50]
    assert result.stderr == "showing the newest 50; --limit N or --all for more\n"
    limited = per("audit", "list", *only, "--limit", "2", "--format", "jsonl")
    assert [json.loads(line)["id"] for line in limited.stdout.splitlines()] == all_ids[::-1][:2]
    everything = per("audit", "list", *only, "--all", "--format", "json")
    assert [e["id"] for e in json.loads(everything.stdout)] == all_ids[::-1]
    assert everything.stderr == ""
    assert per("audit", "list", *only, "--limit", "60", "--format", "json").stderr == ""  # exactly all


def test_outcome_filter(per: RunPer, engine: Engine) -> None:
    write(engine, shows(2))
    write(engine, [Event(actor="patient", action="login.otp", patient_id=None, outcome="denied")])
    write(engine, [Event(actor="patient", action="login.otp", patient_id=None, outcome="error")])
    all_ids = ids(engine)
    assert _ids(per, "--outcome", "denied", action="*") == [all_ids[2]]
    assert _ids(per, "--outcome", "ok", action="patient.*") == [all_ids[1], all_ids[0]]
    assert _ids(per, "--outcome", "error", action="*") == [all_ids[3]]
    wrong = per("audit", "list", "--outcome", "refused")
    assert wrong.exit_code == 2
    assert "'refused' is not one of 'ok', 'denied', 'error'" in wrong.stderr


def test_nothing_matching_says_so(per: RunPer, engine: Engine) -> None:
    result = per("audit", "list", "--actor", "nobody")
    assert (result.exit_code, result.stdout, result.stderr) == (
        0,
        "id    at    actor    action    personnummer    unit    outcome    details\n"
        "----  ----  -------  --------  --------------  ------  ---------  ---------\n",
        "no events match\n",
    )
    assert per("audit", "list", "--actor", "nobody", "--format", "csv").stdout == (
        "id,at,actor,action,personnummer,unit,outcome,details\n"
    )


def test_all_and_limit_contradict(per: RunPer) -> None:
    result = per("audit", "list", "--all", "--limit", "3")
    assert (result.exit_code, result.stderr.splitlines()[-1]) == (
        2,
        "Error: --all and --limit contradict each other: give one",
    )


def test_relative_periods(per: RunPer, engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    now = datetime.now(UTC)
    moments = [now - timedelta(days=10), now - timedelta(hours=3), now - timedelta(minutes=30)]
    with frozen_clock(monkeypatch, *moments):
        write(engine, shows(3))
    old, three_hours, half_hour = ids(engine)
    assert _ids(per, "--since", "7d") == [half_hour, three_hours]
    assert _ids(per, "--since", "2h") == [half_hour]
    assert _ids(per, "--since", "1w", "--until", "2h") == [three_hours]
    assert _ids(per, "--until", "1w") == [old]
    assert _ids(per, "--until", "today") == [half_hour, three_hours, old]  # up to the end of today
    assert _ids(per, "--until", "45m", "--since", "5h") == [three_hours]
    bad = per("audit", "list", "--since", "7x")
    assert (bad.exit_code, bad.stderr) == (
        1,
        "Error: --since: not a date or time (YYYY-MM-DD, YYYY-MM-DDTHH:MM, today, yesterday, 7d, 2h): '7x'\n",
    )


def test_parse_moment_today_yesterday_and_ago() -> None:
    now = datetime(2026, 3, 10, 14, 30).astimezone()
    midnight = datetime(2026, 3, 10).astimezone()
    assert parse_moment("today", now=now) == midnight
    assert parse_moment("TODAY", end=True, now=now) == datetime(2026, 3, 11).astimezone()
    assert parse_moment("yesterday", now=now) == datetime(2026, 3, 9).astimezone()
    assert parse_moment("yesterday", end=True, now=now) == midnight
    assert parse_moment("7d", now=now) == now - timedelta(days=7)
    assert parse_moment("2h", end=True, now=now) == now - timedelta(hours=2)
    assert parse_moment("30m", now=now) == now - timedelta(minutes=30)
    assert parse_moment("2026-03-01", now=now) == datetime(2026, 3, 1).astimezone()
    assert parse_moment("2026-03-01t08:00", now=now) == datetime(2026, 3, 1, 8).astimezone()
    for bad in ("d", "7", "-2h", "tomorrow", "7 d"):
        with pytest.raises(ValueError):
            parse_moment(bad, now=now)


@pytest.mark.parametrize("fmt", ["json", "jsonl", "csv", "tsv", "plain", "table"])
@pytest.mark.parametrize("count", [0, 1, 7])
def test_streamed_output_is_the_same_text_as_all_at_once(
    fmt: str, count: int, capsys: pytest.CaptureFixture[str]
) -> None:
    columns = ["id", "name", "at", "details"]
    records = [
        {"id": i, "name": f"Åsa\n{i}", "at": datetime(2026, 1, 1, tzinfo=UTC), "details": {"n": [i]}}
        for i in range(count)
    ]
    emit_stream(iter(records), fmt, columns=columns, chunk=3)
    assert capsys.readouterr().out == render(records, fmt, columns=columns)


def test_reading_a_patients_log_is_audited_with_the_count(per: RunPer, tolvan: str) -> None:
    per("patient", "show", tolvan)
    listed = per("audit", "list", "--patient", tolvan, "--format", "json")
    assert [e["action"] for e in json.loads(listed.stdout)] == ["patient.show", "patient.enrol"]
    newest = json.loads(per("audit", "list", "--action", "audit.list", "--limit", "1", "--format", "json").stdout)
    assert (newest[0]["action"], newest[0]["details"]) == ("audit.list", {"events": 2, "filter": {"limit": 50}})
