"""A one-line progress counter on stderr, shown only when stderr is a terminal (a log gets no redraws)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO


class Progress:
    """``label: 12 000 rows, 11 950 created …`` redrawn at most every 0.2 s; silent when not a terminal."""

    def __init__(
        self,
        label: str,
        *,
        stream: TextIO | None = None,
        enabled: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.label = label
        self._clock = clock
        self._started = clock()
        self._last = 0.0
        self._width = 0

    def update(self, text: str, *, force: bool = False) -> None:
        if not self.enabled:
            return
        now = self._clock()
        if not force and now - self._last < 0.2:
            return
        self._last = now
        line = f"{self.label}: {text}"
        self.stream.write("\r" + line.ljust(self._width))
        self._width = len(line)
        self.stream.flush()

    def pace(self, done: int, fraction: float | None) -> str:
        """``45%, 8,400 rows/s, about 12 s left``: ``done`` rows since the start, ``fraction`` of the input behind
        them (None: unknown, then only the rate)."""
        elapsed = max(self._clock() - self._started, 1e-6)
        parts = [f"{done / elapsed:,.0f} rows/s"]
        if fraction is not None and fraction > 0:
            parts.insert(0, f"{min(fraction, 1.0):.0%}")
            parts.append(f"about {duration(elapsed * (1 - min(fraction, 1.0)) / fraction)} left")
        return ", ".join(parts)

    def done(self) -> None:
        """Clear the line (before another line is printed, and at the end); the next update draws it again."""
        if self.enabled and self._width:
            self.stream.write("\r" + " " * self._width + "\r")
            self.stream.flush()
            self._width = 0


def duration(seconds: float) -> str:
    """``8 s``, ``3 min 20 s``, ``1 h 05 min``: how long is left, to the precision anyone waits for."""
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        return f"{whole // 60} min {whole % 60:02d} s"
    return f"{whole // 3600} h {whole % 3600 // 60:02d} min"
