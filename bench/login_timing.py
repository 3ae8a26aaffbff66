"""Whether a refused login tells who is enrolled: the median time of the five refusals beside each other.

An unknown personnummer, a wrong password, a locked account, an excluded patient and a patient
without a password must look the same, in time too. Each case is timed through the real use case
(``per_cli.login.otp.start_otp`` with an ``App``, as ``per login otp`` calls it) against a SQLite file,
interleaved round by round, each case in every position in turn, so that the machine's noise falls on all five
alike; the baseline is the wrong password of the same run, and the target is each median within 5 % of it. It
runs with the default Argon2id parameters and again with ``argon2_time_cost = 8``, to show the dummy work follows
the configured cost.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

PER = str(Path(sys.executable).parent / "per")
TARGET = 0.05
CASES = {
    "wrong password": "191212121212",
    "unknown personnummer": "198112289874",
    "locked account": "197010632391",
    "excluded patient": "200001012384",
    "no password": "196408233234",
}


def _setup(tmp: str, time_cost: int) -> dict[str, str]:
    env = {**os.environ, "PER_DATABASE_URL": f"sqlite:///{tmp}/bench.db", "PER_ACTOR": "bench",
           "PER_CONFIG": str(Path(tmp) / "per.toml"), "PER_OTP_KEY": "k" * 40}  # fmt: skip
    Path(env["PER_CONFIG"]).write_text(
        f"[login]\nslow_after = 100\nlock_after = 100\n\n[passwords]\nargon2_time_cost = {time_cost}\n"
    )

    def per(*args: str, stdin: str | None = None) -> None:
        subprocess.run([PER, *args], env=env, check=True, capture_output=True, input=stdin, text=True)

    per("db", "upgrade")  # creates the file: no other command makes a new SQLite database
    per("unit", "add", "BENCH", "--name", "Bench")
    for name, pnr in CASES.items():
        if name != "unknown personnummer":
            per("patient", "enrol", pnr, "--first-name", "Test", "--last-name", "Patient", "--unit", "BENCH",
                "--email", "test@example.se")  # fmt: skip
    return env


def _set_passwords(env: dict[str, str], time_cost: int) -> None:
    from sqlalchemy import text

    from per_cli.credentials.passwords import Argon2Params, hash_password
    from per_cli.db.engine import make_engine

    digest = hash_password("the-right-password", Argon2Params(time_cost=time_cost))
    engine = make_engine(env["PER_DATABASE_URL"])
    locked = "2999-01-01 00:00:00.000000"
    with engine.begin() as conn:
        for name in ("wrong password", "locked account", "excluded patient"):
            conn.execute(
                text("INSERT INTO patient_credential (patient_id, password_hash, must_change, set_at, failed_logins, "
                     "locked_until) SELECT id, :h, 0, CURRENT_TIMESTAMP, 0, :l FROM patient WHERE personnummer = :p"),
                {"h": digest, "p": CASES[name], "l": locked if name == "locked account" else None},
            )  # fmt: skip
        conn.execute(text("UPDATE patient SET excluded_on = '2020-01-01' WHERE personnummer = :p"),
                     {"p": CASES["excluded patient"]})  # fmt: skip
    engine.dispose()


def _measure(env: dict[str, str], rounds: int) -> dict[str, float]:
    from per_cli.cli.app import App
    from per_cli.config import load_config
    from per_cli.errors import AuthDenied
    from per_cli.login.otp import start_otp

    app = App(config=load_config(env["PER_CONFIG"], environ=env), actor="bench", database_url=env["PER_DATABASE_URL"])
    times: dict[str, list[float]] = {name: [] for name in CASES}
    try:
        names = list(CASES)
        for n in range(rounds + 2):
            for name in names[n % len(names) :] + names[: n % len(names)]:  # each case in every position in turn
                pnr = CASES[name]
                started = time.perf_counter()
                try:
                    start_otp(app, pnr, password=f"not-the-password-{n}")
                except AuthDenied:
                    pass
                else:
                    raise RuntimeError(f"{name}: logged in")
                if n >= 2:  # two warm-up rounds
                    times[name].append(time.perf_counter() - started)
    finally:
        app.close()
    return {name: statistics.median(values) for name, values in times.items()}


def run(quick: bool) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    for time_cost in (2, 8):
        with tempfile.TemporaryDirectory() as tmp:
            env = _setup(tmp, time_cost)
            _set_passwords(env, time_cost)
            medians = _measure(env, 15 if quick else 41)
        base = medians["wrong password"]
        print("  argon2_time_cost = " + str(time_cost) + ": " +
              ", ".join(f"{name} {ms * 1000:.1f} ms" for name, ms in medians.items()), file=sys.stderr)  # fmt: skip
        for name, value in medians.items():
            if name == "wrong password":
                continue
            ratio = value / base
            results.append(
                {"name": f"refused login, {name} (argon2_time_cost {time_cost}), median", "value": value * 1000,
                 "unit": "ms", "baseline": "wrong password, same run", "baseline_value": base * 1000, "ratio": ratio,
                 "target": f"within {TARGET:.0%}", "ok": abs(ratio - 1) <= TARGET}
            )  # fmt: skip
    return results
