"""Animated QR code: the data string BankID's app expects, and a compact terminal rendering.

The code must change every second (``bankid.<qrStartToken>.<seconds>.<HMAC>``) so that a photo of it is useless
a moment later; the secret never leaves this process (https://developers.bankid.com, the QR code guide).
"""

from __future__ import annotations

import hashlib
import hmac
import math
import shutil
from typing import TextIO

#: 256-colour black on white: readable on dark and light terminal themes alike, unlike the theme's own colours.
_DARK_ON_LIGHT = "\x1b[38;5;16;48;5;231m"
_RESET = "\x1b[0m"
# (top module dark, bottom module dark) -> glyph, drawing dark modules in the foreground colour.
_GLYPHS = {(True, True): "█", (True, False): "▀", (False, True): "▄", (False, False): " "}


def qr_auth_code(qr_start_secret: str, seconds: int) -> str:
    """HMAC-SHA256 of the decimal seconds, keyed with the secret's ASCII text (not hex-decoded)."""
    return hmac.new(qr_start_secret.encode("ascii"), str(seconds).encode("ascii"), hashlib.sha256).hexdigest()


def qr_data(qr_start_token: str, qr_start_secret: str, seconds: int) -> str:
    """The content of the QR code ``seconds`` whole seconds after the /auth response arrived."""
    if seconds < 0:
        raise ValueError("seconds must not be negative")
    return f"bankid.{qr_start_token}.{seconds}.{qr_auth_code(qr_start_secret, seconds)}"


def qr_seconds(started_at: float, now: float) -> int:
    """Whole seconds since the order started, as the QR time counts them (floored, never negative)."""
    return max(0, math.floor(now - started_at))


def render_qr(data: str, *, border: int = 2, colour: bool = True, invert: bool = False) -> str:
    """Draw ``data`` as a QR code with half blocks (two modules per character cell); return, don't print.

    With ``colour`` the code is black on white whatever the terminal theme. Without it, dark modules are drawn
    as blocks (right for light backgrounds); ``invert`` swaps that for dark backgrounds.
    """
    import segno

    # Level L keeps the code small (version 6 for typical data); a terminal never damages the symbol.
    matrix = [[bool(m) for m in row] for row in segno.make_qr(data, error="l", boost_error=False).matrix]
    size = len(matrix) + 2 * border
    blank = [False] * size
    rows = [blank] * border + [blank[:border] + row + blank[:border] for row in matrix] + [blank] * border
    if len(rows) % 2:
        rows.append(blank)
    dark_is_ink = not invert or colour
    lines = []
    for top, bottom in zip(rows[0::2], rows[1::2], strict=True):
        cells = "".join(_GLYPHS[(t == dark_is_ink, b == dark_is_ink)] for t, b in zip(top, bottom, strict=True))
        lines.append(f"{_DARK_ON_LIGHT}{cells}{_RESET}" if colour else cells)
    return "\n".join(lines)


class QrDisplay:
    """Shows the QR code and the current BankID message, redrawing both in place on a terminal.

    Messages go through :meth:`message` so the display knows how many lines to move back over. On a stream that
    is not a terminal the QR code is not drawn (a stale code cannot be scanned anyway); messages print as lines.
    """

    def __init__(self, stream: TextIO, *, redraw: bool | None = None, colour: bool = True) -> None:
        self._stream = stream
        self._redraw = stream.isatty() if redraw is None else redraw
        self._colour = colour
        self._frame: str | None = None
        self._text = ""
        self._drawn_lines = 0

    def show(self, data: str) -> None:
        """Draw the QR code for ``data`` (replacing the previous one)."""
        if self._redraw:
            self._frame = render_qr(data, colour=self._colour)
            self._draw()

    def message(self, text: str) -> None:
        """Show ``text`` below the QR code, or as a plain line when no code is shown."""
        self._text = text
        if self._frame is not None:
            self._draw()
        else:
            self._stream.write(text + "\n")
            self._stream.flush()

    def hide(self) -> None:
        """Remove the QR code (after the app picked up the order), keeping the last message on screen."""
        if self._frame is None:
            return
        self._frame = None
        self._erase()
        if self._text:
            self._stream.write(self._text + "\n")
        self._stream.flush()

    def _erase(self) -> None:
        if self._drawn_lines:
            self._stream.write(f"\x1b[{self._drawn_lines}A\r\x1b[J")
        self._drawn_lines = 0

    def _draw(self) -> None:
        assert self._frame is not None
        self._erase()
        block = self._frame + ("\n" + self._text if self._text else "")
        self._stream.write(block + "\n")
        self._stream.flush()
        width = max(1, shutil.get_terminal_size().columns)
        # Each frame line fits (it is ~45 cells); a long message may wrap over several terminal lines.
        self._drawn_lines = self._frame.count("\n") + 1
        if self._text:
            self._drawn_lines += sum(max(1, math.ceil(len(line) / width)) for line in self._text.split("\n"))
