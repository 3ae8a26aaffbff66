"""``per password send --file FILE --sms --email``: new passwords for every patient in a list.

A pipeline, so that hashing (the cost that cannot be avoided) never waits for the network:

* the main thread reads the list, resolves personnummer in batches (one query per batch), makes each password
  and submits its Argon2id hash to a thread pool. argon2-cffi releases the GIL around ``argon2_hash`` (CFFI
  API mode calls ``PyEval_SaveThread``), so threads use every core without pickling or process start-up;
* one sender thread per channel owns that channel's transport for the whole run (SMTP keeps one connection)
  and sends in order; a patient's channels are sent in parallel;
* the main thread collects finished patients and stores them in chunks (``core.store``): one transaction per
  ``chunk_size`` patients or ``flush_seconds``, whichever comes first, so the window in which a password is
  sent but not yet stored stays short and other staff are not kept from the database.

Rows that cannot be sent to (an invalid or unknown personnummer, a duplicate, a missing contact) get a result
and the run goes on. When one channel fails ``stop_after_failures`` times in a row, the transport is taken to
be down and the run stops: later patients are reported ``skipped`` rather than hashed and sent into a wall
(with a 30 s timeout, 1 000 patients would otherwise take eight hours). Ctrl-C stops the same way; what was
sent is still stored.
"""

from __future__ import annotations

import logging
import os
import queue
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from itertools import islice
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from per_cli.db.models import CareUnit, Patient
from per_cli.errors import InvalidInput
from per_cli.passwords.delivery.core import (
    ChannelResult,
    Delivery,
    SendSettings,
    Target,
    close_all,
    new_batch_id,
    open_transports,
    order_channels,
    plan_target,
    refused_event,
    store,
)
from per_cli.passwords.delivery.senders import Job, Sender, Stop

if TYPE_CHECKING:
    from per_cli.spreadsheet.headers import PnrRow
    from per_cli.transports import Channel, Transport
    from per_cli.unit_of_work import UnitOfWork

SOURCE = "file"
log = logging.getLogger("per.password_send")


@dataclass(frozen=True)
class BulkOptions:
    file: str
    channels: tuple[str, ...]
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None
    workers: int | None = None  # hashing threads; None: every core
    chunk_size: int = 50  # patients stored per transaction
    flush_seconds: float = 1.0
    lookup_size: int = 500  # personnummer resolved per query
    stop_after_failures: int = 10  # consecutive failures on one channel that stop the run


@dataclass
class BulkSummary:
    rows: int = 0
    sent: int = 0
    partial: int = 0
    failed: int = 0
    rejected: int = 0
    skipped: int = 0
    seconds: float = 0.0
    stopped: str | None = None

    @property
    def unsuccessful(self) -> int:
        return self.partial + self.failed + self.rejected + self.skipped

    def as_record(self) -> dict[str, Any]:
        return asdict(self)

    def text(self) -> str:
        return (
            f"{self.rows:,} patients: {self.sent:,} sent, {self.partial:,} partly sent, {self.failed:,} failed, "
            f"{self.rejected:,} rejected, {self.skipped:,} skipped ({self.seconds:.1f} s)"
        )


@dataclass(frozen=True)
class RowResult:
    """The outcome for one line of the list: ``sent``, ``partial``, ``failed``, ``rejected`` or ``skipped``."""

    line: int
    personnummer: str
    status: str
    error: str | None = None
    delivery: Delivery | None = None

    def record(self) -> dict[str, Any]:
        """JSON: the single send's shape plus line and error."""
        channels = [r.record() for r in self.delivery.results] if self.delivery else []
        return {
            "line": self.line,
            "personnummer": self.personnummer,
            "status": self.status,
            "sent_at": self.delivery.sent_at if self.delivery else None,
            "channels": channels,
            "error": self.error,
        }

    def flat(self) -> dict[str, Any]:
        """Tables and CSV: one row, a column pair per channel."""
        rec: dict[str, Any] = {
            "line": self.line,
            "personnummer": self.personnummer,
            "status": self.status,
            "sent_to": self.delivery.sent_to if self.delivery else None,
            "sent_at": self.delivery.sent_at if self.delivery else None,
        }
        by_channel: dict[str, ChannelResult] = {r.channel: r for r in self.delivery.results} if self.delivery else {}
        for channel in ("email", "sms"):
            result = by_channel.get(channel)
            rec[f"{channel}_status"] = result.status if result else None
            rec[f"{channel}_provider_id"] = result.provider_id if result else None
        rec["error"] = self.error
        return rec


OnResult = Callable[[RowResult], None]


def send_file(
    uow: UnitOfWork,
    options: BulkOptions,
    *,
    on_result: OnResult,
    on_progress: Callable[[BulkSummary], None] | None = None,
    warn: Callable[[str], None] | None = None,
) -> BulkSummary:
    """Send every patient in the list a new password; ``on_result`` gets each row's outcome as it is final."""
    from per_cli.spreadsheet.headers import open_pnr_list

    chosen = order_channels(options.channels)
    if not chosen:
        raise InvalidInput("choose --sms, --email or both")
    settings = SendSettings.from_config(uow.config)
    if "sms" in chosen and warn and (warning := settings.texts.sms_warning(settings.length)):
        warn(warning)
    started = time.perf_counter()
    with open_pnr_list(
        options.file, encoding=options.encoding, delimiter=options.delimiter, sheet=options.sheet
    ) as pnrs:
        transports = open_transports(uow.config, settings, chosen)
        try:
            run = _Run(uow, settings, options, chosen, transports, on_result, on_progress)
            run.execute(pnrs.rows())
        finally:
            close_all(transports)
    run.summary.seconds = time.perf_counter() - started
    return run.summary


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
        on_result: OnResult,
        on_progress: Callable[[BulkSummary], None] | None,
    ) -> None:
        self.uow, self.settings, self.options, self.channels = uow, settings, options, channels
        self.on_result, self.on_progress = on_result, on_progress
        self.summary = BulkSummary()
        self.batch_id = new_batch_id()
        self.stop = Stop()
        self.done: queue.Queue[Job] = queue.Queue()
        self.senders: dict[str, Sender] = {
            ch: Sender(ch, transports[ch], settings, self.stop, self.done, max(1, options.stop_after_failures))
            for ch in channels
        }
        self.workers = options.workers or default_workers()
        self.hashing: deque[tuple[Job, Future[str]]] = deque()
        self.outstanding = 0  # jobs handed to the senders and not yet back
        self.max_outstanding = max(16, 4 * self.workers)
        self.pending: list[tuple[int, Delivery]] = []
        self.last_flush = time.monotonic()
        self.seen: dict[int, int] = {}  # patient id -> first line naming them

    # -- driving --

    def execute(self, rows: Iterable[PnrRow]) -> None:
        from per_cli.credentials.passwords import generate_password

        for sender in self.senders.values():
            sender.start()
        pool = ThreadPoolExecutor(self.workers, thread_name_prefix="per-hash")
        try:
            iterator = iter(rows)
            while batch := list(islice(iterator, self.options.lookup_size)):
                for line, target in self._resolve(batch):
                    if self.stop.event.is_set():
                        self._skip(line, target)
                        continue
                    job = Job(line, target, generate_password(self.settings.length))
                    self.hashing.append((job, pool.submit(_hash, job.password, self.settings)))
                    while len(self.hashing) >= self.workers * 2:
                        self._dispatch_oldest()
                    self._collect(block=False)
            while self.hashing:
                self._dispatch_oldest()
            self._finish(pool, emit=True)
        except BaseException:  # Ctrl-C, a database fault, a failing callback: store what was sent, print no more
            self.stop.set("the run was interrupted")
            self._finish(pool, emit=False)
            raise
        self.summary.stopped = self.stop.reason

    def _finish(self, pool: ThreadPoolExecutor, *, emit: bool) -> None:
        """Stop hashing, let the senders finish the message in hand (the rest is skipped once the run stops),
        and store every patient that came back. Safe to call again after it failed half-way."""
        pool.shutdown(wait=True, cancel_futures=True)
        unsent, self.hashing = list(self.hashing), deque()
        for sender in self.senders.values():
            sender.jobs.put(None)
        while self.outstanding:
            self._collect(block=True, emit=emit)
        for sender in self.senders.values():
            sender.join()
        if emit:
            self._flush()
            for job, _ in unsent:
                self._skip(job.line, job.target)
            return
        try:
            self._flush(emit=False)
        except Exception as exc:  # the error being raised already says what broke; say what it cost
            log.warning("%d patients were sent a new password that could not be stored, so their old passwords "
                        "still work: %s", len(self.pending), exc)  # fmt: skip

    def _skip(self, line: int, target: Target) -> None:
        self._emit(RowResult(line, _display(target.personnummer), "skipped", f"not sent: {self.stop.reason}"))

    def _dispatch_oldest(self) -> None:
        """Hand the oldest hashed job to the senders, waiting for its hash and for room in the pipeline."""
        job, future = self.hashing.popleft()
        job.password_hash = future.result()
        while self.outstanding >= self.max_outstanding:
            self._collect(block=True)
        self.outstanding += 1
        for channel in job.target.channels:
            self.senders[channel].jobs.put(job)

    def _collect(self, *, block: bool, emit: bool = True) -> None:
        """Take finished jobs off the done queue (waiting for one if ``block``); store them when a chunk is due."""
        while True:
            try:
                job = self.done.get(block=block, timeout=self.options.flush_seconds if block else None)
            except queue.Empty:
                break
            block = False
            self.outstanding -= 1
            delivery = job.delivery()
            if delivery.status != "skipped":
                self.pending.append((job.line, delivery))
            elif emit:
                self._emit(
                    RowResult(
                        job.line, _display(job.target.personnummer), "skipped", delivery.results[0].error, delivery
                    )
                )
        due = time.monotonic() - self.last_flush >= self.options.flush_seconds
        if emit and (len(self.pending) >= self.options.chunk_size or (self.pending and due)):
            self._flush()  # on the error path (not emit) everything is stored once, at the end

    def _flush(self, *, emit: bool = True) -> None:
        """Store the pending patients in one transaction, then report them (stored first: output may fail)."""
        self.last_flush = time.monotonic()
        if not self.pending:
            return
        chunk, self.pending = self.pending, []
        try:
            with self.uow.transaction() as session:
                store(session, self.uow.actor, [d for _, d in chunk], batch_id=self.batch_id, source=SOURCE)
        except BaseException:
            self.pending = chunk + self.pending  # interrupted mid-commit: the error path tries once more
            raise
        if emit:
            for line, delivery in chunk:
                error = "; ".join(delivery.failures()) or None
                self._emit(RowResult(line, _display(delivery.target.personnummer), delivery.status, error, delivery))

    def _emit(self, result: RowResult) -> None:
        self.summary.rows += 1
        setattr(self.summary, result.status, getattr(self.summary, result.status) + 1)
        self.on_result(result)
        if self.on_progress:
            self.on_progress(self.summary)

    # -- reading the list --

    def _resolve(self, batch: Sequence[PnrRow]) -> list[tuple[int, Target]]:
        """Targets for the rows that can be sent to; every other row gets its ``rejected`` result, in line order."""
        from per_cli.audit.events import record_many
        from per_cli.identity.personnummer import parse_personnummer

        rejected: list[RowResult] = []
        parsed: list[tuple[PnrRow, list[str]]] = []
        for row in batch:
            try:
                if row.error:
                    raise InvalidInput(row.error)
                if not row.value.strip():
                    raise InvalidInput("missing", field="personnummer")
                candidates = [c.canonical for c in parse_personnummer(row.value).candidates]
            except InvalidInput as exc:
                rejected.append(RowResult(row.line, row.value, "rejected", str(exc)))
                continue
            parsed.append((row, candidates))
        targets: list[tuple[int, Target]] = []
        if parsed:
            wanted = sorted({c for _, candidates in parsed for c in candidates})
            query = (
                select(Patient, CareUnit.code)
                .join(CareUnit, CareUnit.id == Patient.unit_id)
                .where(Patient.personnummer.in_(wanted))
            )
            with self.uow.transaction() as session:
                found = {p.personnummer: (p, code) for p, code in session.execute(query).tuples()}
                refused = []
                for row, candidates in parsed:
                    matches = [found[c] for c in candidates if c in found]
                    if len(matches) != 1:
                        rejected.append(RowResult(row.line, row.value, "rejected", _NO_MATCH if not matches else _MANY))
                        continue
                    patient, unit_code = matches[0]
                    shown = _display(patient.personnummer)
                    first = self.seen.setdefault(patient.id, row.line)
                    if first != row.line:
                        rejected.append(RowResult(row.line, shown, "rejected", f"duplicate of line {first}"))
                        continue
                    try:
                        targets.append((row.line, plan_target(patient, unit_code, self.channels)))
                    except InvalidInput as exc:
                        event = refused_event(
                            self.uow.actor, patient, unit_code, self.channels, str(exc), source=SOURCE
                        )
                        refused.append(event)
                        rejected.append(RowResult(row.line, shown, "rejected", str(exc)))
                record_many(session, refused)
        for result in sorted(rejected, key=lambda r: r.line):
            self._emit(result)
        return targets


_NO_MATCH = "personnummer: no patient with this personnummer is enrolled"
_MANY = "personnummer: these 10 digits match more than one patient; give all 12 digits (YYYYMMDD-NNNN)"


def _hash(password: str, settings: SendSettings) -> str:
    from per_cli.credentials.passwords import hash_password

    return hash_password(password, settings.params)


def _display(canonical: str) -> str:
    from per_cli.patients.register import display_pnr

    return display_pnr(canonical)
