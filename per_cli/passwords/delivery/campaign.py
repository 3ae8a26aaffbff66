"""A bulk send's campaign: new, resumed by id, or found again when the same list is sent on the same channels.

The sending process holds the campaign's lease (``campaign.lease_until``, renewed as it stores) so that two
processes never send the same campaign at once; a run killed leaves the lease to expire. Patients left
``sending`` by a run that died are turned ``unknown`` (with their audit event) when the campaign is taken up
again: their message may have left.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import or_, select, update

from per_cli.db.models import Campaign, CampaignTarget, PasswordDelivery, utcnow
from per_cli.errors import Conflict, InvalidInput

if TYPE_CHECKING:
    from collections.abc import Sequence

    from sqlalchemy.orm import Session

    from per_cli.campaigns.limits import LocalBucket
    from per_cli.passwords.delivery.report import BulkOptions
    from per_cli.transports import Channel
    from per_cli.unit_of_work import UnitOfWork

LEASE = timedelta(seconds=120)


@dataclass(frozen=True)
class Opened:
    campaign_id: str
    resumed: bool


def file_digest(path: str, sheet: str | None) -> str | None:
    """What makes a re-run "the same list": the file's bytes (and the sheet). None for stdin."""
    if path == "-":
        return None
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            while chunk := fh.read(1 << 20):
                digest.update(chunk)
    except OSError:
        return None  # the list reader reports the file's problem in its own words
    digest.update(b"\0" + (sheet or "").encode())
    return digest.hexdigest()


def open_campaign(uow: UnitOfWork, options: BulkOptions, channels: tuple[str, ...], digest: str | None) -> Opened:
    """The campaign to send, leased to this process; patients it left ``sending`` become ``unknown``."""
    from per_cli.campaigns import store
    from per_cli.passwords.delivery.core import new_batch_id

    now = utcnow()
    with uow.transaction() as session:
        found: Campaign | None = None
        if options.resume:
            found = store.get(session, options.resume)
            if found.source != "file":
                raise InvalidInput(f"campaign {found.id} sent one patient a password; resume a list", field="--resume")
            store.check_resume(found, channels, options.channel_rule)
        elif digest and not options.new_campaign:
            found = store.latest_for_file(session, digest, channels, options.channel_rule)
        if found is not None:
            if found.mode == "queue" and not options.enqueue:
                raise InvalidInput(f"campaign {found.id} is queued; `per campaign work` sends it", field="--resume")
            claim(session, found.id, now)
            abandon(session, uow.actor, found.id, now)
            return Opened(found.id, True)
        spec = store.Spec(
            "file",
            channels,
            options.channel_rule,
            file_name=options.file if options.file != "-" else None,
            file_digest=digest,
            mode="queue" if options.enqueue else "inline",
        )
        campaign = store.create(session, uow.actor, spec, new_batch_id(), now)
        claim(session, campaign.id, now)
        return Opened(campaign.id, False)


def claim(session: Session, campaign_id: str, now: datetime) -> None:
    taken = session.execute(
        update(Campaign)
        .where(Campaign.id == campaign_id, or_(Campaign.lease_until.is_(None), Campaign.lease_until < now))
        .values(lease_until=now + LEASE)
    ).rowcount  # type: ignore[attr-defined]
    if taken != 1:
        raise Conflict(
            f"campaign {campaign_id} is being sent by another process; wait for it to finish, or for "
            f"{int(LEASE.total_seconds())} s after it stopped",
            field="campaign",
        )


def renew(session: Session, campaign_id: str, *, release: bool = False) -> None:
    until = None if release else utcnow() + LEASE
    session.execute(update(Campaign).where(Campaign.id == campaign_id).values(lease_until=until))


def abandon(session: Session, actor: str, campaign_id: str, now: datetime, *, expired_only: bool = False) -> int:
    """Patients a dead run left ``sending``: their messages may have left, so they become ``unknown``, each
    with an audit event. ``expired_only``: only those whose own lease ran out (the queue's workers)."""
    from per_cli.audit.events import Event, record_many
    from per_cli.passwords.delivery.records import ACTION

    query = select(CampaignTarget.patient_id).where(
        CampaignTarget.campaign_id == campaign_id, CampaignTarget.status == "sending"
    )
    if expired_only:
        query = query.where(or_(CampaignTarget.lease_until.is_(None), CampaignTarget.lease_until < now))
    stuck = sorted(int(p) for p in session.execute(query.with_for_update(skip_locked=expired_only)).scalars())
    if not stuck:
        return 0
    why = "the run that sent it stopped before recording the outcome; it may have been delivered"
    session.execute(
        update(CampaignTarget)
        .where(CampaignTarget.campaign_id == campaign_id, CampaignTarget.patient_id.in_(stuck))
        .values(status="unknown", error=why, updated_at=now, lease_until=None)
    )
    session.execute(
        update(PasswordDelivery)
        .where(
            PasswordDelivery.batch_id == campaign_id,
            PasswordDelivery.patient_id.in_(stuck),
            PasswordDelivery.status == "pending",
        )
        .values(status="unknown", error=why, updated_at=now)
    )
    record_many(
        session,
        [
            Event(
                actor=actor,
                action=ACTION,
                patient_id=patient_id,
                outcome="unknown",
                details={"batch_id": campaign_id, "reason": "interrupted"},
            )
            for patient_id in stuck
        ],
    )
    return len(stuck)


def check_limits(uow: UnitOfWork, options: BulkOptions, chosen: Sequence[Channel]) -> dict[str, LocalBucket]:
    """Rate limits and quiet hours, checked before anything is written: a bad setting is one line; SMS in quiet
    hours are refused here (queued ones wait, see ``campaigns.work``); ``--enqueue`` needs PostgreSQL."""
    from per_cli.campaigns.limits import LocalBucket, QuietHours, rates
    from per_cli.db.models import utcnow

    limits = rates(uow.config)
    quiet = QuietHours.from_config(uow.config)
    if options.enqueue:
        with uow.transaction() as session:
            if session.get_bind().dialect.name != "postgresql":
                raise InvalidInput(
                    "needs PostgreSQL (workers share the queue through it); on SQLite leave out --enqueue and "
                    "the campaign is sent by this process",
                    field="--enqueue",
                )
    elif quiet and "sms" in chosen and not options.dry_run and (until := quiet.until(utcnow())):
        raise InvalidInput(
            f"no SMS in the quiet hours {quiet.text()} (Swedish time, [messages] quiet_hours); send after "
            f"{until.astimezone(quiet.zone()):%H:%M}, or queue it with --enqueue (PostgreSQL)",
            field="--sms",
        )
    return {channel: LocalBucket(rate) for channel, rate in limits.items()}
