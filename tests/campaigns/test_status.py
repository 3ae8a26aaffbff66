"""Delivery status: `password status`, `campaign show`, and `campaign refresh` asking the
46elks and Twilio stand-ins (GET /a1/sms/{id}, GET …/Messages/{sid}.json)."""

from __future__ import annotations

import json
import re

import pytest

from per_cli.credentials.passwords import verify_password
from tests.helpers.per import TOLVAN
from tests.helpers.servers import Gateway
from tests.helpers.world import PASSWORD, World


def _campaign(world: World) -> str:
    result = world.per("password", "status", TOLVAN, "--format", "json")
    assert result.exit_code == 0, result.stderr
    return str(json.loads(result.stdout)[0]["campaign"])


@pytest.mark.parametrize("flavor", ["elks", "twilio"])
def test_refresh_asks_the_gateway_and_a_delivered_password_replaces_the_old(
    world: World, request: pytest.FixtureRequest, flavor: str
) -> None:
    gateway: Gateway = request.getfixturevalue(f"{flavor}_gateway")
    world.configure(sms=gateway.url())
    assert world.send(TOLVAN, "--sms").exit_code == 0
    campaign = _campaign(world)
    new = re.search(r"[A-Za-z2-9]{12}", gateway.requests[-1]["form"]["message" if flavor == "elks" else "Body"])
    assert new is not None
    status = world.per("password", "status", TOLVAN, "--format", "json")
    [row] = json.loads(status.stdout)
    assert row["status"] == "sent" and row["channel"] == "sms"
    assert "a new password is pending since" in status.stderr

    refreshed = world.per("campaign", "refresh", campaign, "--format", "json")
    assert refreshed.exit_code == 0, refreshed.stderr
    assert json.loads(refreshed.stdout)["delivered"] == 1 and len(gateway.status_requests) == 1
    [row] = json.loads(world.per("password", "status", TOLVAN, "--format", "json").stdout)
    assert row["status"] == "delivered"
    credential = world.credential()
    assert credential.pending_hash is None and verify_password(credential.password_hash, new.group(0))
    assert not verify_password(credential.password_hash, PASSWORD)
    [event] = world.audit("password.delivery")
    assert event["outcome"] == "delivered" and event["details"]["promoted"] is True
    again = world.per("campaign", "refresh", campaign, "--format", "json")
    assert json.loads(again.stdout)["asked"] == 0 and len(gateway.status_requests) == 1  # final: not asked again


def test_undelivered_keeps_the_old_password_and_show_lists_it(world: World, twilio_gateway: Gateway) -> None:
    world.configure(sms=twilio_gateway.url())
    twilio_gateway.delivery = "undelivered"
    assert world.send(TOLVAN, "--sms").exit_code == 0
    campaign = _campaign(world)
    assert world.per("campaign", "refresh", campaign).exit_code == 0
    shown = world.per("campaign", "show", campaign, "--format", "json")
    assert shown.exit_code == 0, shown.stderr
    [row] = json.loads(shown.stdout)
    assert row["status"] == "undelivered" and "30003 Unreachable" in row["error"]
    assert verify_password(world.credential().password_hash, PASSWORD)
    assert f"Campaign {campaign} (single, sms, inline)" in shown.stderr


def test_the_file_transport_cannot_tell_and_bad_ids_are_one_line(world: World) -> None:
    assert world.send(TOLVAN, "--email").exit_code == 0
    campaign = _campaign(world)
    result = world.per("campaign", "refresh", campaign, "--format", "json")
    assert result.exit_code == 0 and json.loads(result.stdout)["cannot_tell"] == 1
    for bad, reason in (("0" * 32, "no campaign with this id"), ("x1", "not a campaign id")):
        for command in ("show", "refresh"):
            run = world.per("campaign", command, bad)
            assert run.exit_code == 1 and run.stderr.startswith(f"Error: campaign: {reason}"), run.stderr
            assert len(run.stderr.splitlines()) == 1
