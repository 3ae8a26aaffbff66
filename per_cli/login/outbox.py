"""Reading a one-time code or a sent password back from the ``file://`` outbox, for CI smoke tests
(``--code-from-outbox``, ``--password-from-outbox``).

Refused with any other transport: only a test outbox may hand a code or a password to the program that asked
for it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from per_cli.db.models import OtpChallenge, Patient
from per_cli.errors import PerError
from per_cli.login.otp import check_challenge_id, open_transports
from per_cli.login.refusals import CODE_DENIED, LoginSettings, Refusal, refuse
from per_cli.staff.scope import open_keys

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
        open_keys(session, challenge_id=challenge_id)  # key-only logins (service) may see this challenge
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


def password_from_outbox(uow: UnitOfWork, personnummer: str, *, channel: str | None = None) -> str:
    """The password in the newest password message to the patient in the ``file://`` outbox (CI smoke tests,
    ``--password-from-outbox``); refused for any other transport, like the code.

    ``channel`` (``sms``, ``email``, ``all``/None) says where to look. A message counts when it is one of the
    password texts in use (the configured ones, else the shipped ones in any language) addressed to the
    patient's mobile or e-mail; the password is never logged or shown in an error.
    """
    from per_cli.errors import ConfigError, NotFound
    from per_cli.login.issue import resolve_patient
    from per_cli.transports.file import FileTransport, read_outbox

    wanted = ["sms", "email"] if channel in (None, "all") else [str(channel)]
    transports: dict[str, FileTransport] = {}
    for name in wanted:
        try:
            transport = open_transports(uow.config, [name], require_file=True)[name]
        except ConfigError:
            if len(wanted) == 1:
                raise
            continue  # that channel has no transport at all: nothing was sent there
        assert isinstance(transport, FileTransport)
        transports[name] = transport
    if not transports:
        raise ConfigError("no file:// transport configured for SMS or e-mail", field="password_outbox")
    patterns = _password_patterns(uow)
    with uow.transaction(read_only=True) as session:
        patient = resolve_patient(session, personnummer)
        if patient is None:
            raise NotFound("no such patient in the register", field="personnummer")
        contacts = {"sms": patient.mobile, "email": patient.email}
    found: list[tuple[str, str]] = []
    for name, transport in transports.items():
        for record in read_outbox(transport.directory):
            if record.get("channel") != name or not contacts[name] or record.get("to") != contacts[name]:
                continue
            body = str(record.get("body", ""))
            for pattern in patterns:
                match = pattern.fullmatch(body)
                if match:
                    found.append((str(record.get("file", "")).rsplit("/", 1)[-1], match.group(1)))
                    break
    if not found:
        raise PerError(
            f"no password message to this patient in the outbox ({', '.join(transports)}); "
            "send one first with `per password send PNR --sms`",
            field="password_outbox",
        )
    return max(found)[1]


def _password_patterns(uow: UnitOfWork) -> list[re.Pattern[str]]:
    """The password texts in use, then the shipped ones, as patterns whose one group is the password."""
    from per_cli.passwords.delivery.texts import DEFAULTS, PasswordTexts

    texts = PasswordTexts.from_config(uow.config)
    templates = [texts.sms, texts.email, *(t for sms, _, email in DEFAULTS.values() for t in (sms, email))]
    patterns = []
    for template in dict.fromkeys(templates):
        before, _, after = template.partition("{password}")
        literal = [part.replace("{{", "{").replace("}}", "}") for part in (before, after)]
        patterns.append(re.compile(re.escape(literal[0]) + r"(\S+)" + re.escape(literal[1]), re.DOTALL))
    return patterns
