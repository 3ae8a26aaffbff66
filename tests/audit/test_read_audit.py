"""#13 point 6: reading the log is an access too: `audit list` and `audit review` record an event with the filter
used and the number of rows shown (`registration export`: tests/commands/test_registration.py)."""

from __future__ import annotations

import json

from sqlalchemy import Engine

from per_cli.audit.events import Event
from tests.helpers.audit import write
from tests.helpers.per import TOLVAN, RunPer


def _last(per: RunPer, action: str) -> dict[str, object]:
    found = json.loads(per("audit", "list", "--action", action, "--format", "json").stdout)
    return dict(found[0])  # newest first


def test_every_audit_list_is_recorded_with_its_filter_and_the_rows_shown(per: RunPer, engine: Engine) -> None:
    write(engine, [Event(actor="anna", action="patient.show", patient_id=None) for _ in range(4)])
    shown = per("audit", "list", "--action", "patient.*", "--since", "2020-01-01", "--limit", "3", "--format", "json")
    assert len(json.loads(shown.stdout)) == 3
    listed = _last(per, "audit.list")
    assert listed["personnummer"] is None
    details = listed["details"]
    assert isinstance(details, dict) and details["events"] == 3
    assert details["filter"]["action"] == "patient.*" and details["filter"]["limit"] == 3
    assert details["filter"]["since"].startswith("2020-01-01T00:00:00")
    assert "patient" not in details["filter"]


def test_a_patients_log_read_names_the_patient_by_id_not_in_the_details(per: RunPer, tolvan: str) -> None:
    assert per("audit", "list", "--patient", TOLVAN).exit_code == 0
    listed = _last(per, "audit.list")
    assert listed["personnummer"] == "19121212-1212"
    assert listed["details"] == {"events": 1, "filter": {"limit": 50}}  # the default limit
    assert "1212" not in json.dumps(listed["details"])


def test_a_review_is_recorded_with_its_period_and_how_many_events_it_showed(per: RunPer, engine: Engine) -> None:
    write(engine, [Event(actor="anna", action="patient.show", patient_id=1) for _ in range(5)])
    drawn = per("audit", "review", "--sample", "2", "--seed", "7", "--since", "2020-01-01", "--format", "json")
    shown = len(json.loads(drawn.stdout))
    details = _last(per, "audit.review")["details"]
    assert isinstance(details, dict)
    assert (details["selected"], details["sample"], details["seed"]) == (shown, 2, 7)
    assert details["since"].startswith("2020-01-01T00:00:00")
