"""The contact-change hold in bulk sends: a list's patient whose mobile number or e-mail address replaced an
earlier one within ``[passwords] contact_change_hold_hours`` is a rejected row with the reason, unless the row's
``contact_verified_by`` cell says how staff confirmed it (audited); a campaign sent later holds a contact replaced
after the patient was queued."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers.per import TOLVAN, RunPer
from tests.helpers.world import EMAIL, MOBILE, World

OTHERS = ["195001011005", "195001021004"]
NEW_MOBILE = "+46701234567"
HELD_SMS = (
    "held: the patient's mobile number was changed less than 24 h ago; confirm the change with the patient, then "
    "give in-person, id-document, callback in the list's contact_verified_by column (or send to the patient alone "
    "with --contact-verified-by)"
)


def _edit(desk: World, pnr: str, *args: str) -> None:
    result = desk.per("patient", "edit-profile", pnr, *args)
    assert result.exit_code == 0, result.stderr


def _rows(result_stdout: str) -> dict[int, tuple[str, str, str | None]]:
    return {r["line"]: (r["personnummer"], r["status"], r["error"]) for r in json.loads(result_stdout)}


@pytest.fixture
def three(desk: World) -> World:
    """Tolvan and the first other patient had their mobile number replaced today; the second did not."""
    desk.enrol()
    desk.enrol(OTHERS[0], mobile="+46701740610", email="patient0@example.se")
    desk.enrol(OTHERS[1], mobile="+46701740611", email="patient1@example.se")
    _edit(desk, TOLVAN, "--mobile", NEW_MOBILE)
    _edit(desk, OTHERS[0], "--mobile", "+46701234568")
    return desk


def test_a_held_row_is_rejected_unless_the_list_says_how_the_change_was_confirmed(
    three: World, per_proc: RunPer, tmp_path: Path
) -> None:
    listing = tmp_path / "lista.csv"
    listing.write_text(
        f"personnummer;kontakt_verifierad\n{TOLVAN};\n{OTHERS[0]};callback\n{OTHERS[1]};\n", encoding="utf-8"
    )
    result = per_proc("password", "send", "--file", str(listing), "--sms", "--format", "json")
    assert result.exit_code == 3, result.stderr
    assert _rows(result.stdout) == {
        2: ("19121212-1212", "rejected", HELD_SMS),
        3: ("19500101-1005", "sent", None),
        4: ("19500102-1004", "sent", None),
    }
    assert f"line 2: 19121212-1212: rejected: {HELD_SMS}\n" in result.stderr
    assert sorted(m["to"] for m in three.messages()) == ["+46701234568", "+46701740611"]
    assert three.credential(TOLVAN) is None  # nothing made or stored for the held patient
    (refused,) = [e for e in three.audit("password.send") if e["outcome"] == "refused"]
    assert refused["details"]["reason"] == HELD_SMS and NEW_MOBILE not in json.dumps(refused)
    (verified,) = three.audit("password.contact_verified")
    assert verified["details"] == {"source": "file", "contact_verified_by": "callback", "held_channels": ["sms"]}
    assert verified["patient_id"] == three.sql("SELECT id FROM patient WHERE personnummer = :p", p=OTHERS[0])[0][0]


def test_available_channels_send_on_the_contact_that_was_not_replaced(
    three: World, per_proc: RunPer, tmp_path: Path
) -> None:
    listing = tmp_path / "lista.txt"
    listing.write_text(TOLVAN + "\n")
    result = per_proc("password", "send", "--file", str(listing), "--sms", "--email", "--channels", "available",
                      "--format", "json")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert [(m["channel"], m["to"]) for m in three.messages()] == [("email", EMAIL)]
    all_channels = per_proc("password", "send", "--file", str(listing), "--sms", "--email", "--new-campaign",
                            "--format", "json")  # fmt: skip
    assert all_channels.exit_code == 1  # nobody got one
    assert _rows(all_channels.stdout) == {1: ("19121212-1212", "rejected", HELD_SMS)}


def test_a_dry_run_shows_the_hold_and_a_wrong_confirmation_is_named(
    three: World, per_proc: RunPer, tmp_path: Path
) -> None:
    listing = tmp_path / "lista.csv"
    listing.write_text(f"personnummer,contact_verified_by\n{TOLVAN},\n{OTHERS[0]},phone\n", encoding="utf-8")
    result = per_proc("password", "send", "--file", str(listing), "--sms", "--dry-run", "--format", "json")
    assert _rows(result.stdout) == {
        2: ("19121212-1212", "rejected", HELD_SMS),
        3: ("19500101-1005", "rejected", "contact_verified_by: must be one of in-person, id-document, callback"),
    }
    assert three.messages() == [] and three.audit("password.send") == []


def test_the_hold_follows_the_configured_hours(three: World, per_proc: RunPer, tmp_path: Path) -> None:
    three.configure({"passwords": {"contact_change_hold_hours": 0}})
    listing = tmp_path / "lista.txt"
    listing.write_text(TOLVAN + "\n")
    result = per_proc("password", "send", "--file", str(listing), "--sms")
    assert result.exit_code == 0, result.stderr
    assert [m["to"] for m in three.messages()] == [NEW_MOBILE]


def test_a_contact_replaced_after_the_patient_was_queued_is_held_when_sent(
    desk: World, per_proc: RunPer, tmp_path: Path, backend: str
) -> None:
    if backend != "postgresql":
        pytest.skip("queued campaigns are PostgreSQL's; on SQLite the sending process sends at once")
    desk.enrol()
    listing = tmp_path / "lista.txt"
    listing.write_text(TOLVAN + "\n")
    queued = per_proc("password", "send", "--file", str(listing), "--sms", "--enqueue")
    assert queued.exit_code == 0, queued.stderr
    _edit(desk, TOLVAN, "--mobile", NEW_MOBILE)  # after the list was read and checked
    worked = per_proc("campaign", "work", "--drain")
    assert worked.exit_code in (0, 3), worked.stderr
    assert desk.messages() == []
    (row,) = desk.sql("SELECT status, error FROM campaign_target")
    assert (row[0], row[1]) == ("failed", HELD_SMS)
    assert MOBILE not in str(row)
