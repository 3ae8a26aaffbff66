"""``per password send --file FILE --sms --email``: new passwords for every patient in a list, as a campaign.

First the list is read (``listing``): personnummer resolved in batches, every line that cannot be sent to
rejected with its reason, the patients found stored as the campaign's targets. Then the campaign is sent, by
this process (SQLite, or PostgreSQL without ``--enqueue``) or by ``per campaign work``. A re-run of the same
list with the same channels, or ``--resume CAMPAIGN``, sends only to the patients not yet reached.

Sending is a pipeline, so that hashing (the cost that cannot be avoided) never waits for the network:

* the main thread makes each password and submits its Argon2id hash to a thread pool. argon2-cffi releases the
  GIL around ``argon2_hash`` (CFFI API mode calls ``PyEval_SaveThread``), so threads use every core without
  pickling or process start-up; hashed patients are stored as pending (``records.prepare``, one transaction
  for those ready) and only then handed on;
* one sender thread per channel owns that channel's transport for the whole run (SMTP keeps one connection)
  and sends in order; a patient's channels are sent in parallel;
* the main thread collects finished patients and records them in chunks (``records.finish``): one transaction
  per ``chunk_size`` patients or ``flush_seconds``, whichever comes first.

When one channel fails ``stop_after_failures`` times in a row, the transport is taken to be down and the run
stops: later patients are reported ``skipped`` rather than hashed and sent into a wall. Ctrl-C and a database
fault stop the same way; what was sent is recorded, every patient still gets a result line, and the summary
says how to resume.
"""

from __future__ import annotations

import logging
import os
import queue
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING

from per_cli.errors import InvalidInput
from per_cli.passwords.delivery.core import (
    ChannelResult,
    Delivery,
    SendSettings,
    Target,
    close_all,
    open_transports,
    order_channels,
)
from per_cli.passwords.delivery.listing import SOURCE, display
from per_cli.passwords.delivery.report import BulkOptions, BulkSummary, RowResult
from per_cli.passwords.delivery.senders import Job, Sender, Stop

if TYPE_CHECKING:
    from per_cli.transports import Channel, Transport
    from per_cli.unit_of_work import UnitOfWork

__all__ = ["BulkOptions", "BulkSummary", "RowResult", "send_file"]
log = logging.getLogger("per.password_send")

OnResult = Callable[[RowResult], None]
#: states sent again by a resume; ``unknown`` only with ``--resend-unknown``
RESEND = ("queued", "failed", "skipped")


def send_file(
    uow: UnitOfWork,
    options: BulkOptions,
    *,
    on_result: OnResult,
    on_progress: Callable[[BulkSummary], None] | None = None,
    on_start: Callable[[str, bool], None] | None = None,
    warn: Callable[[str], None] | None = None,
) -> tuple[BulkSummary, BaseException | None]:
    """Send (or with ``dry_run`` only plan) the campaign; ``on_result`` gets each line's outcome as it is final.

    Returns the summary and, for a run that ended early on an error (Ctrl-C, a database fault), that error: the
    caller reports everything first and then raises it.
    """
    from per_cli.passwords.delivery.campaign import check_limits, file_digest, open_campaign

    if options.resume and not options.channels:
        options = _with_campaign_channels(uow, options)
    chosen = order_channels(options.channels)
    if not chosen:
        raise InvalidInput("choose --sms, --email or both")
    settings = SendSettings.from_config(uow.config)
    limits = check_limits(uow, options, chosen)
    if "sms" in chosen and warn and (warning := settings.texts.sms_warning(settings.length)):
        warn(warning)
    summary = BulkSummary()
    started = time.perf_counter()

    def emit(result: RowResult) -> None:
        summary.rows += 1
        setattr(summary, result.status, getattr(summary, result.status) + 1)
        on_result(result)
        if on_progress:
            on_progress(summary)

    if options.dry_run:
        _dry_run(uow, options, chosen, emit)
        summary.seconds = time.perf_counter() - started
        return summary, None
    transports = open_transports(uow.config, settings, chosen) if not options.enqueue else {}
    try:
        opened = open_campaign(uow, options, tuple(chosen), file_digest(options.file, options.sheet) if options.file
                               else None)  # fmt: skip
        summary.campaign, summary.resumed = opened.campaign_id, opened.resumed
        if on_start:
            on_start(opened.campaign_id, opened.resumed)
        run = _Run(uow, settings, options, chosen, transports, opened.campaign_id, emit)
        for channel, sender in run.senders.items():
            sender.bucket = limits.get(channel)
        error = run.execute()
    finally:
        close_all(transports)
    summary.stopped = run.stop.reason if run.stop.event.is_set() else None
    summary.seconds = time.perf_counter() - started
    return summary, error


def _dry_run(uow: UnitOfWork, options: BulkOptions, chosen: Sequence[Channel], emit: OnResult) -> None:
    """Who would get a password on which channels: the list is read and checked, nothing is written."""
    from per_cli.credentials.contact_hold import HoldSettings
    from per_cli.passwords.delivery.listing import Reader
    from per_cli.spreadsheet.headers import open_pnr_list

    reader = Reader(uow, chosen, options.channel_rule, emit, audit=False, lookup_size=options.lookup_size,
                    hold=HoldSettings.from_config(uow.config))  # fmt: skip
    with open_pnr_list(options.file, encoding=options.encoding, delimiter=options.delimiter,
                       sheet=options.sheet) as pnrs:  # fmt: skip
        for batch in reader.batches(pnrs.rows()):
            for line, target in batch:
                emit(RowResult(line, display(target.personnummer), "would_send", channels=tuple(target.channels)))


def _with_campaign_channels(uow: UnitOfWork, options: BulkOptions) -> BulkOptions:
    """``--resume ID`` without channels: the campaign's own."""
    from dataclasses import replace

    from per_cli.campaigns.store import get

    with uow.transaction() as session:
        campaign = get(session, options.resume or "")
        channels, rule = tuple(campaign.channels.split(",")), campaign.channel_rule
    return replace(options, channels=channels, channel_rule=rule)


def default_workers() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class _Run:
    def __init__(
        self,
        uow: UnitOfWork,
        settings: SendSettings,
        options: BulkOptions,
        channels: Sequence[Channel],
        transports: dict[Channel, Transport],
        campaign_id: str,
        emit: OnResult,
    ) -> None:
        self.uow, self.settings, self.options, self.channels = uow, settings, options, channels
        self.campaign_id, self.emit = campaign_id, emit
        self.stop = Stop()
        self.done: queue.Queue[Job] = queue.Queue()
        self.senders: dict[str, Sender] = {
            ch: Sender(ch, transports[ch], settings, self.stop, self.done, max(1, options.stop_after_failures))
            for ch in transports
        }
        self.workers = options.workers or default_workers()
        #: patients stored as pending per transaction, and hashes kept in flight: twice that, so the pool never
        #: waits while this thread stores one batch (one transaction per patient cost a quarter of the rate)
        self.batch = max(1, min(options.chunk_size, 8 * self.workers))
        self.depth = 2 * self.batch
        self.hashing: deque[tuple[Job, Future[str]]] = deque()
        self.outstanding = 0  # jobs handed to the senders and not yet back
        self.max_outstanding = max(16, 4 * self.workers, 2 * self.batch)
        self.pending: list[tuple[int, Delivery]] = []
        self.last_flush = time.monotonic()

    # -- driving --

    def execute(self) -> BaseException | None:
        """Read the list into the campaign, then send to every target not yet reached; the error that ended
        the run early, if one did (after everything that was sent is recorded and reported)."""
        from per_cli.credentials.passwords import generate_password

        todo: deque[tuple[int, Target]] = deque()
        pool = ThreadPoolExecutor(self.workers, thread_name_prefix="per-hash")
        try:
            self._read_list()
            if self.options.enqueue:
                self._release()
                return None
            todo = deque(self._targets())
            for sender in self.senders.values():
                sender.start()
            while todo:
                if self.stop.event.is_set():
                    break
                line, target = todo.popleft()
                job = Job(line, target, generate_password(self.settings.length))
                self.hashing.append((job, pool.submit(_hash, job.password, self.settings)))
                while len(self.hashing) >= self.depth:
                    self._dispatch()
                self._collect(block=False)
            while self.hashing and not self.stop.event.is_set():
                self._dispatch()
            self._finish(pool, todo)
            self._release()
        except BaseException as exc:  # Ctrl-C, a database fault, a failing callback: record and report what we can
            self.stop.set(f"the run was interrupted ({type(exc).__name__})" if isinstance(exc, KeyboardInterrupt)
                          else f"the run stopped on an error: {exc}")  # fmt: skip
            try:
                self._finish(pool, todo)
            except BaseException as again:  # the database is gone: the pending passwords still work
                log.warning("recording the end of campaign %s failed: %s", self.campaign_id, again)
            return exc
        return None

    def _read_list(self) -> None:
        from sqlalchemy.dialects import postgresql, sqlite

        from per_cli.credentials.contact_hold import HoldSettings
        from per_cli.db.models import CampaignTarget
        from per_cli.passwords.delivery.listing import Reader
        from per_cli.spreadsheet.headers import open_pnr_list

        if not self.options.file:
            return
        hold = HoldSettings.from_config(self.uow.config)
        reader = Reader(self.uow, self.channels, self.options.channel_rule, self.emit,
                        lookup_size=self.options.lookup_size, hold=hold)  # fmt: skip
        with open_pnr_list(self.options.file, encoding=self.options.encoding, delimiter=self.options.delimiter,
                           sheet=self.options.sheet) as pnrs:  # fmt: skip
            for batch in reader.batches(pnrs.rows()):
                if not batch:
                    continue
                with self.uow.transaction() as session:
                    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
                    rows = [{"campaign_id": self.campaign_id, "patient_id": t.patient_id, "line": line,
                             "status": "queued", "channels": ",".join(t.channels), "attempts": 0}
                            for line, t in batch]  # fmt: skip
                    session.execute(dialect.insert(CampaignTarget).on_conflict_do_nothing(), rows)
                    self._renew(session)

    def _targets(self) -> list[tuple[int, Target]]:
        """The patients to send to now; the others get their line in the report (``already``, ``unknown``)."""
        from sqlalchemy import select

        from per_cli.credentials.contact_hold import HoldSettings
        from per_cli.db.models import CampaignTarget, Patient
        from per_cli.passwords.delivery.listing import load_targets

        wanted = (*RESEND, "unknown") if self.options.resend_unknown else RESEND
        hold = HoldSettings.from_config(self.uow.config)
        with self.uow.transaction() as session:
            targets, problems = load_targets(
                session, self.campaign_id, wanted, self.channels, self.options.channel_rule, hold
            )
            others = session.execute(
                select(CampaignTarget.line, Patient.personnummer, CampaignTarget.status, CampaignTarget.error)
                .join(Patient, Patient.id == CampaignTarget.patient_id)
                .where(CampaignTarget.campaign_id == self.campaign_id, CampaignTarget.status.not_in(wanted))
                .order_by(CampaignTarget.line)
            ).tuples().all()  # fmt: skip
        for line, pnr, status, error in others:
            if status == "unknown":
                why = f"{error or 'may have been delivered'}; --resend-unknown sends a new password"
                self.emit(RowResult(line, display(pnr), "unknown", why))
            else:
                self.emit(RowResult(line, display(pnr), "already", f"reached earlier in campaign ({status})"))
        for line, shown, reason in problems:
            self.emit(RowResult(line, shown, "rejected", reason))
        return targets

    def _finish(self, pool: ThreadPoolExecutor, todo: deque[tuple[int, Target]]) -> None:
        """Stop hashing, let the senders finish the messages in hand (the rest is skipped once the run stops),
        record every patient that came back and report the ones never tried. Safe to call again."""
        pool.shutdown(wait=True, cancel_futures=True)
        unsent, self.hashing = list(self.hashing), deque()
        for sender in self.senders.values():
            sender.jobs.put(None)
        while self.outstanding:
            self._collect(block=True)
        for sender in self.senders.values():
            if sender.is_alive():
                sender.join()
        self._flush()
        reason = f"not sent: {self.stop.reason}"
        for job, _ in unsent:
            self.emit(RowResult(job.line, display(job.target.personnummer), "skipped", reason))
        for line, target in todo:
            self.emit(RowResult(line, display(target.personnummer), "skipped", reason))
        todo.clear()

    def _dispatch(self) -> None:
        """Store the oldest ``batch`` hashed jobs (waiting for them, and any others ready) as pending in one
        transaction, then hand them to the senders, waiting for room in the pipeline."""
        from per_cli.passwords.delivery.records import prepare

        ready: list[Job] = []
        while (
            self.hashing
            and (len(ready) < self.batch or self.hashing[0][1].done())
            and len(ready) < self.options.chunk_size
        ):
            job, future = self.hashing.popleft()
            job.password_hash = future.result()
            ready.append(job)
        with self.uow.transaction() as session:
            priors = prepare(
                session,
                [(j.target, j.password_hash) for j in ready],
                campaign_id=self.campaign_id,
                lines={j.target.patient_id: j.line for j in ready},
            )
            self._renew(session)
        for job in ready:
            job.prior = priors.get(job.target.patient_id)
        handed = 0
        try:
            for job in ready:
                if job.prior is None:
                    self.emit(
                        RowResult(job.line, display(job.target.personnummer), "skipped", "the patient was erased")
                    )
                    handed += 1
                    continue
                while self.outstanding >= self.max_outstanding:
                    self._collect(block=True)
                self.outstanding += 1
                handed += 1
                for channel in job.target.channels:
                    self.senders[channel].jobs.put(job)
        finally:  # stopped while waiting for room: the rest were stored as pending and are recorded as not sent
            for job in ready[handed:]:
                for channel, to in job.target.recipients:
                    job.finish_channel(ChannelResult(channel, to, "skipped", None, "not sent: the run stopped"))
                self.pending.append((job.line, job.delivery()))

    def _collect(self, *, block: bool) -> None:
        """Take finished jobs off the done queue (waiting for one if ``block``); record them when a chunk is due."""
        while True:
            try:
                job = self.done.get(block=block, timeout=self.options.flush_seconds if block else None)
            except queue.Empty:
                break
            block = False
            self.outstanding -= 1
            self.pending.append((job.line, job.delivery()))
        due = time.monotonic() - self.last_flush >= self.options.flush_seconds
        if len(self.pending) >= self.options.chunk_size or (self.pending and due):
            self._flush()

    def _flush(self) -> None:
        """Record the finished patients in one transaction, then report them (recorded first: output may fail).

        If recording fails, they are reported anyway (their pending passwords work) and the error goes on."""
        from per_cli.passwords.delivery.records import finish

        self.last_flush = time.monotonic()
        if not self.pending:
            return
        chunk, self.pending = self.pending, []
        try:
            with self.uow.transaction() as session:
                finish(session, self.uow.actor, [d for _, d in chunk], campaign_id=self.campaign_id, source=SOURCE)
                self._renew(session)
        except BaseException:
            self._emit_all(
                RowResult(line, display(delivery.target.personnummer), delivery.status,
                          "; ".join([*delivery.failures(), "the outcome could not be recorded"]), delivery)
                for line, delivery in chunk
            )  # fmt: skip
            raise
        self._emit_all(
            RowResult(line, display(delivery.target.personnummer), delivery.status,
                      "; ".join(delivery.failures()) or None, delivery)
            for line, delivery in chunk
        )  # fmt: skip

    def _emit_all(self, results: Iterable[RowResult]) -> None:
        """Report every result of a chunk even if reporting one is interrupted (Ctrl-C while printing): they were
        all sent and recorded; the interruption goes on after the last."""
        interrupted: BaseException | None = None
        for result in results:
            try:
                self.emit(result)
            except BaseException as exc:
                interrupted = interrupted or exc
        if interrupted is not None:
            raise interrupted

    def _renew(self, session: object) -> None:
        from per_cli.passwords.delivery.campaign import renew

        renew(session, self.campaign_id)  # type: ignore[arg-type]

    def _release(self) -> None:
        from per_cli.passwords.delivery.campaign import renew

        with self.uow.transaction() as session:
            renew(session, self.campaign_id, release=True)


def _hash(password: str, settings: SendSettings) -> str:
    from per_cli.credentials.passwords import hash_password

    return hash_password(password, settings.params)
