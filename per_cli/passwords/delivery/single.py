"""``per password send PNR --sms --email``: the support desk's "Skicka nytt lösenord" for one patient.

Steps, each a reason to stop before the next: the config (texts, sender, transports) → the patient and the
contacts for every chosen channel and the contact-change hold (a refusal is audited and changes nothing else)
→ a new password and its Argon2id hash → one transaction that opens a campaign and stores the password as
pending with its delivery rows (``records.prepare``) → a send on every chosen channel, with no transaction open
(an SMTP server may take seconds, and SQLite would be locked meanwhile) → one transaction that records the
outcome (``records.finish``). The caller decides the exit code from the returned ``Delivery`` with
:func:`outcome_error`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from per_cli.db.models import utcnow
from per_cli.errors import AuthDenied, DeliveryFailed, InvalidInput, NotFound, PartialFailure, PerError
from per_cli.passwords.delivery.core import (
    Delivery,
    SendSettings,
    Target,
    close_all,
    finish,
    new_batch_id,
    open_transports,
    order_channels,
    plan_target,
    refused_event,
    send_on,
)

if TYPE_CHECKING:
    from per_cli.unit_of_work import UnitOfWork


def send_password(
    uow: UnitOfWork,
    pnr_text: str,
    *,
    channels: Iterable[str],
    contact_verified_by: str | None = None,
    warn: Callable[[str], None] | None = None,
) -> Delivery:
    """Send one patient a new password on the chosen channels; returns the outcome per channel.

    Raises before anything is sent: ``InvalidInput`` (no channel, unusable contact, excluded patient),
    ``NotFound``/``Conflict`` (personnummer), ``ConfigError`` (texts, sender, transports), ``ContactHeld`` (exit 4:
    a contact replaced within ``[passwords] contact_change_hold_hours``, unless ``contact_verified_by`` says how
    staff confirmed it; see ``per_cli.credentials.contact_hold``).
    """
    from per_cli.campaigns.store import Spec, create
    from per_cli.credentials.contact_hold import HoldSettings, check_hold, check_verified_by
    from per_cli.credentials.passwords import generate_password, hash_password
    from per_cli.identity.personnummer import parse_personnummer
    from per_cli.passwords.delivery.records import finish as record_outcome
    from per_cli.passwords.delivery.records import prepare
    from per_cli.patients.register import find_patient, load_with_unit

    chosen = order_channels(channels)
    if not chosen:
        raise InvalidInput("choose --sms, --email or both")
    settings = SendSettings.from_config(uow.config)
    parse_personnummer(pnr_text)  # a mistyped number stops here, with its reason
    contact_verified_by = check_verified_by(contact_verified_by)
    hold = HoldSettings.from_config(uow.config)
    if "sms" in chosen and warn and (warning := settings.texts.sms_warning(settings.length)):
        warn(warning)
    transports = open_transports(uow.config, settings, chosen)
    try:
        refusal: PerError | None = None
        with uow.transaction() as session:
            patient = find_patient(session, pnr_text)
            unit_code, _ = load_with_unit(session, patient)
            try:
                target: Target = plan_target(patient, unit_code, chosen)
                extra: dict[str, Any] = check_hold(
                    patient, target.channels, hold, utcnow(), verified_by=contact_verified_by
                )
            except (InvalidInput, AuthDenied) as exc:
                from per_cli.audit.events import record

                record(session, refused_event(uow.actor, patient, unit_code, chosen, str(exc), source="single"))
                refusal = exc
        if refusal is not None:
            raise refusal
        password = generate_password(settings.length)
        hashed = hash_password(password, settings.params)
        campaign_id = new_batch_id()
        with uow.transaction() as session:
            create(session, uow.actor, Spec("single", tuple(chosen)), campaign_id)
            priors = prepare(session, [(target, hashed)], campaign_id=campaign_id)
        if target.patient_id not in priors:
            raise NotFound("the patient was erased meanwhile; nothing was sent", field="personnummer")
        results = [send_on(transports[ch], ch, to, password, settings.texts) for ch, to in target.recipients]
        del password
    finally:
        close_all(transports)
    delivery = finish(target, results, hashed, priors[target.patient_id])
    try:
        with uow.transaction() as session:
            record_outcome(session, uow.actor, [delivery], campaign_id=campaign_id, source="single", details=extra)
    except PerError as exc:
        if delivery.sent_at is not None:
            raise PerError(
                f"the new password was sent to {delivery.sent_to or 'a channel that may have delivered it'} and "
                f"works (it was stored before it was sent), but the outcome could not be recorded: {exc}"
            ) from exc
        raise
    return delivery


def outcome_error(delivery: Delivery) -> PerError | None:
    """The error to exit with after the report is printed: none sent → exit 1, some → exit 3, all → None."""
    failures = "; ".join(delivery.failures())
    if delivery.status == "sent":
        return None
    if delivery.sent:
        return PartialFailure(f"sent to {delivery.sent_to} only; {failures}")
    if delivery.unknown:
        return PartialFailure(
            f"the password may have been delivered: {failures}; the old one and the new one both work until "
            "one is used (see `per password status`)"
        )
    return DeliveryFailed(f"no password was sent, the old one still works: {failures}")
