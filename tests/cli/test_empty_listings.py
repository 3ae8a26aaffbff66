"""Every listing prints its header row when it lists nothing (table, CSV, TSV), ``[]`` as JSON and nothing as
JSON Lines, so a script or a spreadsheet reading an empty result still finds its columns."""

from __future__ import annotations

from pathlib import Path

import click

from tests.cli.test_output_files import _commands
from tests.helpers.per import TOLVAN, RunPer, enrol_args

#: (command, CSV header, table header, table rule) of every listing, on a database with one unit, one patient and
#: a campaign whose only row was rejected; CAMPAIGN is that campaign's id
LISTINGS: list[tuple[list[str], str, str, str]] = [
    (
        ["audit", "list", "--actor", "nobody"],
        "id,at,actor,action,personnummer,unit,outcome,details",
        "id    at    actor    action    personnummer    unit    outcome    details",
        "----  ----  -------  --------  --------------  ------  ---------  ---------",
    ),
    (
        ["audit", "extract", "191212121212", "--since", "2030-01-01", "--language", "en"],
        "when,care_unit,who,what,outcome",
        "When    Care unit    Who    What    Outcome",
        "------  -----------  -----  ------  ---------",
    ),
    (
        ["audit", "review", "--sample", "0", "--since", "2030-01-01"],
        "id,at,actor,action,personnummer,unit,outcome,why_selected,reviewer_note",
        "id    at    actor    action    personnummer    unit    outcome    why_selected    reviewer_note",
        "----  ----  -------  --------  --------------  ------  ---------  --------------  ---------------",
    ),
    (
        ["campaign", "show", "CAMPAIGN"],
        "line,personnummer,patient_status,channel,recipient,status,provider_id,created_at,sent_at,updated_at,error",
        "line    personnummer    channel    recipient    status    sent_at    updated_at    error",
        "------  --------------  ---------  -----------  --------  ---------  ------------  -------",
    ),
    (
        ["caregiver", "list"],
        "username,name,unit,active,locked_until,created_at",
        "username    name    unit    active    locked_until    created_at",
        "----------  ------  ------  --------  --------------  ------------",
    ),
    (
        ["password", "status", "191212121212"],
        "campaign,channel,recipient,status,provider_id,created_at,sent_at,updated_at,error",
        "campaign    channel    recipient    status    created_at    sent_at    updated_at    error",
        "----------  ---------  -----------  --------  ------------  ---------  ------------  -------",
    ),
    (
        ["patient", "list", "--search", "nobody"],
        "personnummer,first_name,last_name,unit,mobile,mobile_type,email,contact_person,pal,comment,registered_on,excluded_on,exclusion_reason,password_sent_to,password_sent_at",
        "personnummer    first_name    last_name    unit    mobile    email    excluded_on",
        "--------------  ------------  -----------  ------  --------  -------  -------------",
    ),
    (
        ["patient", "objections"],
        "personnummer,erased_on,reason,note,erased_by,enrolled_again",
        "personnummer    erased_on    reason    note    erased_by    enrolled_again",
        "--------------  -----------  --------  ------  -----------  ----------------",
    ),
    (
        ["registration", "export"],
        "registration_id,personnummer,unit,scale,version,completed_at",
        "registration_id    personnummer    unit    scale    version    completed_at",
        "-----------------  --------------  ------  -------  ---------  --------------",
    ),
    (
        ["registration", "list", "191212121212"],
        "registration_id,personnummer,unit,status,scales,pending,started_by,started_at,completed_at",
        "registration_id    status    scales    pending    started_by    started_at    completed_at",
        "-----------------  --------  --------  ---------  ------------  ------------  --------------",
    ),
    (
        ["session", "list"],
        "id,patient,name,unit,method,proxy_by,since,last_seen_at,expires_at,status,revoked_at",
        "id    patient    name    method    proxy_by    since    last_seen_at    expires_at    status",
        "----  ---------  ------  --------  ----------  -------  --------------  ------------  --------",
    ),
    (
        ["session", "revoke", "--patient", "191212121212"],
        "id,patient,name,unit,method,proxy_by,since,last_seen_at,expires_at,status,revoked_at",
        "id    patient    name    method    proxy_by    since    last_seen_at    expires_at    status",
        "----  ---------  ------  --------  ----------  -------  --------------  ------------  --------",
    ),
]

#: commands offering CSV that print one record (or a document, or a catalogue that is never empty), not a listing
NOT_LISTINGS = {
    "audit checkpoint", "audit keygen", "audit prune", "audit verify", "campaign refresh", "campaign work",
    "caregiver add", "caregiver disable", "caregiver enable", "caregiver set-password", "config show", "status",
    "db current", "db upgrade", "login bankid", "login otp", "login proxy", "password change", "password send",
    "patient edit-profile", "patient enrol", "patient erase", "patient exclude", "patient extract",
    "patient include", "patient show", "patient unlock", "registration answer", "registration new",
    "registration show", "scale list", "scale show", "session show", "staff add", "staff disable", "staff enable",
    "staff grant", "staff revoke", "transport test", "unit add",
}  # fmt: skip
#: listings tested apart: unit list before the unit is added; staff list lists the PostgreSQL cluster's logins
APART = {"unit list", "staff list"}


def test_every_listing_command_is_here() -> None:
    offering = set()
    for path, command in _commands():
        fmt = {p.name: p for p in command.params}.get("fmt")
        if fmt is not None and isinstance(fmt.type, click.Choice) and "csv" in fmt.type.choices:
            offering.add(" ".join(path))
    listed = {" ".join(args[:2]) for args, *_ in LISTINGS}
    assert offering - NOT_LISTINGS - APART == listed


def _campaign(per: RunPer, tmp_path: Path) -> str:
    rows = tmp_path / "lista.csv"
    rows.write_text("personnummer\n199001019802\n", encoding="utf-8")  # not enrolled: rejected, no message
    outbox = {"PER_SMS_TRANSPORT": (tmp_path / "outbox").as_uri()}
    sent = per("password", "send", "--file", str(rows), "--sms", extra_env=outbox)
    assert sent.exit_code == 1, sent.stderr
    return next(line.split()[1] for line in sent.stderr.splitlines() if line.startswith("Campaign "))


def test_empty_listings_print_their_header(per: RunPer, per_proc: RunPer, tmp_path: Path) -> None:
    units = per_proc("unit", "list", "--format", "csv")
    assert (units.exit_code, units.stdout) == (0, "code,name,patients,created_at\n")
    units = per_proc("unit", "list")
    assert units.stdout == "code    name    patients    created_at\n------  ------  ----------  ------------\n"
    assert per("unit", "add", "NEURO-SU", "--name", "Neurologi").exit_code == 0
    assert per(*enrol_args(TOLVAN)).exit_code == 0
    campaign = _campaign(per, tmp_path)
    for n, (args, csv, table, rule) in enumerate(LISTINGS):
        args = [campaign if a == "CAMPAIGN" else a for a in args]
        run = per_proc if n < 2 else per  # the installed program for two listings; the same program in-process
        as_csv = run(*args, "--format", "csv")
        assert (as_csv.exit_code, as_csv.stdout) == (0, csv + "\n"), (args, as_csv.stderr)
        as_table = run(*args, "--format", "table")
        assert (as_table.exit_code, as_table.stdout) == (0, f"{table}\n{rule}\n"), (args, as_table.stderr)
        assert per(*args, "--format", "tsv").stdout == csv.replace(",", "\t") + "\n", args
        assert per(*args, "--format", "json").stdout == "[]\n", args
        assert per(*args, "--format", "jsonl").stdout == "", args
        assert per(*args, "--format", "plain").stdout == "", args
