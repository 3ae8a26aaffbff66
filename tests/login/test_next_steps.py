"""A login refused for something staff can fix says how: the missing contact and the option to use instead,
the one-time-code key file that cannot be used and where else the key can come from."""

from __future__ import annotations

from tests.helpers.per import TOLVAN, RunPer
from tests.helpers.world import PASSWORD, World


def _otp(per_proc: RunPer, *args: str) -> tuple[int, str, str]:
    result = per_proc("login", "otp", TOLVAN, "--password-stdin", "--code-from-outbox", *args, input=PASSWORD + "\n")
    return result.exit_code, result.stdout, result.stderr


def test_a_channel_the_profile_lacks_names_the_edit_and_the_other_channel(world: World, per_proc: RunPer) -> None:
    assert world.per("patient", "edit-profile", TOLVAN, "--no-mobile").exit_code == 0
    assert _otp(per_proc, "--channel", "sms") == (
        1,
        "",
        "Error: --channel sms: the patient's profile has no mobile number; add one with `per patient edit-profile "
        "PNR --mobile NUMBER`, or choose --channel email\n",
    )
    assert world.per("patient", "edit-profile", TOLVAN, "--no-email", "--mobile", "08-465 004 00").exit_code == 0
    assert _otp(per_proc, "--channel", "email")[2] == (
        "Error: --channel email: the patient's profile has no e-mail address; add one with `per patient "
        "edit-profile PNR --email ADDRESS`, or choose --channel sms\n"
    )
    assert world.messages() == []


def test_a_short_key_file_says_what_to_put_there(world: World, per_proc: RunPer) -> None:
    world.key_file.write_text("kort\n", encoding="ascii")
    assert _otp(per_proc) == (
        1,
        "",
        f"Error: {world.key_file}: the one-time-code key file must hold at least 32 characters; put the key the "
        "other machines use in it, or set PER_OTP_KEY or [otp] key\n",
    )
