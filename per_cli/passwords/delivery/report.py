"""What a bulk send reports: its options, a result per line of the list, and the summary.

Statuses of a line: ``sent`` (every channel), ``partial``, ``unknown`` (may have arrived: the connection broke
after the message was handed over), ``failed``, ``rejected`` (cannot be sent to), ``skipped`` (not sent: the run
stopped), ``already`` (reached by an earlier run of the same campaign) and, with ``--dry-run``, ``would_send``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from per_cli.passwords.delivery.core import ChannelResult, Delivery


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
    channel_rule: str = "all"  # "available": each patient on the chosen channels they have
    resume: str | None = None  # a campaign id
    resend_unknown: bool = False
    new_campaign: bool = False  # do not resume the campaign of the same list
    dry_run: bool = False
    enqueue: bool = False  # PostgreSQL: store the campaign for `per campaign work` and return


@dataclass
class BulkSummary:
    rows: int = 0
    sent: int = 0
    partial: int = 0
    unknown: int = 0
    failed: int = 0
    rejected: int = 0
    skipped: int = 0
    already: int = 0
    would_send: int = 0
    seconds: float = 0.0
    stopped: str | None = None
    campaign: str | None = None
    resumed: bool = False

    @property
    def unsuccessful(self) -> int:
        return self.partial + self.unknown + self.failed + self.rejected + self.skipped

    def as_record(self) -> dict[str, Any]:
        return asdict(self)

    def text(self) -> str:
        if self.would_send or (self.rows and self.rows == self.rejected and not self.campaign):
            return f"{self.rows:,} patients: {self.would_send:,} would get a password, {self.rejected:,} rejected"
        text = (
            f"{self.rows:,} patients: {self.sent:,} sent, {self.partial:,} partly sent, {self.failed:,} failed, "
            f"{self.rejected:,} rejected, {self.skipped:,} skipped"
        )
        if self.unknown:
            text += f", {self.unknown:,} unknown"
        if self.already:
            text += f", {self.already:,} already reached"
        return text + f" ({self.seconds:.1f} s)"

    def stop_text(self) -> str:
        """The words for a run that ended early: what holds and how to go on."""
        reached = self.sent + self.partial + self.unknown
        return (
            f"{reached:,} sent (their new passwords work), {self.skipped + self.failed:,} not sent; resume with "
            f"`per password send --resume {self.campaign}`"
        )


@dataclass(frozen=True)
class RowResult:
    """The outcome for one line of the list (see the module's statuses)."""

    line: int
    personnummer: str
    status: str
    error: str | None = None
    delivery: Delivery | None = None
    channels: tuple[str, ...] = ()  # --dry-run: where it would go

    def record(self) -> dict[str, Any]:
        """JSON: the single send's shape plus line and error."""
        if self.delivery:
            channels = [r.record() for r in self.delivery.results]
        else:
            channels = [{"channel": c, "status": self.status} for c in self.channels]
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
            rec[f"{channel}_status"] = result.status if result else (self.status if channel in self.channels else None)
            rec[f"{channel}_provider_id"] = result.provider_id if result else None
        rec["error"] = self.error
        return rec
