"""``per login``: log a patient in and print the session token (once)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from per_cli.cli.options import complete_users, flags, format_option

if TYPE_CHECKING:
    from per_cli.cli.app import App


@click.group("login")
def cli() -> None:
    """Log a patient in and print a session token, shown only once.

    Every flow runs non-interactively for CI: exit 0 logged in, 4 denied (wrong password or code, locked,
    expired, not permitted), 1 broken (configuration, transport, database, unusable input).
    """


def _emit_login(app: App, result: Any, fmt: str, how: str) -> None:
    from per_cli.cli.output import emit

    app.note(f"Logged in {result.name} ({result.patient}) {how}. The token is shown only this once.")
    if result.must_change_password:
        app.warn(
            f"the password was sent by staff and must be changed: per password change {result.patient} --session TOKEN"
        )
    emit([result.record()], fmt, single=True)


@cli.command("otp")
@click.argument("personnummer", required=False)
@click.option("--password-stdin", is_flag=True, help="Read the patient's password from the first line of stdin.")
@click.option(
    "--channel",
    type=click.Choice(["sms", "email", "all"]),
    help="Where to send the code. Default: every channel on the patient's profile.",
)
@click.option(
    "--code-from-outbox",
    is_flag=True,
    help="Read the code from the file:// transport's directory (CI); refused with any other transport.",
)
@click.option(
    "--password-from-outbox",
    is_flag=True,
    help="Take the password from the newest password message to the patient in the file:// transport's directory "
    "(CI); refused with any other transport.",
)
@click.option("--send-only", is_flag=True, help="Step 1 only: send the code and print the challenge id.")
@click.option("--challenge", metavar="ID", help="Step 2: complete this challenge (from --send-only).")
@click.option("--code", metavar="CODE", help="With --challenge: the one-time code. Default: ask for it.")
@format_option()
@flags(
    channel="--channel",
    outbox="--code-from-outbox",
    password_outbox="--password-from-outbox",
    challenge="--challenge",
)
@click.pass_obj
def otp(
    app: App,
    personnummer: str | None,
    password_stdin: bool,
    channel: str | None,
    code_from_outbox: bool,
    password_from_outbox: bool,
    send_only: bool,
    challenge: str | None,
    code: str | None,
    fmt: str,
) -> None:
    """Log in with personnummer, password and a one-time code sent by SMS and/or e-mail.

    The code is 6 digits, valid 5 minutes, single use, 5 tries; a new code replaces the previous one; at most
    5 codes per patient per 15 minutes ([otp] max_sends, send_window_minutes). After 3 failed tries each further
    one must wait (exit 4, "try again in N s"); after 10 the account is locked for 15 minutes ([login]).
    Scripts can run the two steps apart: --send-only prints a challenge id, --challenge ID --code CODE
    completes it.

    \b
    Examples:
      per login otp 1212121212                      # asks for the password, then the code
      printf '%s\\n' "$PASSWORD" | per login otp 191212121212 --password-stdin \\
          --channel sms --code-from-outbox --format json
      per login otp 191212121212 --password-from-outbox --code-from-outbox --format json   # CI, file://
      per login otp 191212121212 --password-stdin --send-only --format plain < pw.txt
      per login otp --challenge 4f9c…e1 --code 123456
    """
    from per_cli.credentials.otp import MalformedCode
    from per_cli.login.otp import complete_otp, start_otp
    from per_cli.login.outbox import code_from_outbox as read_code
    from per_cli.login.refusals import TooSoon, WrongCode

    if challenge is not None:
        for flag, given in (
            ("--password-stdin", password_stdin),
            ("--password-from-outbox", password_from_outbox),
            ("--send-only", send_only),
            ("--channel", channel is not None),
        ):
            if given:
                raise click.UsageError(f"{flag} belongs to step 1; --challenge completes a code already sent")
        if code is not None and code_from_outbox:
            raise click.UsageError("--code and --code-from-outbox exclude each other")
        if code is None and code_from_outbox:
            code = read_code(app, challenge)
        _complete(app, challenge, code, personnummer, fmt)
        return
    if code is not None:
        raise click.UsageError("--code goes with --challenge (the code is not known before it is sent)")
    if personnummer is None:
        raise click.UsageError("give the patient's PERSONNUMMER (or --challenge ID to complete a code)")
    if send_only and code_from_outbox:
        raise click.UsageError("--send-only and --code-from-outbox exclude each other")
    if password_stdin and password_from_outbox:
        raise click.UsageError("--password-stdin and --password-from-outbox exclude each other")
    if password_from_outbox:
        from per_cli.login.outbox import password_from_outbox as read_sent_password

        password = read_sent_password(app, personnummer, channel=channel)
    else:
        from per_cli.cli.prompts import read_password

        password = read_password(password_stdin, "Password")
    started = start_otp(
        app, personnummer, password=password, channel=channel, require_file_outbox=code_from_outbox, warn=app.warn
    )
    for failure in started.failed:
        app.warn(f"not sent: {failure}")
    app.note(
        f"A one-time code was sent to {', '.join(started.sent_to)}; valid until "
        f"{started.expires_at.astimezone():%H:%M:%S}."
    )
    if send_only:
        from per_cli.cli.output import emit

        app.note("Complete it with: per login otp --challenge CHALLENGE --code CODE")
        emit([started.record()], fmt, single=True)
        return
    if code_from_outbox:
        code = read_code(app, started.challenge_id, files=started.outbox_files)
        _complete(app, started.challenge_id, code, None, fmt)
        return
    while True:
        typed = click.prompt("One-time code", err=True)
        try:
            result = complete_otp(app, started.challenge_id, code=typed)
        except MalformedCode as exc:  # not a code at all: neither compared nor counted
            app.warn(str(exc))
            continue
        except WrongCode as exc:
            if exc.tries_left <= 0:
                raise
            app.warn(str(exc))
            continue
        except TooSoon as exc:  # the stored slow-down after failures: nothing was compared or counted
            app.warn(str(exc))
            continue
        _emit_login(app, result, fmt, "with a one-time code")
        return


def _complete(app: App, challenge: str, code: str | None, personnummer: str | None, fmt: str) -> None:
    from per_cli.login.otp import complete_otp

    if code is None:
        code = click.prompt("One-time code", err=True)
    result = complete_otp(app, challenge, code=code, pnr_text=personnummer)
    _emit_login(app, result, fmt, "with a one-time code")


@cli.command("proxy")
@click.argument("personnummer")
@click.option("--user", "user", required=True, shell_complete=complete_users, help="The care giver's user name.")
@click.option("--password-stdin", is_flag=True, help="Read the care giver's password from the first line of stdin.")
@format_option()
@click.pass_obj
def proxy(app: App, personnummer: str, user: str, password_stdin: bool, fmt: str) -> None:
    """Log a patient in through a care giver's own account ("vårdgivares inloggning").

    The care giver must be active and work at the patient's care unit; the session and every refusal are
    audited with both identities.

    \b
    Examples:
      per login proxy 19121212-1212 --user anna.lind
      printf '%s\\n' "$CG_PASSWORD" | per login proxy 191212121212 --user anna.lind --password-stdin --format json
    """
    from per_cli.cli.prompts import read_password
    from per_cli.login.proxy import proxy_login

    password = read_password(password_stdin, f"Password for {user}")
    result = proxy_login(app, personnummer, username=user, password=password)
    _emit_login(app, result, fmt, f"through care giver {result.proxy_by}")


def _end_user_ip(ctx: click.Context, param: click.Parameter, value: str) -> str:
    import ipaddress

    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        raise click.BadParameter(f"not an IPv4 or IPv6 address: {value!r}") from None


@cli.command("bankid")
@click.argument("personnummer")
@click.option(
    "--no-qr",
    is_flag=True,
    help="Print the link that starts BankID on this computer (bankid:///?autostarttoken=…) instead of a QR code.",
)
@click.option(
    "--end-user-ip",
    metavar="IP",
    default="127.0.0.1",
    show_default=True,
    callback=_end_user_ip,
    help="The IP address of the person's device, which BankID requires. From a terminal that device is this "
    "machine; pass the real address when per runs on a server on someone else's behalf.",
)
@format_option()
@flags(end_user_ip="--end-user-ip")
@click.pass_obj
def bankid(app: App, personnummer: str, no_qr: bool, end_user_ip: str, fmt: str) -> None:
    """Log in with Mobile BankID: scan the animated QR code (redrawn every second) and approve in the app.

    Only a patient enrolled in the register and not excluded may log in, and only that person's BankID can
    complete the order. The QR code and BankID's messages go to stderr (Swedish; English with [bankid]
    language = "en"; nothing with -q); the session goes to stdout. Ctrl-C cancels the order (exit 4). The
    connection, the RP certificate and the collect interval come from the [bankid] section of the config file.

    \b
    Examples:
      per login bankid 1212121212
      per login bankid 19121212-1212 --no-qr --format json
      per bankid simulator --state-dir /tmp/bankid --polls 1 &      # a local stand-in for CI
      per --config /tmp/bankid/per.toml login bankid 191212121212 --no-qr --format json
    """
    from per_cli.login.bankid import login_bankid

    result = login_bankid(app, personnummer, end_user_ip=end_user_ip, display=app.order_display(qr=not no_qr))
    _emit_login(app, result, fmt, "with BankID")
