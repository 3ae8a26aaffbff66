"""The contact-change hold: no new password to a mobile number or e-mail address that replaced an earlier one
within ``[passwords] contact_change_hold_hours``, unless staff say how they confirmed it (audited)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import update
from sqlalchemy.orm import Session

from per_cli.db.models import Patient
from tests.helpers.per import TOLVAN
from tests.helpers.world import EMAIL, MOBILE, World

NEW_MOBILE = "+46701234567"


def _edit(desk: World, *args: str) -> None:
    result = desk.per("patient", "edit-profile", TOLVAN, *args)
    assert result.exit_code == 0, result.stderr


def _replaced(desk: World) -> tuple[object, object]:
    (row,) = desk.sql("SELECT mobile_replaced_at, email_replaced_at FROM patient WHERE personnummer = :p", p=TOLVAN)
    return row[0], row[1]


def test_contacts_set_for_the_first_time_are_not_held(desk: World) -> None:
    desk.enrol(mobile=None, email=None)
    _edit(desk, "--mobile", MOBILE, "--email", EMAIL)
    assert _replaced(desk) == (None, None)
    result = desk.send(TOLVAN, "--sms", "--email")
    assert result.exit_code == 0, result.stderr


def test_a_replaced_mobile_is_held_until_staff_confirm_it(desk: World) -> None:
    desk.enrol()
    _edit(desk, "--mobile", NEW_MOBILE)
    assert _replaced(desk)[0] is not None and _replaced(desk)[1] is None

    held = desk.send(TOLVAN, "--sms", "--email")
    assert held.exit_code == 4
    assert held.stderr == (
        "Error: the patient's mobile number was changed less than 24 h ago; confirm the change with the patient "
        "and send again with --contact-verified-by in-person, id-document or callback\n"
    )
    assert desk.messages() == [] and desk.credential() is None and desk.deliveries() == []
    (refused,) = desk.audit("password.send")
    assert refused["outcome"] == "refused" and "mobile number was changed" in refused["details"]["reason"]
    assert TOLVAN not in str(refused) and NEW_MOBILE not in str(refused)

    assert desk.send(TOLVAN, "--email").exit_code == 0  # the e-mail address was not changed

    confirmed = desk.send(TOLVAN, "--sms", "--contact-verified-by", "callback")
    assert confirmed.exit_code == 0, confirmed.stderr
    assert [m["to"] for m in desk.messages() if m["channel"] == "sms"] == [NEW_MOBILE]
    event = desk.audit("password.send")[-1]
    assert event["outcome"] == "ok"
    assert event["details"]["contact_verified_by"] == "callback" and event["details"]["held_channels"] == ["sms"]


def test_a_removed_and_re_added_address_is_a_replacement(desk: World) -> None:
    desk.enrol()
    _edit(desk, "--no-email")
    _edit(desk, "--email", "ny.adress@example.se")
    assert _replaced(desk)[1] is not None
    assert desk.send(TOLVAN, "--email").exit_code == 4
    ok = desk.send(TOLVAN, "--email", "--contact-verified-by", "in-person")
    assert ok.exit_code == 0, ok.stderr


def test_the_hold_ends_after_the_configured_hours_and_zero_switches_it_off(desk: World) -> None:
    desk.enrol()
    desk.sql("UPDATE patient SET mobile = :m WHERE personnummer = :p", m=NEW_MOBILE, p=TOLVAN)  # any writer
    assert _replaced(desk)[0] is not None
    assert desk.send(TOLVAN, "--sms").exit_code == 4
    desk.configure({"passwords": {"contact_change_hold_hours": 0}})
    assert desk.send(TOLVAN, "--sms").exit_code == 0
    desk.configure({"passwords": {"contact_change_hold_hours": 1}})
    with Session(desk.engine) as session, session.begin():
        session.execute(update(Patient).values(mobile_replaced_at=datetime.now(UTC) - timedelta(minutes=61)))
    assert desk.send(TOLVAN, "--sms").exit_code == 0


def test_bad_values_are_usage_errors(desk: World) -> None:
    desk.enrol()
    wrong = desk.send(TOLVAN, "--sms", "--contact-verified-by", "bankid")
    assert wrong.exit_code == 2 and "--contact-verified-by" in wrong.stderr
    with_file = desk.send("--file", "x.csv", "--sms", "--contact-verified-by", "callback")
    assert with_file.exit_code == 2 and "does not go with --file" in with_file.stderr
    desk.configure({"passwords": {"contact_change_hold_hours": -1}})
    bad = desk.send(TOLVAN, "--sms")
    assert bad.exit_code == 1 and "contact_change_hold_hours" in bad.stderr
