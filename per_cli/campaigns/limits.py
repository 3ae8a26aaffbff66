"""Sending limits: a per-transport rate shared by every machine, and quiet hours for SMS.

``[transports] sms_per_second`` / ``email_per_second``: a ceiling per channel. Each message takes the next free
slot, one interval after the previous one; on PostgreSQL the next free slot is one row (``transport_rate``) that
each send reserves in one statement, so workers on any number of machines share one rate; the sending process
(SQLite) keeps it in memory. Slots are never saved up: in no interval of length t do more than 1 + rate·t
messages leave. The pace is ``PACE`` (99 %) of the setting, so that the jitter of sleeping and of the network
never puts the provider's count above its limit (a late first message otherwise makes the rest look fast).

``[messages] quiet_hours = "21:00-08:00"``: Swedish time (Europe/Stockholm, summer time included). No SMS is
sent then; queued SMS wait until the end of the quiet hours.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from datetime import time as clock
from typing import TYPE_CHECKING

from per_cli.errors import ConfigError

if TYPE_CHECKING:
    from per_cli.config import Config
    from per_cli.unit_of_work import UnitOfWork

SWEDISH = "Europe/Stockholm"
#: the share of a configured rate that is used: the rest is headroom for timing jitter
PACE = 0.99
_HOURS = re.compile(r"^\s*([01]?\d|2[0-3]):([0-5]\d)\s*-\s*([01]?\d|2[0-3]):([0-5]\d)\s*$")


def rates(config: Config) -> dict[str, float]:
    """Messages per second per channel; a missing setting is no limit. ≤ 0 or not a number: ConfigError."""
    where = str(config.path) if config.path else "config"
    found: dict[str, float] = {}
    for channel in ("sms", "email"):
        key = f"{channel}_per_second"
        section = config.data.get("transports", {})
        value = section.get(key) if isinstance(section, dict) else None
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise ConfigError(f"[transports] {key}: must be a number above 0 (messages per second), got {value!r}",
                              field=where)  # fmt: skip
        found[channel] = float(value)
    return found


@dataclass(frozen=True)
class QuietHours:
    start: clock
    end: clock

    @classmethod
    def from_config(cls, config: Config) -> QuietHours | None:
        text = config.get_str("messages", "quiet_hours")
        if text is None or not text.strip():
            return None
        match = _HOURS.match(text)
        if not match:
            where = str(config.path) if config.path else "config"
            raise ConfigError(f"[messages] quiet_hours: {text!r} is not HH:MM-HH:MM (Swedish time), e.g. "
                              '"21:00-08:00"', field=where)  # fmt: skip
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        return cls(clock(h1, m1), clock(h2, m2))

    def until(self, now: datetime) -> datetime | None:
        """When the quiet hours that ``now`` falls in end (UTC), or None when ``now`` is not in them."""
        from zoneinfo import ZoneInfo

        zone = ZoneInfo(SWEDISH)
        local = now.astimezone(zone)
        t = local.time()
        if self.start == self.end:
            return None
        inside = (self.start <= t < self.end) if self.start < self.end else (t >= self.start or t < self.end)
        if not inside:
            return None
        end_day = local.date() if t < self.end else local.date() + timedelta(days=1)
        return datetime.combine(end_day, self.end, tzinfo=zone).astimezone(UTC)

    def text(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"

    @staticmethod
    def zone() -> tzinfo:
        from zoneinfo import ZoneInfo

        return ZoneInfo(SWEDISH)


class LocalBucket:
    """The in-process limiter: each message gets the next free slot, 1/rate seconds after the previous one."""

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / (rate * PACE)
        self.next_at = 0.0
        self.lock = threading.Lock()

    def take(self) -> None:
        with self.lock:
            now = time.monotonic()
            slot = max(self.next_at, now)
            self.next_at = slot + self.interval
        if slot > now:
            time.sleep(slot - now)


class SharedBucket:
    """The limiter in PostgreSQL, shared by every worker on every machine: one row per channel holding the next
    free slot; one statement reserves a slot (the row lock orders the workers) and says how long to wait for it,
    by the server's clock. A worker killed after reserving leaves its slot unused: the rate dips, never rises."""

    def __init__(self, uow: UnitOfWork, channel: str, rate: float) -> None:
        self.uow, self.channel, self.interval = uow, channel, 1.0 / (rate * PACE)

    def take(self) -> None:
        from sqlalchemy import text

        reserve = text(
            "INSERT INTO transport_rate AS r (channel, next_at) VALUES (:channel, clock_timestamp() + "
            "make_interval(secs => :interval)) ON CONFLICT (channel) DO UPDATE SET next_at = "
            "GREATEST(r.next_at, clock_timestamp()) + make_interval(secs => :interval) "
            "RETURNING EXTRACT(EPOCH FROM (r.next_at - make_interval(secs => :interval) - clock_timestamp()))"
        )
        with self.uow.transaction() as session:
            wait = float(session.execute(reserve, {"channel": self.channel, "interval": self.interval}).scalar_one())
        if wait > 0:
            time.sleep(wait)
