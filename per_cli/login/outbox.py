"""Reading a one-time code back from the ``file://`` outbox, for CI smoke tests (``--code-from-outbox``).

Refused with any other transport: only a test outbox may hand a code to the program that asked for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from per_cli.db.models import OtpChallenge, Patient
from per_cli.errors import PerError
from per_cli.login.otp import check_challenge_id, open_transports
from per_cli.login.refusals import CODE_DENIED, LoginSettings, Refusal, refuse

if TYPE_CHECKING:
    from per_cli.unit_of_work import UnitOfWork


def code_from_outbox(uow: UnitOfWork, challenge_id: str, *, files: Mapping[str, str] | None = None) -> str:
    """Read the code of a challenge back from the ``file://`` outbox (CI smoke tests); refused for any other
    transport. Reads the file the send just wrote when known, else the newest message to the patient's
    contact on the challenge's channels."""
    from per_cli.credentials.otp import code_from_text, newest_message_to
    from per_cli.transports.file import FileTransport, read_outbox

    settings = LoginSettings.from_config(uow.config)
    challenge_id = check_challenge_id(challenge_id)
    with uow.transaction() as session:
        row = session.execute(
            select(OtpChallenge.channels, Patient.mobile, Patient.email)
            .join(Patient, Patient.id == OtpChallenge.patient_id)
            .where(OtpChallenge.id == challenge_id)
        ).first()
    if row is None:
        refuse(
            uow,
            "login.otp",
            Refusal("unknown_challenge", CODE_DENIED, details={"step": "code", "challenge_id": challenge_id}),
            settings.lockout,
        )
    channels = [c for c in row.channels.split(",") if c]
    transports = open_transports(uow.config, channels, require_file=True)
    for channel in channels:
        transport = transports[channel]
        assert isinstance(transport, FileTransport)
        record: dict[str, Any] | None = None
        if files and channel in files:
            import json

            try:
                with open(files[channel], encoding="utf-8") as fh:
                    record = json.load(fh)
            except (OSError, ValueError):
                record = None
        if record is None:
            to = row.mobile if channel == "sms" else row.email
            record = newest_message_to(read_outbox(transport.directory), channel, to or "")
        if record is not None:
            found = code_from_text(str(record.get("body", "")), settings.otp.digits)
            if found:
                return found
    raise PerError(f"no one-time code for this challenge in the outbox ({', '.join(channels)})", field="outbox")
