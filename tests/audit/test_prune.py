"""`per audit prune`: nothing younger than five years goes; a lawful prune leaves a chain that still verifies,
is itself audited, and an anchor no prune wrote is not trusted."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import Engine, insert, select

from per_cli.audit.prune import check_cutoff, latest_cutoff, years_before
from per_cli.audit.verify import ANCHOR_UNCONFIRMED, LINK_BROKEN, verify_chain
from per_cli.db.models import AuditAnchor, AuditEvent
from per_cli.errors import InvalidInput
from tests.helpers.audit import as_holder, count, frozen_clock, ids, remove, row, set_columns, shows, write
from tests.helpers.per import RunPer


@pytest.mark.parametrize(
    ("today", "latest"),
    [
        (date(2026, 11, 22), date(2021, 11, 22)),
        (date(2028, 2, 29), date(2023, 2, 28)),  # no 29 February in 2023: the earlier day, never a younger one
        (date(2029, 2, 28), date(2024, 2, 28)),
        (date(2029, 3, 1), date(2024, 3, 1)),
        (date(2025, 1, 1), date(2020, 1, 1)),
    ],
)
def test_the_latest_cutoff_is_today_minus_five_calendar_years(today: date, latest: date) -> None:
    assert latest_cutoff(today) == latest
    check_cutoff(latest, today)
    with pytest.raises(InvalidInput, match="younger than 5 years"):
        check_cutoff(latest + timedelta(days=1), today)


def test_a_leap_day_cutoff_is_refused_while_the_day_before_it_is_younger_than_five_years() -> None:
    with pytest.raises(InvalidInput):
        check_cutoff(date(2024, 2, 29), date(2029, 2, 28))
    assert years_before(date(2024, 2, 29), 4) == date(2020, 2, 29)


def test_a_cutoff_younger_than_five_years_is_refused_in_one_line(per_proc: RunPer) -> None:
    too_late = latest_cutoff() + timedelta(days=1)
    result = per_proc("audit", "prune", "--before", too_late.isoformat())
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: --before: {too_late.isoformat()} would remove events younger than 5 years (HSLF-FS 2016:40 "
        f"4 kap. 9 §); the latest allowed cut-off today is {latest_cutoff().isoformat()}\n"
    )


def test_nothing_to_prune_changes_nothing(per: RunPer, engine: Engine) -> None:
    write(engine, shows(3))
    result = per("audit", "prune", "--before", latest_cutoff().isoformat())
    assert (result.exit_code, result.stdout) == (0, f"removed 0 events before {latest_cutoff().isoformat()}\n")
    assert count(engine) == 3
    assert per("audit", "prune", "--before", "not-a-date").exit_code == 1


@pytest.fixture
def aged(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """6 events from 2015, 4 from 2019, 3 from now: ids in that order."""
    old = [datetime(2015, 5, 1, 8, tzinfo=UTC) + timedelta(days=i) for i in range(6)]
    mid = [datetime(2019, 6, 1, 8, tzinfo=UTC) + timedelta(hours=i) for i in range(4)]
    with frozen_clock(monkeypatch, *old, *mid):
        write(engine, shows(10), per_transaction=4)
    write(engine, shows(3))
    return ids(engine)


def test_a_lawful_prune_removes_the_old_prefix_and_the_chain_still_verifies(
    per: RunPer, engine: Engine, aged: list[int], actor: str
) -> None:
    dry = per("audit", "prune", "--before", "2019-01-01", "--dry-run")
    assert dry.stdout == f"would remove 6 events before 2019-01-01 (events {aged[0]}–{aged[5]}); nothing changed\n"
    as_json = json.loads(per("audit", "prune", "--before", "2019-01-01", "--dry-run", "--format", "json").stdout)
    assert as_json == {
        "before": "2019-01-01",
        "removed": 6,
        "first_removed_id": aged[0],
        "last_removed_id": aged[5],
        "dry_run": True,
    }
    assert count(engine) == 13
    chain_from = row(engine, aged[6])["prev_hash"]
    done = per("audit", "prune", "--before", "2019-01-01", extra_env={"PER_ACTOR": "arkivarie"})
    assert done.stdout == f"removed 6 events before 2019-01-01 (events {aged[0]}–{aged[5]})\n"
    assert ids(engine)[:7] == aged[6:]
    assert per("audit", "verify").stdout == "ok: 8 events, chain intact\n"
    with engine.connect() as conn:
        anchor = conn.execute(select(AuditAnchor)).one()._mapping
    # on PostgreSQL the actor is the login role, and the name PER_ACTOR gave is kept as claimed_actor
    by, claim = ("arkivarie", {}) if engine.dialect.name == "sqlite" else (actor, {"claimed_actor": "arkivarie"})
    assert (anchor["actor"], anchor["removed"], anchor["last_removed_id"], anchor["chain_from"]) == (
        by,
        6,
        aged[5],
        chain_from,
    )
    pruned = json.loads(per("audit", "list", "--action", "audit.prune", "--format", "json").stdout)
    assert len(pruned) == 1 and pruned[0]["actor"] == by and pruned[0]["personnummer"] is None
    assert pruned[0]["details"] == {
        **claim,
        "before": "2019-01-01",
        "removed": 6,
        "first_removed_id": aged[0],
        "last_removed_id": aged[5],
        "chain_from": chain_from,
    }


def test_a_second_prune_moves_the_anchor(per: RunPer, engine: Engine, aged: list[int]) -> None:
    assert per("audit", "prune", "--before", "2019-01-01").exit_code == 0
    second = per("audit", "prune", "--before", latest_cutoff().isoformat())
    assert second.stdout.startswith("removed 4 events")
    assert per("audit", "verify").stdout == "ok: 5 events, chain intact\n"  # 3 recent + 2 prune events


def test_pruning_everything_chains_the_prune_event_to_the_anchor(
    per: RunPer, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    with frozen_clock(monkeypatch, datetime(2010, 1, 1, tzinfo=UTC), datetime(2010, 1, 2, tzinfo=UTC)):
        write(engine, shows(2), per_transaction=2)
    assert per("audit", "prune", "--before", "2012-01-01").stdout.startswith("removed 2 events")
    assert per("audit", "verify").stdout == "ok: 1 events, chain intact\n"


def test_a_broken_chain_is_not_pruned(per: RunPer, engine: Engine, aged: list[int]) -> None:
    set_columns(engine, aged[2], actor="mallory")
    result = per("audit", "prune", "--before", "2019-01-01")
    assert result.exit_code == 1
    assert f"the chain is broken at event {aged[2]} (content changed); investigate before pruning" in result.stderr
    assert count(engine) == 13


def test_an_anchor_no_prune_wrote_does_not_hide_deleted_events(engine: Engine, aged: list[int]) -> None:
    for event_id in aged[:6]:
        remove(engine, event_id)
    chain_from = row(engine, aged[6])["prev_hash"]
    with as_holder(engine) as conn:
        conn.execute(
            insert(AuditAnchor).values(
                at=datetime.now(UTC),
                actor="mallory",
                cutoff=datetime.now(UTC),
                removed=6,
                last_removed_id=aged[5],
                chain_from=chain_from,
            )
        )
    result = verify_chain(engine)
    assert (result.broken_at, result.reason) == (aged[6], ANCHOR_UNCONFIRMED)


def test_deleting_more_after_a_prune_is_still_detected(per: RunPer, engine: Engine, aged: list[int]) -> None:
    assert per("audit", "prune", "--before", "2019-01-01").exit_code == 0
    remove(engine, aged[6])
    result = per("audit", "verify")
    assert (result.exit_code, result.stdout) == (1, f"broken at event {aged[7]}: {LINK_BROKEN}\n")
    with engine.connect() as conn:
        assert conn.execute(select(AuditEvent.id).where(AuditEvent.id < aged[6])).first() is None
