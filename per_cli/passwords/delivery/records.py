"""The two transactions around a send: ``prepare`` before any transport is called, ``finish`` after.

``prepare`` stores each patient's new hash as pending, a ``password_delivery`` row ``pending`` per channel and the
patient's campaign state ``sending``. ``finish`` records each channel's outcome and its audit event
(``password.send``: outcome ``ok``, ``partial``, ``unknown``, ``failed`` or ``skipped``; details name the campaign,
the channels and their statuses, never the password). A patient whom at least one message surely reached gets
``last_sent_at``/``last_sent_to`` and loses their sessions, unused codes and lock; one whom no message can have
reached gets back what was pending before. Rows are taken in patient order, so two runs over overlapping lists
lock alike and cannot deadlock.

Each runs a fixed number of statements whatever the number of patients (``IN`` lists, executemany, ``UPDATE …
RETURNING patient_id`` counted per patient): a campaign's main thread shares the machine with the threads that
hash, and every statement a patient cost was CPU taken from Argon2id.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Table, bindparam, insert, select

from per_cli.db.models import PasswordDelivery, PatientCredential, utcnow

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from per_cli.credentials.pending import Prior
    from per_cli.passwords.delivery.core import Delivery, Target

ACTION = "password.send"
_OUTCOME = {"sent": "ok", "partial": "partial", "unknown": "unknown", "failed": "failed", "skipped": "skipped"}


def prepare(
    session: Session,
    jobs: Sequence[tuple[Target, str]],
    *,
    campaign_id: str,
    lines: Mapping[int, int] | None = None,
    now: datetime | None = None,
    lease_until: datetime | None = None,
) -> dict[int, Prior]:
    """Store each ``(target, hash)`` as pending with its delivery rows, in the caller's transaction.

    Returns the prior credential state per patient prepared; a patient erased meanwhile is left out (send
    nothing to them). ``lease_until``: a queue worker's lease on the patients it is sending to.
    """
    from per_cli.campaigns.store import upsert_targets
    from per_cli.credentials.pending import store_pending_many
    from per_cli.patients.register import lock_enrolled

    now = now or utcnow()
    enrolled = lock_enrolled(session, [t.patient_id for t, _ in jobs])
    ordered = sorted((j for j in jobs if j[0].patient_id in enrolled), key=lambda j: j[0].patient_id)
    priors = store_pending_many(session, [(t.patient_id, hashed) for t, hashed in ordered], campaign_id, now)
    rows = [
        {
            "patient_id": t.patient_id,
            "batch_id": campaign_id,
            "channel": channel,
            "recipient": to,
            "status": "pending",
            "created_at": now,
            "updated_at": now,
        }
        for t, _ in ordered
        for channel, to in t.recipients
    ]
    if rows:
        session.connection().execute(insert(cast(Table, PasswordDelivery.__table__)), rows)  # Core: no ORM bulk path
        upsert_targets(
            session,
            [
                {
                    "campaign_id": campaign_id,
                    "patient_id": t.patient_id,
                    "line": (lines or {}).get(t.patient_id, 0),
                    "status": "sending",
                    "channels": ",".join(t.channels),
                    "attempts": 1,
                    "updated_at": now,
                    "error": None,
                    **({"lease_until": lease_until} if lease_until else {}),
                }
                for t, _ in ordered
            ],
        )
    return priors


def finish(
    session: Session,
    actor: str,
    deliveries: Sequence[Delivery],
    *,
    campaign_id: str,
    source: str,
    details: Mapping[str, Any] | None = None,
) -> None:
    """Record the outcome of sends that were prepared, in the caller's transaction."""
    from per_cli.audit.events import Event, record_many
    from per_cli.campaigns.store import set_states
    from per_cli.credentials.pending import end_access_many, put_back_many
    from per_cli.patients.register import lock_enrolled

    now = utcnow()
    # a patient erased while the message was on its way keeps nothing but the audit event of the send
    enrolled = lock_enrolled(session, [d.target.patient_id for d in deliveries])
    ordered = sorted((d for d in deliveries if d.target.patient_id in enrolled), key=lambda d: d.target.patient_id)
    outcomes = [
        {
            "b_patient": d.target.patient_id,
            "b_channel": r.channel,
            "status": r.status,
            "provider_id": r.provider_id,
            "error": r.error,
            "sent_at": d.sent_at if r.status in ("sent", "unknown") else None,
            "updated_at": now,
        }
        for d in ordered
        for r in d.results
    ]
    if outcomes:
        table = cast(Table, PasswordDelivery.__table__)
        session.connection().execute(
            table.update()
            .where(
                table.c.batch_id == campaign_id,
                table.c.patient_id == bindparam("b_patient"),
                table.c.channel == bindparam("b_channel"),
                table.c.status == "pending",
            )
            .values(
                status=bindparam("status"),
                provider_id=bindparam("provider_id"),
                error=bindparam("error"),
                sent_at=bindparam("sent_at"),
                updated_at=bindparam("updated_at"),
            ),
            outcomes,
        )
    sent = [d for d in ordered if d.sent]
    back = [
        (d.target.patient_id, d.password_hash, d.prior)
        for d in ordered
        if not d.sent and not d.unknown and d.password_hash is not None and d.prior is not None
    ]
    credentials = cast(Table, PatientCredential.__table__)
    if (sent or back) and session.get_bind().dialect.name == "postgresql":  # SQLite: one writer at a time
        session.connection().execute(  # their rows in patient order, before any of them is written
            select(credentials.c.patient_id)
            .where(credentials.c.patient_id.in_(sorted({d.target.patient_id for d in sent} | {b[0] for b in back})))
            .order_by(credentials.c.patient_id)
            .with_for_update()
        )
    ended: dict[int, dict[str, int]] = {}
    if sent:
        session.connection().execute(  # unless a later send replaced this one's pending password meanwhile
            credentials.update()
            .where(credentials.c.patient_id == bindparam("b_patient"), credentials.c.pending_campaign == campaign_id)
            .values(must_change=True, last_sent_at=bindparam("b_sent_at"), last_sent_to=bindparam("b_sent_to")),
            [{"b_patient": d.target.patient_id, "b_sent_at": d.sent_at, "b_sent_to": d.sent_to} for d in sent],
        )
        ended = end_access_many(session, [d.target.patient_id for d in sent], now)
    put_back_many(session, back)
    set_states(
        session,
        campaign_id,
        [
            {
                "b_patient": d.target.patient_id,
                "status": d.status,
                "error": "; ".join(d.failures()) or None,
                "updated_at": now,
            }
            for d in ordered
        ],
    )
    record_many(
        session,
        [
            Event(
                actor=actor,
                action=ACTION,
                patient_id=d.target.patient_id,
                unit_code=d.target.unit_code,
                outcome=_OUTCOME[d.status],
                details={
                    "batch_id": campaign_id,
                    "source": source,
                    "channels": d.target.channels,
                    "statuses": {r.channel: r.status for r in d.results},
                    **ended.get(d.target.patient_id, {}),
                    **(details or {}),
                },
            )
            for d in deliveries
        ],
    )
