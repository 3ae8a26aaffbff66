"""Bulk sends as campaigns and the dry run / available channels."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.helpers.per import TOLVAN
from tests.helpers.world import World

OTHERS = ["195001011005", "195001021004", "195001031003"]


def _listing(desk: World, tmp_path: Path) -> Path:
    desk.enrol()
    for i, pnr in enumerate(OTHERS):
        desk.enrol(pnr, mobile=f"+4670174061{i}", email=None if i == 1 else f"patient{i}@example.se")
    listing = tmp_path / "lista.txt"
    listing.write_text("\n".join([TOLVAN, *OTHERS]) + "\n")
    return listing


def _campaign(stderr: str) -> str:
    found = re.search(r"(?:Campaign|Resuming) ([0-9a-f]{32})", stderr)
    assert found, stderr
    return found.group(1)


def test_a_rerun_of_the_same_list_resumes_and_sends_nobody_twice(desk: World, tmp_path: Path) -> None:
    listing = _listing(desk, tmp_path)
    first = desk.send("--file", str(listing), "--sms", "--format", "json")
    assert first.exit_code == 0, first.stderr
    campaign = _campaign(first.stderr)
    assert first.stderr.startswith(f"Campaign {campaign}\n")
    again = desk.send("--file", str(listing), "--sms", "--format", "json")
    assert again.exit_code == 0, again.stderr
    assert _campaign(again.stderr) == campaign and "Resuming" in again.stderr
    assert {r["status"] for r in json.loads(again.stdout)} == {"already"}
    assert len(desk.messages()) == 4
    resumed = desk.send("--resume", campaign, "--format", "json")
    assert resumed.exit_code == 0 and {r["status"] for r in json.loads(resumed.stdout)} == {"already"}
    fresh = desk.send("--file", str(listing), "--sms", "--new-campaign")
    assert fresh.exit_code == 0 and _campaign(fresh.stderr) != campaign and len(desk.messages()) == 8


def test_resume_refuses_other_channels_and_unknown_ids(desk: World, tmp_path: Path) -> None:
    listing = _listing(desk, tmp_path)
    campaign = _campaign(desk.send("--file", str(listing), "--sms").stderr)
    other = desk.send("--resume", campaign, "--email")
    assert other.exit_code == 1
    assert other.stderr == (
        f"Error: --resume: campaign {campaign} was sent with --sms; resume it with the same channels or start a new "
        "one\n"
    )
    missing = desk.send("--resume", "0" * 32)
    assert missing.exit_code == 1 and missing.stderr.startswith("Error: campaign: no campaign with this id")
    garbage = desk.send("--resume", "nope")
    assert garbage.exit_code == 1 and "campaign: not a campaign id" in garbage.stderr
    assert len(desk.messages()) == 4


def test_dry_run_shows_who_would_get_what_and_changes_nothing(desk: World, tmp_path: Path) -> None:
    listing = _listing(desk, tmp_path)
    before = desk.sql("SELECT count(*) FROM audit_event")[0][0]
    result = desk.send("--file", str(listing), "--sms", "--email", "--channels", "available", "--dry-run",
                       "--format", "json")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    rows = {r["personnummer"]: r for r in json.loads(result.stdout)}
    assert {r["status"] for r in rows.values()} == {"would_send"}
    assert [c["channel"] for c in rows["19500102-1004"]["channels"]] == ["sms"]  # no e-mail address on file
    assert [c["channel"] for c in rows["19121212-1212"]["channels"]] == ["email", "sms"]
    assert desk.messages() == [] and desk.sql("SELECT count(*) FROM campaign")[0][0] == 0
    assert desk.sql("SELECT count(*) FROM audit_event")[0][0] == before


def test_channels_available_sends_each_patient_on_what_they_have(desk: World, tmp_path: Path) -> None:
    listing = _listing(desk, tmp_path)
    strict = desk.send("--file", str(listing), "--sms", "--email", "--dry-run", "--format", "json")
    assert strict.exit_code == 3 and "rejected" in {r["status"] for r in json.loads(strict.stdout)}
    result = desk.send("--file", str(listing), "--sms", "--email", "--channels", "available", "--format", "json")
    assert result.exit_code == 0, result.stderr
    rows = {r["personnummer"]: r for r in json.loads(result.stdout)}
    assert [c["channel"] for c in rows["19500102-1004"]["channels"]] == ["sms"]
    assert len(desk.messages()) == 7
