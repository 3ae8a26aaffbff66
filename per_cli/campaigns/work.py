"""``per campaign work [--concurrency N] [--drain]``: send queued campaigns, on any number of machines (PostgreSQL).

``password send --file … --enqueue`` stores the campaign's patients as ``queued``. Each worker thread claims a few
with ``SELECT … FOR UPDATE SKIP LOCKED`` (two workers never claim the same patient, and none waits for another)
and marks them ``claimed`` with a lease; then, like the sending process: hash (argon2-cffi releases the GIL, so
N threads use N cores), store as pending with delivery rows (``records.prepare``; the patient is ``sending``),
send, record (``records.finish``). A failed send is queued again with a doubling back-off until
``max_attempts``. SMS wait out the quiet hours; every message first takes its slot from the channel's rate
limit, shared through the database (``limits.SharedBucket``).

A worker killed mid-way leaves leases that run out; :mod:`per_cli.campaigns.recovery` settles them. With the
file transport (which can tell what left) every patient is reached exactly once, however often workers are
killed.

Why not procrastinate: the queue's rows are the campaign's own (``campaign_target``), which staff read with
``campaign show`` and which resume, ``unknown`` and re-planning from the current profile are defined on. A job
library would keep a second copy of that state in its own tables, schema and worker model, and still need the
lease recovery above; ``SKIP LOCKED`` on the campaign's rows is a few dozen lines.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from per_cli.db.models import Campaign, CampaignTarget, PasswordDelivery, utcnow
from per_cli.errors import InvalidInput

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from per_cli.campaigns.claim import Claimed
    from per_cli.campaigns.limits import QuietHours
    from per_cli.credentials.pending import Prior
    from per_cli.passwords.delivery.core import Delivery, SendSettings, Target
    from per_cli.transports import Transport
    from per_cli.unit_of_work import UnitOfWork

log = logging.getLogger("per.campaign_work")
SOURCE = "queue"


@dataclass(frozen=True)
class WorkOptions:
    concurrency: int | None = None  # threads; None: one per core
    drain: bool = False  # exit when nothing is left to do
    batch: int = 32  # patients claimed at a time per thread
    lease_seconds: float = 60.0
    max_attempts: int = 3
    backoff_seconds: float = 30.0
    poll_seconds: float = 1.0
    drain_poll_seconds: float = 0.1  # draining while other workers finish their last batches


@dataclass
class WorkSummary:
    outcomes: Counter[str] = field(default_factory=Counter)
    requeued: int = 0
    recovered: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0

    def record(self) -> dict[str, Any]:
        counts = {k: self.outcomes[k] for k in ("sent", "partial", "unknown", "failed", "skipped")}
        return {**counts, "requeued": self.requeued, "recovered": dict(self.recovered), "seconds": self.seconds}

    def text(self) -> str:
        o = self.outcomes
        return (f"{o['sent']:,} sent, {o['partial']:,} partly sent, {o['unknown']:,} unknown, {o['failed']:,} failed, "
                f"{self.requeued:,} queued again ({self.seconds:.1f} s)")  # fmt: skip


def work(uow: UnitOfWork, options: WorkOptions) -> WorkSummary:
    """Run worker threads until stopped (Ctrl-C) or, with ``drain``, until no queued patient is left."""
    from per_cli.campaigns.limits import QuietHours, rates
    from per_cli.passwords.delivery.bulk import default_workers
    from per_cli.passwords.delivery.core import SendSettings

    with uow.transaction() as session:
        dialect = session.get_bind().dialect.name
    if dialect != "postgresql":
        raise InvalidInput(
            "campaign work shares campaigns through PostgreSQL; on SQLite `password send --file` sends in its own "
            "process",
            field="database",
        )
    settings = SendSettings.from_config(uow.config)
    limits, quiet = rates(uow.config), QuietHours.from_config(uow.config)
    summary = WorkSummary()
    stop = threading.Event()
    errors: list[BaseException] = []
    started = time.perf_counter()
    shared = _Shared(uow, settings, options, limits, quiet, summary, stop, errors)
    threads = [threading.Thread(target=shared.loop, name=f"per-work-{i}", daemon=True)
               for i in range(options.concurrency or default_workers())]  # fmt: skip
    for thread in threads:
        thread.start()
    try:
        for thread in threads:
            while thread.is_alive():
                thread.join(0.2)
    except BaseException:
        stop.set()
        for thread in threads:
            thread.join()
        raise
    summary.seconds = time.perf_counter() - started
    if errors:
        raise errors[0]
    return summary


class _Shared:
    def __init__(
        self,
        uow: UnitOfWork,
        settings: SendSettings,
        options: WorkOptions,
        limits: dict[str, float],
        quiet: QuietHours | None,
        summary: WorkSummary,
        stop: threading.Event,
        errors: list[BaseException],
    ) -> None:
        from per_cli.campaigns.limits import SharedBucket

        self.uow, self.settings, self.options, self.quiet = uow, settings, options, quiet
        self.summary, self.stop, self.errors = summary, stop, errors
        self.lock = threading.Lock()
        self.buckets = {ch: SharedBucket(uow, ch, rate) for ch, rate in limits.items()}

    def loop(self) -> None:
        """A pipeline of three: this thread claims a batch and stores the previous one as pending while a hashing
        thread hashes the next, and a sending thread sends and records the one before (the network, the file
        outbox's writes); so hashing, the one cost that cannot be avoided, never waits for the database."""
        from concurrent.futures import Future, ThreadPoolExecutor

        from per_cli.passwords.delivery.core import close_all

        transports: dict[str, Transport] = {}
        lookups: dict[str, Transport] = {}  # the recovery's own (this thread's)
        hashing_pool = ThreadPoolExecutor(1, thread_name_prefix="per-work-hash")
        sending = ThreadPoolExecutor(1, thread_name_prefix="per-work-send")
        hashing: Future[list[_Hashed]] | None = None
        inflight: Future[None] | None = None
        unstored: list[list[Claimed]] = []  # claimed, not yet stored: given back on a stop
        claimed: list[Claimed] = []
        recover_at = 0.0  # monotonic
        try:
            while not self.stop.is_set():
                # leases left by a dead worker: at the start, whenever the queue looks empty, and every quarter
                # lease while busy (two statements a batch were CPU taken from hashing)
                if not claimed or time.monotonic() >= recover_at:
                    self.recover(lookups)
                    recover_at = time.monotonic() + self.options.lease_seconds / 4
                claimed = self.claim()
                if claimed:
                    unstored.append(claimed)
                hashed = hashing.result() if hashing is not None else None
                # the next batch is hashed while this thread stores the last one: the hashing thread never idles
                hashing = hashing_pool.submit(self.hash, claimed) if claimed else None
                if hashed is not None:
                    staged = self.store(hashed)
                    unstored.pop(0)
                    if inflight is not None:
                        inflight.result()
                    inflight = sending.submit(self.deliver, staged, transports)
                if claimed:
                    continue
                if inflight is not None:  # the last batch first: it may have queued failures again
                    finished: Future[None] = inflight
                    inflight = None
                    finished.result()
                    continue
                left = self.left() if self.options.drain else "queued"
                if left is None:
                    return
                # draining, with other workers' last batches all that is left: look again soon, so that this one
                # exits right after the last of them (a back-off or the quiet hours: the usual poll)
                self.stop.wait(self.options.drain_poll_seconds if left == "elsewhere" else self.options.poll_seconds)
            if inflight is not None:
                inflight.result()
        except BaseException as exc:  # one line for the user; the other threads stop
            with self.lock:
                self.errors.append(exc)
            self.stop.set()
        finally:
            hashing_pool.shutdown(wait=True, cancel_futures=True)
            self.release([item for batch in unstored for item in batch])
            sending.shutdown(wait=True)
            close_all(transports)  # type: ignore[arg-type]
            close_all(lookups)  # type: ignore[arg-type]

    # -- claiming (per_cli.campaigns.claim) --

    def claim(self) -> list[Claimed]:
        from per_cli.campaigns.claim import claim

        return claim(self.uow, batch=self.options.batch, lease_seconds=self.options.lease_seconds, quiet=self.quiet)

    def release(self, claimed: list[Claimed]) -> None:
        from per_cli.campaigns.claim import release

        release(self.uow, claimed)

    def left(self) -> str | None:
        """What a draining worker still waits for: ``elsewhere`` (patients other workers claimed or are sending
        to; if one died, its lease gives them back), ``queued`` (waiting out a back-off or the quiet hours), or
        None: nothing."""
        with self.uow.transaction() as session:
            for states, what in ((("claimed", "sending"), "elsewhere"), (("queued",), "queued")):
                found = session.execute(
                    select(CampaignTarget.patient_id)
                    .join(Campaign, Campaign.id == CampaignTarget.campaign_id)
                    .where(Campaign.mode == "queue", CampaignTarget.status.in_(states))
                    .limit(1)
                ).first()  # fmt: skip
                if found is not None:
                    return what
        return None

    # -- sending --

    def hash(self, claimed: list[Claimed]) -> list[_Hashed]:
        """Make and hash the claimed patients' passwords, grouped by campaign (no database)."""
        from per_cli.credentials.passwords import generate_password, hash_password

        by_campaign: dict[str, list[tuple[int, Target]]] = {}
        for campaign, line, target in claimed:
            by_campaign.setdefault(campaign.id, []).append((line, target))
        out = []
        for campaign_id, items in by_campaign.items():
            passwords = {t.patient_id: generate_password(self.settings.length) for _, t in items}
            hashes = {pid: hash_password(pw, self.settings.params) for pid, pw in passwords.items()}
            out.append(_Hashed(campaign_id, items, passwords, hashes))
        return out

    def store(self, hashed: list[_Hashed]) -> list[_Staged]:
        """Store the hashed passwords as pending with their delivery rows (the patients become ``sending`` with
        a lease)."""
        from per_cli.passwords.delivery.records import prepare

        staged = []
        for batch in hashed:
            campaign_id, items, hashes = batch.campaign_id, batch.items, batch.hashes
            lease = utcnow() + timedelta(seconds=self.options.lease_seconds)
            with self.uow.transaction() as session:
                priors = prepare(session, [(t, hashes[t.patient_id]) for _, t in items], campaign_id=campaign_id,
                                 lines={t.patient_id: line for line, t in items}, lease_until=lease)  # fmt: skip
                keys = _keys(session, campaign_id, list(priors))
            targets = [t for _, t in items if t.patient_id in priors]
            staged.append(_Staged(campaign_id, targets, batch.passwords, hashes, priors, keys))
        return staged

    def deliver(self, staged: list[_Staged], transports: dict[str, Transport]) -> None:
        """Send the staged patients' messages, then record the outcomes (and queue failures again)."""
        from per_cli.passwords.delivery.core import finish, send_on
        from per_cli.passwords.delivery.records import finish as record_outcome

        for batch in staged:
            deliveries: list[Delivery] = []
            for target in batch.targets:
                results = []
                for channel, to in target.recipients:
                    transport = transports.get(channel) or self._open(channel, transports)
                    if channel in self.buckets:
                        self.buckets[channel].take()
                    password, key = batch.passwords[target.patient_id], batch.keys.get((target.patient_id, channel))
                    results.append(send_on(transport, channel, to, password, self.settings.texts, key=key))
                hashed, prior = batch.hashes[target.patient_id], batch.priors[target.patient_id]
                deliveries.append(finish(target, results, hashed, prior))
            batch.passwords.clear()
            with self.uow.transaction() as session:
                record_outcome(session, self.uow.actor, deliveries, campaign_id=batch.campaign_id, source=SOURCE)
                requeued = self._requeue(session, batch.campaign_id, deliveries)
            with self.lock:
                self.summary.outcomes.update(d.status for d in deliveries)
                self.summary.requeued += requeued

    def _requeue(self, session: Session, campaign_id: str, deliveries: list[Delivery]) -> int:
        """Failed sends go back in the queue with a doubling back-off, until ``max_attempts``."""
        now = utcnow()
        failed = [d.target.patient_id for d in deliveries if d.status in ("failed", "skipped")]
        if not failed:
            return 0
        rows = session.execute(
            select(CampaignTarget).where(
                CampaignTarget.campaign_id == campaign_id,
                CampaignTarget.patient_id.in_(failed),
                CampaignTarget.attempts < self.options.max_attempts,
            )
        ).scalars().all()  # fmt: skip
        for row in rows:
            delay = self.options.backoff_seconds * 2 ** max(0, row.attempts - 1)
            row.status, row.not_before, row.lease_until = "queued", now + timedelta(seconds=delay), None
        return len(rows)

    def _open(self, channel: str, transports: dict[str, Transport]) -> Transport:
        from per_cli.transports import open_configured

        default_from = self.settings.sms_sender if channel == "sms" else self.settings.email_from
        config = self.uow.config
        transports[channel] = open_configured(channel, config.data, config.environ, default_from=default_from)
        return transports[channel]

    # -- after a worker died --

    def recover(self, transports: dict[str, Transport]) -> None:
        """Leases that ran out: see :mod:`per_cli.campaigns.recovery`."""
        from per_cli.campaigns.recovery import recover

        back, stuck = recover(self.uow, lambda channel: transports.get(channel) or self._open(channel, transports))
        if back or stuck:
            with self.lock:
                self.summary.recovered["claimed"] += back
                self.summary.recovered["sending"] += stuck


@dataclass
class _Hashed:
    """One campaign's share of a claimed batch with its new passwords hashed, not yet stored."""

    campaign_id: str
    items: list[tuple[int, Target]]
    passwords: dict[int, str] = field(repr=False)
    hashes: dict[int, str] = field(repr=False)


@dataclass
class _Staged:
    """One campaign's share of a claimed batch, stored as pending and ready to send."""

    campaign_id: str
    targets: list[Target]
    passwords: dict[int, str] = field(repr=False)
    hashes: dict[int, str] = field(repr=False)
    priors: dict[int, Prior]
    keys: dict[tuple[int, str], str]


def _keys(session: Session, campaign_id: str, patient_ids: list[int]) -> dict[tuple[int, str], str]:
    """The message key of each pending delivery row: ``d`` and the row's id (how ``find_sent`` finds it)."""
    rows = session.execute(
        select(PasswordDelivery.id, PasswordDelivery.patient_id, PasswordDelivery.channel).where(
            PasswordDelivery.batch_id == campaign_id,
            PasswordDelivery.patient_id.in_(patient_ids),
            PasswordDelivery.status == "pending",
        )
    ).tuples()
    return {(int(pid), str(channel)): f"d{row_id}" for row_id, pid, channel in rows}
