"""``per password send PNR --sms --email``: the confirmation, what is stored, and every refusal before a change."""

from __future__ import annotations

import json
import re
from datetime import datetime

import pytest

from per_cli.credentials.passwords import ALPHABET, verify_password
from tests.helpers.per import TOLVAN
from tests.helpers.world import EMAIL, MOBILE, World

CONFIRMATION = re.compile(
    rf"^Password sent to {re.escape(EMAIL)}, {re.escape(MOBILE)} at (\d{{4}}-\d\d-\d\d \d\d:\d\d:\d\d)\n$"
)


def test_send_by_sms_and_email_confirms_stores_and_audits(desk: World) -> None:
    desk.configure(fast=False)  # the default Argon2id parameters, once
    desk.enrol()
    before = datetime.now().replace(microsecond=0)
    result = desk.send("19121212-1212", "--sms", "--email")
    assert result.exit_code == 0, result.stderr
    match = CONFIRMATION.match(result.stdout)  # e-mail first, as in the source document; local time
    assert match, result.stdout
    assert before <= datetime.fromisoformat(match.group(1)) <= datetime.now()

    messages = desk.messages()
    assert [(m["channel"], m["to"]) for m in messages] == [("email", EMAIL), ("sms", MOBILE)]
    email, sms = messages
    password = desk.password_in(sms)
    assert desk.password_in(email) == password
    assert len(password) == 12 and set(password) <= set(ALPHABET)
    assert email["subject"] == "Ditt nya lösenord till PER"
    assert "Min profil" in sms["body"] and "lösenord" in sms["body"]
    for message in messages:  # never the personnummer, in any form
        assert not re.search(r"\d{6}[-+]?\d{4}", message["body"]) and "1212" not in message["body"]

    credential = desk.credential()
    assert credential.password_hash.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert verify_password(credential.password_hash, password)
    assert credential.must_change in (True, 1)
    assert credential.last_sent_to == f"{EMAIL}, {MOBILE}"
    deliveries = desk.deliveries()
    assert [(d.channel, d.recipient, d.status) for d in deliveries] == [
        ("email", EMAIL, "sent"),
        ("sms", MOBILE, "sent"),
    ]
    assert len({d.batch_id for d in deliveries}) == 1 and all(d.provider_id for d in deliveries)

    [event] = desk.audit("password.send")
    assert event["outcome"] == "ok"
    assert event["details"]["channels"] == ["email", "sms"]
    assert event["details"]["statuses"] == {"email": "sent", "sms": "sent"}
    assert password not in json.dumps(event)

    shown = desk.per("patient", "show", TOLVAN, "--format", "json")
    record = json.loads(shown.stdout)
    assert record["password_sent_to"] == f"{EMAIL}, {MOBILE}" and record["password_sent_at"]


def test_json_names_each_channel_with_recipient_status_and_provider_id(desk: World) -> None:
    desk.enrol()
    result = desk.send("191212121212", "--email", "--sms", "--format", "json")
    assert result.exit_code == 0, result.stderr
    record = json.loads(result.stdout)
    assert record["personnummer"] == "19121212-1212" and record["status"] == "sent"
    assert datetime.fromisoformat(record["sent_at"]).tzinfo is not None
    assert [(c["channel"], c["recipient"], c["status"], c["error"]) for c in record["channels"]] == [
        ("email", EMAIL, "sent", None),
        ("sms", MOBILE, "sent", None),
    ]
    assert all(c["provider_id"].endswith(c["channel"] + "-" + c["provider_id"][-12:]) for c in record["channels"])


def test_one_channel_sends_only_there_and_csv_has_a_row_per_channel(desk: World) -> None:
    desk.enrol()
    result = desk.send("1212121212", "--sms", "--format", "csv")
    assert result.exit_code == 0, result.stderr
    header, row = result.stdout.splitlines()
    assert header == "personnummer,sent_at,channel,recipient,status,provider_id,error"
    assert row.startswith("19121212-1212,") and f",sms,{MOBILE},sent," in row
    assert [m["channel"] for m in desk.messages()] == ["sms"]
    assert desk.credential().last_sent_to == MOBILE


def test_english_texts_by_config(desk: World) -> None:
    desk.configure({"messages": {"language": "en"}})
    desk.enrol()
    assert desk.send(TOLVAN, "--sms", "--email").exit_code == 0
    email, sms = desk.messages()
    assert email["subject"] == "Your new password for PER"
    assert sms["body"].startswith("Your new password for PER: ")
    assert verify_password(desk.credential().password_hash, desk.password_in(sms, "en"))


def test_the_sent_password_logs_in_and_must_be_changed(desk: World) -> None:
    desk.enrol()
    assert desk.send(TOLVAN, "--sms").exit_code == 0
    password = desk.password_in(desk.messages()[0])
    login = desk.per("login", "otp", TOLVAN, "--password-stdin", "--channel", "sms", "--code-from-outbox",
                     "--format", "json", input=password + "\n")  # fmt: skip
    assert login.exit_code == 0, login.stderr
    assert json.loads(login.stdout)["must_change_password"] is True


def test_a_new_send_is_pending_beside_the_old_password_and_clears_a_lock(desk: World) -> None:
    desk.enrol()
    assert desk.send(TOLVAN, "--email").exit_code == 0
    first = desk.password_in(desk.messages()[0])
    desk.sql("UPDATE patient_credential SET failed_logins = 12, locked_until = :t", t="2999-01-01 00:00:00.000000")
    assert desk.send(TOLVAN, "--email").exit_code == 0
    second = desk.password_in(desk.messages()[-1])
    credential = desk.credential()
    assert first != second and verify_password(credential.pending_hash, second)
    assert verify_password(credential.password_hash, first)  # both log in until the new one is used
    assert credential.failed_logins == 0 and credential.locked_until is None


@pytest.mark.parametrize(
    ("contacts", "flags", "message"),
    [
        ({"mobile": None}, ["--sms"], "Error: --sms: the patient has no mobile number; add one with "
                                      "`per patient edit-profile PERSONNUMMER --mobile +46701234567`"),
        ({"mobile": "08-465 004 00"}, ["--sms", "--email"],
         "Error: --sms: the patient's number is a fixed line number; SMS needs a mobile number"),
        ({"email": None}, ["--email", "--sms"], "Error: --email: the patient has no e-mail address"),
    ],
)  # fmt: skip
def test_unusable_contacts_are_refused_before_anything_changes(
    desk: World, contacts: dict[str, str | None], flags: list[str], message: str
) -> None:
    desk.enrol(**contacts)  # type: ignore[arg-type]
    result = desk.send(TOLVAN, *flags)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.startswith(message), result.stderr
    assert desk.messages() == [] and desk.credential() is None and desk.deliveries() == []
    [event] = desk.audit("password.send")
    assert event["outcome"] == "refused"
    assert event["details"]["reason"].startswith(message.removeprefix("Error: "))


def test_a_refusal_keeps_the_old_password(desk: World) -> None:
    desk.enrol()
    assert desk.send(TOLVAN, "--sms").exit_code == 0
    old = desk.credential()
    desk.per("patient", "edit-profile", TOLVAN, "--mobile", "08-465 004 00")
    assert desk.send(TOLVAN, "--sms", "--email").exit_code == 1
    assert desk.credential() == old and len(desk.messages()) == 1


def test_excluded_unknown_and_mistyped_patients_are_refused(desk: World) -> None:
    desk.enrol()
    unknown = desk.send("199001019802", "--sms")
    assert unknown.exit_code == 1 and "no patient with this personnummer is enrolled" in unknown.stderr
    mistyped = desk.send("19121212-1213", "--sms")
    assert mistyped.exit_code == 1 and "personnummer" in mistyped.stderr
    assert desk.per("patient", "exclude", TOLVAN).exit_code == 0
    excluded = desk.send(TOLVAN, "--sms")
    assert excluded.exit_code == 1 and "excluded on" in excluded.stderr
    assert desk.messages() == [] and desk.credential() is None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([TOLVAN], "choose where to send the password: --sms, --email or both"),
        (["--sms"], "give the patient's PERSONNUMMER, or --file FILE"),
        ([TOLVAN, "--sms", "--file", "x.txt"], "a PERSONNUMMER or --file FILE, not both"),
        ([TOLVAN, "--sms", "--workers", "2"], "--workers only go with --file"),
    ],
)
def test_usage_errors(desk: World, args: list[str], message: str) -> None:
    result = desk.send(*args)
    assert result.exit_code == 2 and message in result.stderr


def test_config_faults_stop_before_anything_is_sent(desk: World) -> None:
    desk.enrol()
    desk.configure({"messages": {"sms_sender": "1177Vard"}})
    bad_sender = desk.send(TOLVAN, "--sms")
    assert bad_sender.exit_code == 1 and "[messages] sms_sender: '1177Vard' must not start with a digit" in (
        bad_sender.stderr)  # fmt: skip
    desk.configure(sms="nope://x")
    bad_url = desk.send(TOLVAN, "--sms", "--email")
    assert bad_url.exit_code == 1 and "unknown scheme nope://" in bad_url.stderr
    assert desk.messages() == [] and desk.credential() is None


def test_a_template_needing_two_segments_is_warned_about(desk: World) -> None:
    desk.configure({"messages": {"password_sms": "Ditt lösenord: {password}. " + "Välkommen till PER! " * 8}})
    desk.enrol()
    result = desk.send(TOLVAN, "--sms")
    assert result.exit_code == 0
    assert "Warning: [messages] password SMS (sv): the SMS text needs 2 segments" in result.stderr
