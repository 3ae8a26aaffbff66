"""What single and bulk sends share: settings, who gets what, one channel's send, and the records around it.

The order that never leaves a patient without a working password: check the contacts, make and hash
the new password, then in one transaction store it as *pending* (``credentials.pending``) with a delivery row
``pending`` per channel (``records.prepare``); only then call the transports; then, in one transaction, record
each channel's outcome (``sent``, ``failed``, ``unknown``) with its audit event (``records.finish``). A run
killed between the two leaves the pending password valid beside the old one and the rows ``pending``: the
campaign reports them and a resume treats them as ``unknown``.

A password sent by staff also ends the patient's sessions and unused codes and clears the failure count and any
lock: the lock protected the old password against guessing, and "the patient is locked out" is the usual
reason to send a new one.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from per_cli.db.models import Patient, utcnow
from per_cli.errors import ConfigError, InvalidInput

if TYPE_CHECKING:
    from per_cli.config import Config
    from per_cli.credentials.passwords import Argon2Params
    from per_cli.credentials.pending import Prior
    from per_cli.passwords.delivery.texts import PasswordTexts
    from per_cli.transports import Channel, Transport

#: e-mail first, as in the source document's confirmation ("… till tolvan.tolvansson@tolv.se, +46812345678")
CHANNEL_ORDER: tuple[Channel, ...] = ("email", "sms")
DEFAULT_LENGTH = 12
ACTION = "password.send"

ChannelStatus = Literal["sent", "failed", "unknown", "skipped"]


@dataclass(frozen=True)
class SendSettings:
    """Everything from the config that a send needs, validated before any patient is looked up."""

    length: int
    params: Argon2Params
    texts: PasswordTexts
    sms_sender: str | None
    email_from: str | None

    @classmethod
    def from_config(cls, config: Config) -> SendSettings:
        from per_cli.credentials.passwords import Argon2Params
        from per_cli.passwords.delivery.texts import PasswordTexts
        from per_cli.transports import validate_sender_id

        where = str(config.path) if config.path else "config"
        sender = config.get_str("messages", "sms_sender")
        if sender is not None:
            try:
                sender = validate_sender_id(sender.strip())
            except ValueError as exc:
                raise ConfigError(f"[messages] sms_sender: {exc}", field=where) from None
        email_from = (config.get_str("messages", "email_from") or "").strip() or None
        return cls(
            length=config.get_int("passwords", "length", DEFAULT_LENGTH, lo=8, hi=64),
            params=Argon2Params.from_config(config),
            texts=PasswordTexts.from_config(config),
            sms_sender=sender or None,
            email_from=email_from,
        )


def order_channels(channels: Iterable[str]) -> tuple[Channel, ...]:
    chosen = set(channels)
    unknown = chosen - set(CHANNEL_ORDER)
    if unknown:
        raise InvalidInput(f"unknown channel {sorted(unknown)[0]!r} (sms or email)", field="channel")
    return tuple(c for c in CHANNEL_ORDER if c in chosen)


def new_batch_id() -> str:
    """A campaign id: 32 hex digits."""
    return uuid.uuid4().hex


# --- who gets what ---


@dataclass(frozen=True)
class Target:
    """A patient whose contacts passed the checks, with one recipient per chosen channel (e-mail first)."""

    patient_id: int
    personnummer: str  # canonical 12 digits
    unit_code: str
    recipients: tuple[tuple[Channel, str], ...]

    @property
    def channels(self) -> list[str]:
        return [channel for channel, _ in self.recipients]


def contact_problems(patient: Patient, channels: Sequence[Channel]) -> list[str]:
    """Why the chosen channels cannot reach this patient, one phrase per problem (empty: all fine)."""
    # no personnummer and no contact detail in these texts: they are error lines and rejected rows' reasons
    problems: list[str] = []
    if patient.excluded_on is not None:
        problems.append(
            f"personnummer: the patient was excluded on {patient.excluded_on.isoformat()} and cannot "
            "log in; no password is sent"
        )
    if "email" in channels and not patient.email:
        problems.append(
            "--email: the patient has no e-mail address; add one with `per patient edit-profile PERSONNUMMER "
            "--email ADDRESS`"
        )
    if "sms" in channels:
        if not patient.mobile:
            problems.append(
                "--sms: the patient has no mobile number; add one with `per patient edit-profile PERSONNUMMER "
                "--mobile +46701234567`"
            )
        else:
            kind = _number_type(patient.mobile, patient.mobile_type)
            if kind not in ("mobile", "fixed_line_or_mobile"):
                problems.append(
                    f"--sms: the patient's number is a {kind.replace('_', ' ')} number; SMS needs a mobile number: "
                    "send with --email only, or give a mobile with `per patient edit-profile PERSONNUMMER --mobile "
                    "+46701234567`"
                )
    return problems


def _number_type(number: str, stored: str | None) -> str:
    if stored:
        return stored
    from per_cli.identity.phone import parse_phone

    try:  # a row written before the type was stored: ask the numbering plan
        return parse_phone(number).number_type
    except InvalidInput:
        return "invalid"


def plan_target(patient: Patient, unit_code: str, channels: Sequence[Channel]) -> Target:
    """The target for a send; ``InvalidInput`` naming every problem when a chosen channel cannot be used."""
    problems = contact_problems(patient, channels)
    if problems:
        raise InvalidInput("; ".join(problems))
    contact = {"email": patient.email or "", "sms": patient.mobile or ""}
    return Target(patient.id, patient.personnummer, unit_code, tuple((c, contact[c]) for c in channels))


# --- sending ---


@dataclass(frozen=True)
class ChannelResult:
    channel: Channel
    recipient: str
    status: ChannelStatus
    provider_id: str | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == "sent"

    def record(self) -> dict[str, Any]:
        return {
            "channel": self.channel,
            "recipient": self.recipient,
            "status": self.status,
            "provider_id": self.provider_id,
            "error": self.error,
        }


def open_transports(config: Config, settings: SendSettings, channels: Sequence[Channel]) -> dict[Channel, Transport]:
    """One transport per chosen channel (nothing is connected yet); ConfigError before anything is sent."""
    from per_cli.transports import open_configured

    opened: dict[Channel, Transport] = {}
    try:
        for channel in channels:
            default_from = settings.sms_sender if channel == "sms" else settings.email_from
            opened[channel] = open_configured(channel, config.data, config.environ, default_from=default_from)
    except BaseException:
        close_all(opened)
        raise
    return opened


def close_all(transports: Mapping[Channel, Transport]) -> None:
    for transport in transports.values():
        try:
            transport.close()
        except Exception:  # a plugin's close must not hide the outcome of the send
            from per_cli.transports.base import log

            log.warning("closing the %s transport failed", transport.scheme, exc_info=True)


def send_on(
    transport: Transport, channel: Channel, to: str, password: str, texts: PasswordTexts, *, key: str | None = None
) -> ChannelResult:
    """Send the password on one channel; a plugin that raises counts as a failed delivery, not a crash."""
    from per_cli.transports import Message

    if channel == "sms":
        message = Message("sms", to, texts.sms_body(password), key=key)
    else:
        subject, body = texts.email_message(password)
        message = Message("email", to, body, subject, key=key)
    try:
        result = transport.send(message)
    except Exception as exc:
        return ChannelResult(channel, to, "failed", None, f"the {transport.scheme}:// transport failed: {exc}")
    if result.ok:
        return ChannelResult(channel, to, "sent", result.provider_id)
    if result.status == "unknown":
        return ChannelResult(channel, to, "unknown", result.provider_id, result.error or "may have been delivered")
    return ChannelResult(channel, to, "failed", result.provider_id, result.error or "not delivered")


@dataclass
class Delivery:
    """One patient's send: a result per channel, the hash stored as pending, and what it replaced."""

    target: Target
    results: list[ChannelResult]
    sent_at: datetime | None = None
    password_hash: str | None = field(default=None, repr=False)
    prior: Prior | None = field(default=None, repr=False)

    @property
    def sent(self) -> list[ChannelResult]:
        return [r for r in self.results if r.ok]

    @property
    def unknown(self) -> list[ChannelResult]:
        return [r for r in self.results if r.status == "unknown"]

    @property
    def status(self) -> str:
        """``sent`` (every channel), ``partial``, ``unknown`` (none sure, some may have arrived), ``failed`` (none),
        ``skipped`` (none tried: the run stopped)."""
        sent = len(self.sent)
        if sent == len(self.results):
            return "sent"
        if sent:
            return "partial"
        if self.unknown:
            return "unknown"
        return "skipped" if all(r.status == "skipped" for r in self.results) else "failed"

    @property
    def sent_to(self) -> str:
        """The recipients that got the password, e-mail first: what the profile shows."""
        return ", ".join(r.recipient for r in self.sent)

    def failures(self) -> list[str]:
        return [f"{r.channel} to {r.recipient}: {r.error}" for r in self.results if not r.ok]

    def record(self) -> dict[str, Any]:
        from per_cli.patients.register import display_pnr

        return {
            "personnummer": display_pnr(self.target.personnummer),
            "status": self.status,
            "sent_at": self.sent_at,
            "channels": [r.record() for r in self.results],
        }


def finish(target: Target, results: list[ChannelResult], password_hash: str, prior: Prior | None = None) -> Delivery:
    """The delivery after sending: the time counts when a channel delivered or may have."""
    reached = any(r.ok or r.status == "unknown" for r in results)
    return Delivery(target, results, utcnow() if reached else None, password_hash, prior)


def refused_event(
    actor: str, patient: Patient, unit_code: str, channels: Sequence[str], reason: str, *, source: str
) -> Any:
    """The audit event of a send refused before anything was made or sent (the contacts were read)."""
    from per_cli.audit.events import Event

    return Event(
        actor=actor,
        action=ACTION,
        patient_id=patient.id,
        unit_code=unit_code,
        outcome="refused",
        details={"source": source, "channels": list(channels), "reason": reason},
    )
