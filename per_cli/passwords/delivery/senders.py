"""The bulk send's threads: one sender per channel, owning that channel's transport for the whole run.

A ``Job`` is one patient on its way through the pipeline; ``Stop`` is the shared reason the run ends early (a
transport down, Ctrl-C), after which senders report ``skipped`` instead of sending into a wall.
"""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from per_cli.passwords.delivery.core import ChannelResult, Delivery, SendSettings, Target, finish, send_on

if TYPE_CHECKING:
    from per_cli.campaigns.limits import LocalBucket
    from per_cli.credentials.pending import Prior
    from per_cli.transports import Channel, Transport


@dataclass
class Job:
    line: int
    target: Target
    password: str = field(repr=False)
    password_hash: str = field(default="", repr=False)
    results: dict[str, ChannelResult] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    prior: Prior | None = field(default=None, repr=False)

    def finish_channel(self, result: ChannelResult) -> bool:
        """Record one channel's result; True for the call that completes the job."""
        with self.lock:
            self.results[result.channel] = result
            return len(self.results) == len(self.target.recipients)

    def delivery(self) -> Delivery:
        results = [self.results[channel] for channel in self.target.channels]
        self.password = ""
        return finish(self.target, results, self.password_hash, self.prior)


class Stop:
    """Shared between threads: why the run stops (the first reason wins)."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.reason: str | None = None
        self._lock = threading.Lock()

    def set(self, reason: str) -> None:
        with self._lock:
            if self.reason is None:
                self.reason = reason
        self.event.set()


class Sender(threading.Thread):
    """Sends one channel's messages in order with the one transport instance of the run."""

    def __init__(
        self,
        channel: Channel,
        transport: Transport,
        settings: SendSettings,
        stop: Stop,
        done: queue.Queue[Job],
        limit: int,
    ) -> None:
        super().__init__(name=f"per-send-{channel}", daemon=True)
        self.channel, self.transport, self.settings = channel, transport, settings
        self.stop, self.done, self.limit = stop, done, limit
        self.jobs: queue.Queue[Job | None] = queue.Queue()
        self.bucket: LocalBucket | None = None  # [transports] sms_per_second / email_per_second

    def run(self) -> None:
        failures_in_a_row = 0
        while (job := self.jobs.get()) is not None:
            to = dict(job.target.recipients)[self.channel]
            if self.stop.event.is_set():
                result = ChannelResult(self.channel, to, "skipped", None, f"not sent: {self.stop.reason}")
            else:
                try:
                    if self.bucket is not None:
                        self.bucket.take()
                    result = send_on(self.transport, self.channel, to, job.password, self.settings.texts)
                except Exception as exc:  # a bug must not leave the main thread waiting for this job forever
                    result = ChannelResult(self.channel, to, "failed", None, f"internal error: {exc!r}")
                failures_in_a_row = 0 if result.ok else failures_in_a_row + 1
                if failures_in_a_row >= self.limit:
                    self.stop.set(
                        f"the run stopped after {failures_in_a_row} {self.channel} failures in a row "
                        f"(last: {result.error})"
                    )
            if job.finish_channel(result):
                self.done.put(job)
