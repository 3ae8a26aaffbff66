"""Start-up cost: ``per --help`` beside ``import click``; ``per patient show`` beside ``import sqlalchemy.orm``.

Runs are interleaved (a, b, a, b, …) so that a noisy neighbour hits both sides alike; the median is kept.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PER = str(Path(sys.executable).parent / "per")


def _time(cmd: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - started


def _pair(a: list[str], b: list[str], env: dict[str, str], n: int) -> tuple[float, float]:
    for _ in range(2):  # warm the page cache
        _time(a, env), _time(b, env)
    ta, tb = [], []
    for _ in range(n):
        ta.append(_time(a, env))
        tb.append(_time(b, env))
    return statistics.median(ta), statistics.median(tb)


def _result(name: str, value: float, baseline: str, base: float, limit: float) -> dict[str, object]:
    ratio = value / base
    return {
        "name": name,
        "value": value * 1000,
        "unit": "ms",
        "baseline": baseline,
        "baseline_value": base * 1000,
        "ratio": ratio,
        "target": f"≤ {limit}×",
        "ok": ratio <= limit,
    }


def run(quick: bool) -> list[dict[str, object]]:
    n = 7 if quick else 21
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "PER_DATABASE_URL": f"sqlite:///{tmp}/bench.db",
            "PER_ACTOR": "bench",
            "PER_CONFIG": str(Path(tmp) / "none.toml"),
        }
        Path(env["PER_CONFIG"]).write_text("")
        subprocess.run([PER, "db", "upgrade"], env=env, check=True, capture_output=True)  # creates the file
        subprocess.run([PER, "unit", "add", "BENCH", "--name", "Bench"], env=env, check=True, capture_output=True)
        subprocess.run(
            [
                PER,
                "patient",
                "enrol",
                "191212121212",
                "--first-name",
                "Tolvan",
                "--last-name",
                "Tolvansson",
                "--unit",
                "BENCH",
                "--mobile",
                "0701740605",
            ],
            env=env,
            check=True,
            capture_output=True,
        )
        py = sys.executable
        help_t, click_t = _pair([PER, "--help"], [py, "-c", "import click"], env, n)
        show_t, orm_t = _pair([PER, "patient", "show", "191212121212"], [py, "-c", "import sqlalchemy.orm"], env, n)
    return [
        _result("per --help", help_t, "python -c 'import click'", click_t, 1.5),
        _result("per patient show (SQLite)", show_t, "python -c 'import sqlalchemy.orm'", orm_t, 1.5),
    ]
