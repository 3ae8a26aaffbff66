"""The BankID order on the terminal: the QR code drawn in half blocks, redrawn in place, and the link."""

from __future__ import annotations

import io

import pytest
import segno

from per_cli.bankid.qr import qr_data
from per_cli.cli.qr import QrDisplay, render_qr

TOKEN = "67df3917-fa0d-44e5-b327-edcc928297f8"  # BankID's example qrStartToken and qrStartSecret
SECRET = "d28db9a7-4cde-429e-a983-359be676944c"


def _decode(rendered: str, *, dark_glyphs: tuple[str, str, str] = ("█", "▀", "▄")) -> list[list[bool]]:
    """Turn half-block text back into module rows, to compare with segno's matrix."""
    full, upper, lower = dark_glyphs
    rows: list[list[bool]] = []
    for line in rendered.split("\n"):
        line = line.removeprefix("\x1b[38;5;16;48;5;231m").removesuffix("\x1b[0m")
        rows.append([c in (full, upper) for c in line])
        rows.append([c in (full, lower) for c in line])
    return rows


@pytest.mark.parametrize("colour", [True, False])
def test_rendering_is_the_qr_matrix_in_half_blocks(colour: bool) -> None:
    data = qr_data(TOKEN, SECRET, 7)
    rendered = render_qr(data, border=2, colour=colour)
    matrix = [[bool(m) for m in row] for row in segno.make_qr(data, error="l", boost_error=False).matrix]
    size = len(matrix)
    rows = _decode(rendered)
    assert all(len(r) == size + 4 for r in rows)
    assert [r[2:-2] for r in rows[2 : 2 + size]] == matrix
    assert not any(any(r) for r in rows[:2] + rows[2 + size :])  # quiet zone
    assert len(rendered.split("\n")) == (size + 4 + 1) // 2  # two modules per line: compact
    assert ("\x1b[" in rendered) is colour


def test_inverted_plain_rendering_draws_light_modules() -> None:
    data = qr_data(TOKEN, SECRET, 3)
    normal = _decode(render_qr(data, colour=False))
    inverted = _decode(render_qr(data, colour=False, invert=True))
    assert inverted == [[not m for m in row] for row in normal]


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_display_redraws_in_place_on_a_terminal() -> None:
    out = _Tty()
    display = QrDisplay(out)
    display.qr(qr_data(TOKEN, SECRET, 0))
    frame_lines = out.getvalue().count("\n")
    display.message("Starta BankID-appen.")
    assert f"\x1b[{frame_lines}A\r\x1b[J" in out.getvalue()  # moved back over the frame
    display.qr(qr_data(TOKEN, SECRET, 1))
    assert f"\x1b[{frame_lines + 1}A\r\x1b[J" in out.getvalue()  # and over frame + message
    display.qr_done()
    assert out.getvalue().endswith("\x1b[J" + "Starta BankID-appen.\n")
    display.message("Skriv in din säkerhetskod.")
    assert out.getvalue().endswith("Starta BankID-appen.\nSkriv in din säkerhetskod.\n")


def test_display_draws_no_code_when_not_a_terminal() -> None:
    out = io.StringIO()
    display = QrDisplay(out)
    display.qr(qr_data(TOKEN, SECRET, 0))
    display.message("Starta BankID-appen.")
    display.qr_done()
    assert out.getvalue() == "Starta BankID-appen.\n"


def test_the_order_start_names_the_link_or_why_there_is_no_code() -> None:
    url = "bankid:///?autostarttoken=7c40b5c9-fa74-49cf-b98c-bfe651f9a7c6&redirect=null"
    link, no_terminal, terminal = io.StringIO(), io.StringIO(), _Tty()
    QrDisplay(link, animate_qr=False).started(url)
    QrDisplay(no_terminal, animate_qr=True).started(url)
    QrDisplay(terminal, animate_qr=True).started(url)
    assert link.getvalue() == f"Open BankID on this computer: {url}\n"
    assert no_terminal.getvalue() == "(No QR code: the output is not a terminal. --no-qr prints a link instead.)\n"
    assert terminal.getvalue() == ""  # on a terminal the code itself is what the person acts on
