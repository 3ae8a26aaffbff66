"""Password campaigns: a 10 000-patient campaign through the file transport with one hashing worker and with two,
each beside the Argon2id limit of that many cores measured in the same run (workers ÷ time of one hash, measured
right before and right after that campaign; target ≥ 0.8); and the SMS rate limit against a 46elks-format HTTP
stand-in at 50 messages/s: the rate the stand-in saw must be within 5 % of 50 and never above it.

On SQLite the sending process sends (``password send --file … --workers N``); with ``PER_TEST_POSTGRES_URL`` the
same campaign is also queued (``--enqueue``) and sent by one and by two ``campaign work --concurrency 1``
processes. The rate-limit run uses cheap Argon2 parameters so that hashing (well above 50/s) is not what limits.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from bench.password_send import _busy_hash_seconds, _cores, _hash_seconds, _personnummer

PER = str(Path(sys.executable).parent / "per")
TARGET = 0.8
RATE = 50.0


def _setup(tmp: Path, db_url: str, patients: int, config: str = "") -> dict[str, str]:
    env = {**os.environ, "PER_DATABASE_URL": db_url, "PER_ACTOR": "bench", "PER_CONFIG": str(tmp / "per.toml"),
           "PER_SMS_TRANSPORT": f"file://{tmp}/outbox", "PER_EMAIL_TRANSPORT": f"file://{tmp}/outbox"}  # fmt: skip
    (tmp / "per.toml").write_text(config)
    numbers = [_personnummer(i) for i in range(patients)]
    rows = ["personnummer,first_name,last_name,mobile"] + [
        f"{pnr},Test,Patient,+46701{i:06d}" for i, pnr in enumerate(numbers)
    ]
    (tmp / "patients.csv").write_text("\n".join(rows) + "\n")
    (tmp / "list.txt").write_text("\n".join(numbers) + "\n")
    subprocess.run([PER, "db", "upgrade"], env=env, check=True, capture_output=True)  # creates the file
    subprocess.run([PER, "unit", "add", "BENCH", "--name", "Bench"], env=env, check=True, capture_output=True)
    subprocess.run([PER, "patient", "enrol", "--file", str(tmp / "patients.csv"), "--unit", "BENCH"], env=env,
                   check=True, capture_output=True)  # fmt: skip
    return env


def _inline(env: dict[str, str], tmp: Path, workers: int) -> float:
    started = time.perf_counter()
    command = [PER, "password", "send", "--file", str(tmp / "list.txt"), "--sms", "--new-campaign",
               "--workers", str(workers), "--format", "jsonl"]  # fmt: skip
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"password send failed (exit {done.returncode}): {done.stderr[-1500:]}")
    return seconds


def _queued(env: dict[str, str], tmp: Path, processes: int) -> float:
    queued = subprocess.run([PER, "password", "send", "--file", str(tmp / "list.txt"), "--sms", "--new-campaign",
                             "--enqueue"], env=env, capture_output=True, text=True)  # fmt: skip
    if queued.returncode != 0:
        raise RuntimeError(f"--enqueue failed: {queued.stderr[-1500:]}")
    started = time.perf_counter()
    workers = [subprocess.Popen([PER, "campaign", "work", "--concurrency", "1", "--drain"], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
               for _ in range(processes)]  # fmt: skip
    for proc in workers:
        _, err = proc.communicate()
        if proc.returncode != 0:
            raise RuntimeError(f"campaign work failed: {err[-1500:]}")
    return time.perf_counter() - started


@contextlib.contextmanager
def _pg_schema() -> Iterator[str | None]:
    base = os.environ.get("PER_TEST_POSTGRES_URL")
    if not base:
        yield None
        return
    import sqlalchemy

    schema = f"bench_{uuid.uuid4().hex[:10]}"
    engine = sqlalchemy.create_engine(base, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in base else "?"
    try:
        yield f"{base}{sep}options=-csearch_path%3D{schema}"
    finally:
        with engine.connect() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        engine.dispose()


def _figure(name: str, patients: int, seconds: float, workers: int, hashes: tuple[float, float]) -> dict[str, Any]:
    one_hash, busy_rate = hashes
    rate, limit = patients / seconds, workers / one_hash
    print(f"  {name}: {patients:,} in {seconds:.1f} s = {rate:.1f}/s; one hash {one_hash * 1000:.1f} ms, limit "
          f"{limit:.1f}/s; {workers} thread(s) hashing at once: {busy_rate:.1f}/s ({rate / busy_rate:.2f})",
          file=sys.stderr)  # fmt: skip
    return {"name": name, "value": rate, "unit": "passwords/s", "baseline": f"Argon2id limit: {workers} ÷ one hash",
            "baseline_value": limit, "ratio": rate / limit, "target": f"≥ {TARGET}×",
            "ok": rate / limit >= TARGET,
            "detail": {"one_hash_ms": one_hash * 1000, "hashes_per_s_all_threads_at_once": busy_rate,
                       "ratio_to_all_threads_at_once": rate / busy_rate}}  # fmt: skip


def _bracketed(samples: int, workers: int, timed: Callable[[], float]) -> tuple[float, tuple[float, float]]:
    """``timed()``'s seconds, one hash's median time measured right before and right after it (these shared
    machines drift by a third within minutes, so each figure gets a baseline of its own minutes), and the rate of
    ``workers`` threads hashing at once around it (diagnostic: on a shared machine up to a fifth below the
    limit)."""
    before, busy_before = _hash_seconds(samples), _busy_hash_seconds(samples, workers)
    seconds = timed()
    after, busy_after = _hash_seconds(samples), _busy_hash_seconds(samples, workers)
    return seconds, (statistics.median(before + after), 2 * workers / (busy_before + busy_after))


def run(quick: bool) -> list[dict[str, object]]:
    patients = 1000 if quick else 10_000
    samples = 9 if quick else 15
    results: list[dict[str, object]] = []
    worker_counts = [w for w in (1, 2) if w <= _cores()]
    with tempfile.TemporaryDirectory() as tmp:
        env = _setup(Path(tmp), f"sqlite:///{tmp}/bench.db", patients)
        for w in worker_counts:
            seconds, hashes = _bracketed(samples, w, functools.partial(_inline, env, Path(tmp), w))
            results.append(_figure(f"campaign, {patients:,} patients, file transport, SQLite, {w} worker(s)", patients,
                                   seconds, w, hashes))  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp, _pg_schema() as pg:
        if pg is not None:
            env = _setup(Path(tmp), pg, patients)
            for w in worker_counts:
                seconds, hashes = _bracketed(samples, w, functools.partial(_queued, env, Path(tmp), w))
                results.append(_figure(f"campaign work, {patients:,} patients, PostgreSQL, {w} worker process(es)",
                                       patients, seconds, w, hashes))  # fmt: skip
    results.append(_rate_limit(300 if quick else 1000))
    return results


def _rate_limit(messages: int) -> dict[str, object]:
    """Messages per second the stand-in saw (first to last arrival) with ``sms_per_second = 50``."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    arrivals: list[float] = []
    lock = threading.Lock()

    class Elks(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with lock:
                arrivals.append(time.monotonic())
                n = len(arrivals)
            data = json.dumps({"status": "created", "id": f"s{n:032x}", "parts": 1}).encode()
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
    try:
        with tempfile.TemporaryDirectory() as tmp:
            config = ('[passwords]\nargon2_time_cost = 1\nargon2_memory_kib = 1024\n'
                      f"[transports]\nsms_per_second = {RATE}\n")  # fmt: skip
            env = _setup(Path(tmp), f"sqlite:///{tmp}/bench.db", messages, config)
            env["PER_SMS_TRANSPORT"] = f"elks://bench:secret@127.0.0.1:{http.server_address[1]}?tls=off&from=Neuroreg"
            _inline(env, Path(tmp), 2)
    finally:
        http.shutdown()
    rate = (len(arrivals) - 1) / (arrivals[-1] - arrivals[0])
    ok = len(arrivals) == messages and 0.95 * RATE <= rate <= RATE
    print(f"  rate limit {RATE:g}/s: {len(arrivals):,} SMS at {rate:.2f}/s", file=sys.stderr)
    return {"name": f"SMS rate limit, {messages:,} SMS to an HTTP stand-in", "value": rate, "unit": "messages/s",
            "baseline": "[transports] sms_per_second", "baseline_value": RATE, "ratio": rate / RATE,
            "target": "0.95–1.00×", "ok": ok}  # fmt: skip
