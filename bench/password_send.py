"""Bulk ``per password send --file`` beside the Argon2id limit of this machine, measured in the same run.

Every password costs one Argon2id hash, so no bulk send can beat ``cores ÷ time of one hash`` passwords per
second; the target is 0.7 of that, i.e. sending, the database and the program's own overhead may take at most
30 % on top of hashing. The send goes to real servers on 127.0.0.1 in a separate process (aiosmtpd without TLS,
and a 46elks-format HTTP gateway), so their CPU competes with ours as a real relay's would not: the figure is
conservative. The time of one hash is the median of single hashes taken right before and right after the run.
"""

from __future__ import annotations

import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

PER = str(Path(sys.executable).parent / "per")
TARGET = 0.7


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def _hash_seconds(samples: int) -> list[float]:
    from per_cli.credentials.passwords import Argon2Params, hash_password

    params = Argon2Params()
    hash_password("warm-up", params)
    times = []
    for _ in range(samples):
        started = time.perf_counter()
        hash_password("aBcDeFgHjKmN", params)
        times.append(time.perf_counter() - started)
    return times


def _busy_hash_seconds(rounds: int, threads: int | None = None) -> float:
    """The time of one hash while every core (or ``threads`` threads) hashes: what a core really gives the pool
    (diagnostic only)."""
    from concurrent.futures import ThreadPoolExecutor

    from per_cli.credentials.passwords import Argon2Params, hash_password

    threads = threads or _cores()
    with ThreadPoolExecutor(threads) as pool:
        started = time.perf_counter()
        list(pool.map(lambda _: hash_password("aBcDeFgHjKmN", Argon2Params()), range(threads * rounds)))
        return (time.perf_counter() - started) / rounds


def _personnummer(i: int) -> str:
    """A valid 12-digit personnummer: born 1950-01-01 plus i days, serial from i, Luhn check digit."""
    import datetime as dt

    born = dt.date(1950, 1, 1) + dt.timedelta(days=i // 500)
    nine = f"{born:%y%m%d}{i % 500 + 100:03d}"
    total = 0
    for k, ch in enumerate(nine):
        d = int(ch) * (2 if k % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return f"{born:%Y%m%d}{i % 500 + 100:03d}{(10 - total % 10) % 10}"


@contextlib.contextmanager
def _servers() -> Iterator[dict[str, Any]]:
    """Start the SMTP server and the SMS gateway in a child process; yields their ports."""
    proc = subprocess.Popen([sys.executable, "-m", "bench.password_send", "--serve"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, cwd=Path(__file__).parent.parent)  # fmt: skip
    try:
        assert proc.stdout is not None
        yield json.loads(proc.stdout.readline())
    finally:
        if proc.stdin:
            proc.stdin.close()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def _count(port: int) -> dict[str, int]:
    import httpx

    answer: dict[str, int] = httpx.get(f"http://127.0.0.1:{port}/count").json()
    return answer


def run(quick: bool) -> list[dict[str, object]]:
    patients = 200 if quick else 1000
    cores = _cores()
    with tempfile.TemporaryDirectory() as tmp, _servers() as ports:
        env = {**os.environ, "PER_DATABASE_URL": f"sqlite:///{tmp}/bench.db", "PER_ACTOR": "bench",
               "PER_CONFIG": str(Path(tmp) / "per.toml"),
               "PER_EMAIL_TRANSPORT": f"smtp://127.0.0.1:{ports['smtp']}?security=none&from=per@example.se",
               "PER_SMS_TRANSPORT": f"elks://bench:secret@127.0.0.1:{ports['sms']}?tls=off&from=Neuroreg"}  # fmt: skip
        Path(env["PER_CONFIG"]).write_text("")
        rows = ["personnummer,first_name,last_name,mobile,email"]
        numbers = [_personnummer(i) for i in range(patients)]
        for i, pnr in enumerate(numbers):
            rows.append(f"{pnr},Test,Patient,+46701{i:06d},patient{i}@example.se")
        (Path(tmp) / "patients.csv").write_text("\n".join(rows) + "\n")
        (Path(tmp) / "list.txt").write_text("\n".join(numbers) + "\n")
        subprocess.run([PER, "db", "upgrade"], env=env, check=True, capture_output=True)  # creates the file
        subprocess.run([PER, "unit", "add", "BENCH", "--name", "Bench"], env=env, check=True, capture_output=True)
        subprocess.run([PER, "patient", "enrol", "--file", str(Path(tmp) / "patients.csv"), "--unit", "BENCH"],
                       env=env, check=True, capture_output=True)  # fmt: skip
        before = _hash_seconds(9 if quick else 15)
        busy_before = _busy_hash_seconds(5 if quick else 10)
        started = time.perf_counter()
        done = subprocess.run([PER, "password", "send", "--file", str(Path(tmp) / "list.txt"), "--sms", "--email",
                               "--format", "jsonl"], env=env, capture_output=True, text=True)  # fmt: skip
        seconds = time.perf_counter() - started
        after = _hash_seconds(9 if quick else 15)
        busy = (busy_before + _busy_hash_seconds(5 if quick else 10)) / 2
        counted = _count(ports["sms"])
    if done.returncode != 0:
        raise RuntimeError(f"per password send failed (exit {done.returncode}): {done.stderr[-2000:]}")
    sent = sum(1 for line in done.stdout.splitlines() if json.loads(line)["status"] == "sent")
    if sent != patients or counted != {"sms": patients, "email": patients}:
        raise RuntimeError(f"expected {patients} patients × 2 messages, got {sent} sent and {counted} at the servers")
    one_hash = statistics.median(before + after)
    limit = cores / one_hash
    rate = patients / seconds
    name = f"password send --file, {patients:,} patients × SMS + e-mail ({cores} cores)"
    detail = {
        "patients": patients,
        "seconds": seconds,
        "cores": cores,
        "one_hash_ms": one_hash * 1000,
        "one_hash_ms_every_core_busy": busy * 1000,
        "hash_pool_limit_per_s": cores / busy,
    }
    print(
        f"  one Argon2id hash: {one_hash * 1000:.1f} ms alone, {busy * 1000:.1f} ms with every core hashing; "
        f"{patients:,} patients in {seconds:.1f} s",
        file=sys.stderr,
    )
    return [
        {"name": name, "value": rate, "unit": "passwords/s", "baseline": "Argon2id limit: cores ÷ one hash",
         "baseline_value": limit, "ratio": rate / limit, "target": f"≥ {TARGET}×", "ok": rate / limit >= TARGET,
         "detail": detail},
        {"name": f"the same run in messages ({2 * patients:,})", "value": 2 * rate, "unit": "messages/s",
         "baseline": "2 messages × Argon2id limit", "baseline_value": 2 * limit, "ratio": rate / limit,
         "target": f"≥ {TARGET}×", "ok": rate / limit >= TARGET},
    ]  # fmt: skip


# --- the servers (run in a child process: python -m bench.password_send --serve) ---


def _serve() -> None:
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from aiosmtpd.controller import Controller

    counts = {"sms": 0, "email": 0}
    lock = threading.Lock()

    class Smtp:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            with lock:
                counts["email"] += 1
                n = counts["email"]
            return f"250 2.0.0 Ok: queued as B{n}"

    class Elks(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the real API
        disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed-ACK stall between

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with lock:
                counts["sms"] += 1
                n = counts["sms"]
            self._answer({"status": "created", "direction": "outgoing", "id": f"s{n:032x}", "parts": 1})

        def do_GET(self) -> None:
            with lock:
                self._answer(dict(counts))

        def _answer(self, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    http = ThreadingHTTPServer(("127.0.0.1", 0), Elks)
    http.daemon_threads = True
    threading.Thread(target=http.serve_forever, daemon=True).start()
    import socket

    with socket.socket() as probe:  # aiosmtpd needs a port number up front
        probe.bind(("127.0.0.1", 0))
        smtp_port = probe.getsockname()[1]
    smtp = Controller(Smtp(), hostname="127.0.0.1", port=smtp_port)
    smtp.start()
    print(json.dumps({"smtp": smtp_port, "sms": http.server_address[1]}), flush=True)
    sys.stdin.read()  # until the parent closes our stdin
    smtp.stop()
    http.shutdown()


if __name__ == "__main__" and "--serve" in sys.argv:
    _serve()
