"""A one-line progress counter on stderr, shown only when stderr is a terminal (a log gets no redraws)."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """``label: 12 000 rows, 11 950 created …`` redrawn at most every 0.2 s; silent when not a terminal."""

    def __init__(self, label: str, *, stream: TextIO | None = None, enabled: bool | None = None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.label = label
        self._last = 0.0
        self._width = 0

    def update(self, text: str, *, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and now - self._last < 0.2:
            return
        self._last = now
        line = f"{self.label}: {text}"
        self.stream.write("\r" + line.ljust(self._width))
        self._width = len(line)
        self.stream.flush()

    def done(self) -> None:
        """Clear the line (before another line is printed, and at the end); the next update draws it again."""
        if self.enabled and self._width:
            self.stream.write("\r" + " " * self._width + "\r")
            self.stream.flush()
            self._width = 0
