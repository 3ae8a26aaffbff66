"""The animated QR code's data against BankID's official test vectors (the drawing: tests/cli/test_qr.py)."""

from __future__ import annotations

import pytest

from per_cli.bankid.qr import qr_auth_code, qr_data, qr_seconds

TOKEN = "67df3917-fa0d-44e5-b327-edcc928297f8"
SECRET = "d28db9a7-4cde-429e-a983-359be676944c"
VECTORS = {
    0: "dc69358e712458a66a7525beef148ae8526b1c71610eff2c16cdffb4cdac9bf8",
    1: "949d559bf23403952a94d103e67743126381eda00f0b3cbddbf7c96b1adcbce2",
    2: "a9e5ec59cb4eee4ef4117150abc58fad7a85439a6a96ccbecc3668b41795b3f3",
}


@pytest.mark.parametrize(("seconds", "code"), sorted(VECTORS.items()))
def test_official_vectors(seconds: int, code: str) -> None:
    assert qr_auth_code(SECRET, seconds) == code
    assert qr_data(TOKEN, SECRET, seconds) == f"bankid.{TOKEN}.{seconds}.{code}"


def test_time_is_whole_seconds_since_the_response() -> None:
    assert [qr_seconds(100.0, now) for now in (100.0, 100.99, 101.0, 112.5, 99.0)] == [0, 0, 1, 12, 0]
    assert qr_data(TOKEN, SECRET, 10).split(".")[2] == "10"  # decimal, no padding
    with pytest.raises(ValueError):
        qr_data(TOKEN, SECRET, -1)
