"""The interactive part of a BankID login: start, show the QR code, collect, report, cancel on Ctrl-C.

It is one loop on an injectable clock so tests run it in milliseconds. The caller decides what an identity is
worth (patient register, exclusion, session); this module only guarantees that BankID identified the person.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable
from typing import Protocol

from per_cli.bankid.client import (
    BankIdClient,
    BankIdError,
    BankIdFailed,
    CompletionData,
    OrderStarted,
)
from per_cli.bankid.messages import failed_message, pending_message
from per_cli.bankid.qr import qr_data, qr_seconds


class OrderDisplay(Protocol):
    """Where an /auth order is shown to the person logging in; the CLI draws it on the terminal
    (``per_cli.cli.qr.QrDisplay``), so nothing in the domain writes to one."""

    #: show an animated QR code; otherwise the person opens BankID on this device through the link
    animate_qr: bool

    def started(self, autostart_url: str) -> None:
        """The order started; ``autostart_url`` opens BankID on this device."""

    def qr(self, data: str) -> None:
        """Show the QR code for ``data``, replacing the previous one (a new one every second)."""

    def qr_done(self) -> None:
        """The app picked the order up (or it ended): remove the QR code."""

    def message(self, text: str) -> None:
        """BankID's recommended text for the current state of the order."""


#: Hints meaning no app has picked the order up yet, so the QR code is still needed.
_NOT_STARTED = frozenset({None, "outstandingTransaction", "noClient"})


def run_auth_order(
    client: BankIdClient,
    personal_number: str,
    end_user_ip: str,
    *,
    on_qr: Callable[[str], None] | None,
    on_message: Callable[[str], None],
    language: str | None = None,
    on_started: Callable[[OrderStarted], None] | None = None,
    on_qr_done: Callable[[], None] | None = None,
    poll_interval: float = 2.0,
    qr_interval: float = 1.0,
    timeout: float = 300.0,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> CompletionData:
    """Identify ``personal_number`` (12 digits) with an /auth order and return the completion data.

    ``on_qr`` gets fresh QR data (``bankid.…``) every ``qr_interval`` until an app picks the order up, then
    ``on_qr_done`` is called; with ``on_qr=None`` show ``order.autostart_url`` from ``on_started`` instead.
    ``on_message`` gets the recommended text whenever it changes. Raises :class:`BankIdFailed` (AuthDenied) when
    the order fails, :class:`BankIdError` on API faults; on KeyboardInterrupt the order is cancelled first.
    """
    order = client.auth(personal_number, end_user_ip)
    started_at = clock()  # QR time counts from the moment the /auth response arrived
    if on_started is not None:
        try:
            on_started(order)
        except BaseException:
            _cancel_quietly(client, order.order_ref)
            raise

    show_qr: Callable[[float], None] | None = None
    if on_qr is not None:
        qr = on_qr

        def show_qr(now: float) -> None:
            qr(qr_data(order.qr_start_token, order.qr_start_secret, qr_seconds(started_at, now)))

    completion = _collect_until_done(
        client,
        order.order_ref,
        started_at=started_at,
        language=language or client.language,
        show_qr=show_qr,
        on_qr_done=on_qr_done,
        on_message=on_message,
        poll_interval=poll_interval,
        qr_interval=qr_interval,
        timeout=timeout,
        sleep=sleep,
        clock=clock,
    )
    _check_person(completion, personal_number, language or client.language)
    return completion


def _collect_until_done(
    client: BankIdClient,
    order_ref: str,
    *,
    started_at: float,
    language: str,
    show_qr: Callable[[float], None] | None,
    on_qr_done: Callable[[], None] | None,
    on_message: Callable[[str], None],
    poll_interval: float,
    qr_interval: float,
    timeout: float,
    sleep: Callable[[float], None],
    clock: Callable[[], float],
) -> CompletionData:
    """Poll until the order finishes; if we leave early for any reason (Ctrl-C, error), cancel it."""
    qr_mode = show_qr is not None
    next_collect = next_qr = started_at
    last_text: str | None = None
    order_open = True
    try:
        while True:
            now = clock()
            if show_qr is not None and now >= next_qr:
                show_qr(now)
                next_qr = started_at + (math.floor((now - started_at) / qr_interval) + 1) * qr_interval
            if now >= next_collect:
                next_collect = now + poll_interval
                result = client.collect(order_ref)
                if result.status != "pending":
                    order_open = False
                    if show_qr is not None and on_qr_done is not None:
                        on_qr_done()
                    if result.status == "failed" or result.completion is None:
                        raise BankIdFailed(
                            failed_message(result.hint_code, language, qr=qr_mode), hint_code=result.hint_code
                        )
                    return result.completion
                if show_qr is not None and result.hint_code not in _NOT_STARTED:
                    show_qr = None  # the app has the order: a QR code would only confuse
                    if on_qr_done is not None:
                        on_qr_done()
                text = pending_message(result.hint_code, language)
                if text != last_text:
                    on_message(text)
                    last_text = text
            if clock() - started_at >= timeout:
                raise BankIdFailed(failed_message("expiredTransaction", language), hint_code="expiredTransaction")
            wake = min(next_collect, next_qr) if show_qr is not None else next_collect
            sleep(max(0.0, wake - clock()))
    except BaseException:
        if order_open:
            _cancel_quietly(client, order_ref)
        raise


def _cancel_quietly(client: BankIdClient, order_ref: str) -> None:
    """Best effort: the original exception matters more than a failed /cancel."""
    with contextlib.suppress(BankIdError):
        client.cancel(order_ref)


def _check_person(completion: CompletionData, personal_number: str, language: str) -> None:
    """BankID enforces requirement.personalNumber; checking again costs nothing and guards a broken server."""
    if completion.personal_number != personal_number:
        generic = failed_message(None, language)
        raise BankIdFailed(f"{generic} [BankID identified another personal number]", hint_code=None)
