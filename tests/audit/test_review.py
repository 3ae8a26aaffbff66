"""`per audit review`: a reproducible random sample plus every proxy login and refusal, as CSV for the reviewer;
drawing the sample is itself audited."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine

from per_cli.audit.events import Event
from per_cli.audit.review import COLUMNS, positions
from tests.helpers.audit import frozen_clock, ids, shows, write
from tests.helpers.per import RunPer


@pytest.fixture
def log(engine: Engine) -> dict[str, list[int]]:
    """40 ordinary reads, 2 proxy logins (one refused), 2 refused logins (one for an unknown patient)."""
    write(engine, shows(20, patient_id=7), per_transaction=20)
    write(engine, [Event(actor="cg.karin", action="login.proxy", patient_id=7, unit_code="NEURO-SU")])
    write(engine, shows(10, patient_id=8), per_transaction=10)
    write(
        engine,
        [
            Event(actor="cg.olle", action="login.proxy", patient_id=8, outcome="denied"),
            Event(actor="patient", action="login.otp", patient_id=8, outcome="denied"),
            Event(actor="patient", action="login.otp", patient_id=None, outcome="denied"),
        ],
    )
    write(engine, shows(10, patient_id=9), per_transaction=10)
    write(engine, [Event(actor="tester", action="unit.add")])  # no patient: not an access to patient data
    all_ids = ids(engine)
    return {"always": [all_ids[20], *all_ids[31:34]], "all": all_ids}


def _review(per: RunPer, *args: str) -> list[dict[str, object]]:
    result = per("audit", "review", "--format", "json", *args)
    assert result.exit_code == 0, result.stderr
    return list(json.loads(result.stdout))


def test_proxy_logins_and_refusals_are_always_in_the_sample(per: RunPer, log: dict[str, list[int]]) -> None:
    records = _review(per, "--sample", "5", "--seed", "1")
    always = [r for r in records if r["why_selected"] != "random"]
    assert [r["id"] for r in always] == log["always"]
    assert [r["why_selected"] for r in always] == ["proxy login", "proxy login, refused", "refused", "refused"]
    randoms = [r for r in records if r["why_selected"] == "random"]
    assert len(randoms) == 5
    assert all(r["action"] == "patient.show" for r in randoms)
    assert [r["id"] for r in records] == sorted(r["id"] for r in records)  # type: ignore[type-var]
    assert list(records[0]) == list(COLUMNS) and {r["reviewer_note"] for r in records} == {""}


def test_the_same_seed_draws_the_same_sample_and_another_seed_another(per: RunPer, log: dict[str, list[int]]) -> None:
    first = [r["id"] for r in _review(per, "--sample", "8", "--seed", "2026")]
    again = [r["id"] for r in _review(per, "--sample", "8", "--seed", "2026")]  # after audit.review was logged
    other = [r["id"] for r in _review(per, "--sample", "8", "--seed", "2027")]
    assert first == again
    assert first != other
    assert positions(2026, 40, 8) == positions(2026, 40, 8)


def test_the_seed_is_printed_when_none_is_given(per: RunPer, log: dict[str, list[int]]) -> None:
    result = per("audit", "review", "--sample", "3", "--format", "json")
    seed = result.stderr.rsplit("seed ", 1)[1].rstrip(".\n")
    assert [r["id"] for r in json.loads(result.stdout)] == [
        r["id"] for r in _review(per, "--sample", "3", "--seed", seed)
    ]


def test_a_sample_larger_than_the_log_takes_everything(per: RunPer, log: dict[str, list[int]]) -> None:
    records = _review(per, "--sample", "500", "--seed", "3")
    assert len(records) == 44  # 40 reads + 4 always; not the unit.add without a patient
    assert len(_review(per, "--sample", "0", "--seed", "3")) == 4


def test_the_csv_for_the_reviewer(per_proc: RunPer, log: dict[str, list[int]], tmp_path: Path) -> None:
    out = tmp_path / "granskning.csv"
    result = per_proc("audit", "review", "--sample", "4", "--seed", "9", "--output", str(out))
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert (
        f"Wrote {out}: 8 events: 4 always reviewed (proxy logins, refusals), 4 drawn at random of 40; seed 9."
        in result.stderr
    )
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # a BOM, so Excel reads UTF-8
    rows = list(csv.DictReader(raw.decode("utf-8-sig").splitlines()))
    assert list(rows[0]) == list(COLUMNS)
    assert len(rows) == 8 and {r["reviewer_note"] for r in rows} == {""}
    refused = [r for r in rows if r["action"] == "login.otp"]
    assert len(refused) == 2  # also the refused login of an unknown patient (no patient id)


def test_the_period_limits_the_sample(per: RunPer, engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    old, inside = datetime(2025, 3, 1, 12, tzinfo=UTC), datetime(2025, 4, 10, 12, tzinfo=UTC)
    with frozen_clock(monkeypatch, old, old, inside, inside, inside):
        write(
            engine,
            [
                *shows(1),
                Event(actor="x", action="login.otp", patient_id=1, outcome="denied"),
                *shows(2),
                Event(actor="x", action="login.proxy", patient_id=1),
            ],
        )
    records = _review(per, "--since", "2025-04-01", "--until", "2025-04-30", "--sample", "10", "--seed", "1")
    assert [r["why_selected"] for r in records] == ["random", "random", "proxy login"]


def test_drawing_a_sample_is_audited_without_a_patient(per: RunPer, log: dict[str, list[int]], actor: str) -> None:
    _review(per, "--sample", "5", "--seed", "77", "--since", "2000-01-01")
    events = json.loads(per("audit", "list", "--action", "audit.review", "--format", "json").stdout)
    assert len(events) == 1
    assert events[0]["personnummer"] is None and events[0]["actor"] == actor
    details = events[0]["details"]
    assert (details["seed"], details["sample"], details["selected"], details["always"], details["population"]) == (
        77,
        5,
        9,
        4,
        40,
    )
    assert details["since"].startswith("2000-01-01")


def test_positions_are_distinct_and_within_the_population() -> None:
    for seed in range(50):
        picked = positions(seed, 30, 10)
        assert len(set(picked)) == 10 and all(0 <= p < 30 for p in picked) and picked == sorted(picked)
    assert positions(1, 3, 10) == [0, 1, 2]
    assert positions(1, 0, 10) == []


def test_the_sample_names_the_patient_by_personnummer(per: RunPer, tolvan: str) -> None:
    assert per("patient", "show", tolvan).exit_code == 0
    records = _review(per, "--seed", "5")
    assert [(r["action"], r["personnummer"], r["unit"]) for r in records] == [
        ("patient.enrol", "19121212-1212", "NEURO-SU"),
        ("patient.show", "19121212-1212", "NEURO-SU"),
    ]


def test_a_long_period_estimates_the_population_from_a_probe(
    per: RunPer, log: dict[str, list[int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past ``EXACT_SPAN`` ids the population is estimated (counting millions of index entries is what made a
    national review slow); a probe that covers the whole span gives the exact figure, and the output says "about"."""
    from per_cli.audit import review

    monkeypatch.setattr(review, "EXACT_SPAN", 10)
    result = per("audit", "review", "--sample", "5", "--seed", "3", "--format", "json")
    assert "5 drawn at random of about 40;" in result.stderr
    monkeypatch.setattr(review, "_PROBE", 12)
    sampled = per("audit", "review", "--sample", "5", "--seed", "3", "--format", "json")
    estimate = int(sampled.stderr.split("of about ")[1].split(";")[0])
    assert 29 <= estimate <= 44  # 12 of the span's 44 ids probed, at most 4 of them not admitted
    events = json.loads(per("audit", "list", "--action", "audit.review", "--format", "json").stdout)
    assert {e["details"]["population_estimated"] for e in events} == {True}
    assert {e["details"]["population"] for e in events} == {40, estimate}
