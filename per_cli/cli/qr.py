"""The BankID order on the terminal: the animated QR code drawn with half blocks, the link, BankID's messages.

:class:`QrDisplay` is the CLI's ``per_cli.bankid.flow.OrderDisplay``: the domain hands it QR data and texts, and
only this module writes them to a terminal. ``App.order_display`` gives it no stream with ``-q``: nothing shows.
"""

from __future__ import annotations

import math
import shutil
from typing import TextIO

#: 256-colour black on white: readable on dark and light terminal themes alike, unlike the theme's own colours.
_DARK_ON_LIGHT = "\x1b[38;5;16;48;5;231m"
_RESET = "\x1b[0m"
# (top module dark, bottom module dark) -> glyph, drawing dark modules in the foreground colour.
_GLYPHS = {(True, True): "█", (True, False): "▀", (False, True): "▄", (False, False): " "}


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
    Without a stream (``-q``) nothing is shown.
    """

    def __init__(
        self, stream: TextIO | None, *, animate_qr: bool = True, redraw: bool | None = None, colour: bool = True
    ) -> None:
        self._stream = stream
        self.animate_qr = animate_qr
        self._redraw = stream is not None and (stream.isatty() if redraw is None else redraw)
        self._colour = colour
        self._frame: str | None = None
        self._text = ""
        self._drawn_lines = 0

    def started(self, autostart_url: str) -> None:
        """The order started: without a QR code, the link that starts BankID on this computer."""
        if not self.animate_qr:
            self._write(f"Open BankID on this computer: {autostart_url}\n")
        elif not self._redraw:
            self._write("(No QR code: the output is not a terminal. --no-qr prints a link instead.)\n")

    def qr(self, data: str) -> None:
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
            self._write(text + "\n")

    def qr_done(self) -> None:
        """Remove the QR code (after the app picked up the order), keeping the last message on screen."""
        if self._frame is None:
            return
        self._frame = None
        self._erase()
        self._write(self._text + "\n" if self._text else "")

    def _write(self, text: str) -> None:
        if self._stream is not None:
            self._stream.write(text)
            self._stream.flush()

    def _erase(self) -> None:
        if self._drawn_lines:
            self._write(f"\x1b[{self._drawn_lines}A\r\x1b[J")
        self._drawn_lines = 0

    def _draw(self) -> None:
        assert self._frame is not None
        self._erase()
        block = self._frame + ("\n" + self._text if self._text else "")
        self._write(block + "\n")
        width = max(1, shutil.get_terminal_size().columns)
        # Each frame line fits (it is ~45 cells); a long message may wrap over several terminal lines.
        self._drawn_lines = self._frame.count("\n") + 1
        if self._text:
            self._drawn_lines += sum(max(1, math.ceil(len(line) / width)) for line in self._text.split("\n"))
