"""Animated QR code: the data string BankID's app expects (the terminal drawing is ``per_cli.cli.qr``).

The code must change every second (``bankid.<qrStartToken>.<seconds>.<HMAC>``) so that a photo of it is useless
a moment later; the secret never leaves this process (https://developers.bankid.com, the QR code guide).
"""

from __future__ import annotations

import hashlib
import hmac
import math


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
