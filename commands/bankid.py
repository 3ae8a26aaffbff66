"""``per bankid``: the local BankID RP API stand-in. Imports only click here; the server loads on use."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from per_cli.cli.app import App

_SCENARIOS = ("complete", "userCancel", "expiredTransaction", "certificateErr", "startFailed")


@click.group("bankid")
def cli() -> None:
    """BankID tools for tests and CI."""


@cli.command("simulator")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=0, show_default=True, help="0 picks a free port.")
@click.option(
    "--state-dir",
    type=click.Path(file_okay=False, writable=True),
    help="Where the throwaway CA, certificates and per.toml go [default: per's state dir].",
)
@click.option(
    "--scenario",
    type=click.Choice(_SCENARIOS),
    default="complete",
    show_default=True,
    help="Outcome of every order.",
)
@click.option(
    "--polls",
    type=click.IntRange(min=0),
    default=3,
    show_default=True,
    help="Pending collects before the outcome.",
)
@click.option(
    "--person",
    "persons",
    multiple=True,
    metavar="PNR=SCENARIO",
    help="Outcome for one personal number: a scenario, another failed hint code or an errorCode "
    "(e.g. maintenance). Repeatable.",
)
@click.option("--log-requests", is_flag=True, help="Log each request on stderr.")
@click.option(
    "--ready-file",
    type=click.Path(dir_okay=False),
    metavar="PATH",
    help="Once it accepts connections, write 'url=URL' and 'config=FILE' lines here (whole, by a rename); "
    "removed when it stops. Wait for this file instead of reading stdout.",
)
@click.pass_obj
def simulator(
    app: App,
    host: str,
    port: int,
    state_dir: str | None,
    scenario: str,
    polls: int,
    persons: tuple[str, ...],
    log_requests: bool,
    ready_file: str | None,
) -> None:
    """Run a local stand-in of the BankID RP API v6.0 (mutual TLS) until Ctrl-C.

    It writes a CA, server and client certificates and a ready config file (per.toml, section [bankid]) to
    the state dir, names that file on stderr (not with -q), then prints "listening on https://HOST:PORT/rp/v6.0/"
    on stdout and writes the --ready-file. Orders answer "pending" POLLS times, then end as the scenario says.
    It needs no config file of its own: PER_CONFIG may name its per.toml before it exists.

    \b
    Example:
      per bankid simulator --state-dir /tmp/bankid --polls 1 --person 191212121212=userCancel \\
          --ready-file /tmp/bankid/ready &
      until [ -e /tmp/bankid/ready ]; do sleep 0.1; done
      per --config /tmp/bankid/per.toml login bankid 191212121212 --no-qr
    """
    import signal
    import sys
    import threading
    from pathlib import Path

    from per_cli.bankid.simulator import Simulator, parse_person

    person_map: dict[str, str] = {}
    for value in persons:
        try:
            pnr, outcome = parse_person(value)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--person") from None
        person_map[pnr] = outcome
    if state_dir is None:
        import platformdirs

        state_dir = str(platformdirs.user_state_path("per") / "bankid-simulator")

    sim = Simulator(host, port, Path(state_dir), scenario, polls, person_map, log=app.note if log_requests else None)
    try:
        url = sim.start()
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None

    def terminate(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, terminate)
    try:  # before the line that says it listens: a Ctrl-C right after it is a clean stop, not "Aborted!"
        app.note(f"config: {sim.files.config}")
        click.echo(f"listening on {url}")
        sys.stdout.flush()
        if ready_file is not None:
            from per_cli.bankid.certs import write_ready_file

            try:
                write_ready_file(Path(ready_file), url=url, config=sim.files.config)
            except OSError as exc:
                raise click.ClickException(f"--ready-file: cannot write {ready_file} ({exc.strerror or exc})") from None
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        sim.stop()
        if ready_file is not None:
            Path(ready_file).unlink(missing_ok=True)
