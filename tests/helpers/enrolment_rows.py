"""Generated, valid, fictional enrolment rows (shared by tests and bench/enrol.py)."""

from __future__ import annotations

import csv
import random
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

FIRST = ["Åsa", "Märta", "Örjan", "Tolvan", "Sven", "Karin", "Björn", "Ingrid", "Lars", "Eva", "Göran", "Maja"]
LAST = ["Öberg", "Ängström", "Tolvansson", "Lindqvist", "Nilsson", "Åkesson", "Karlsson", "Berg", "Ek", "Holm"]


def luhn(nine: str) -> str:
    total = 0
    for i, ch in enumerate(nine):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return str((10 - total % 10) % 10)


def personnummer(rng: random.Random, *, coordination: bool = False) -> str:
    born = date(1920, 1, 1) + timedelta(days=rng.randrange(365 * 85))
    day = born.day + (60 if coordination else 0)
    serial = f"{rng.randrange(1, 1000):03d}"
    short = f"{born.year % 100:02d}{born.month:02d}{day:02d}{serial}"
    return f"{born.year}{born.month:02d}{day:02d}{serial}{luhn(short)}"


def rows(n: int, seed: int = 1) -> Iterator[dict[str, str]]:
    """``n`` distinct people with mobile and e-mail (mobile numbers are never sent to)."""
    rng = random.Random(seed)
    seen: set[str] = set()
    while len(seen) < n:
        pnr = personnummer(rng, coordination=rng.random() < 0.02)
        if pnr in seen:
            continue
        seen.add(pnr)
        first, last = rng.choice(FIRST), rng.choice(LAST)
        yield {
            "personnummer": f"{pnr[:8]}-{pnr[8:]}",
            "förnamn": first,
            "efternamn": last,
            "mobiltelefon": f"070-{rng.randrange(1000):03d} {rng.randrange(100):02d} {rng.randrange(100):02d}",
            "e-post": f"p{len(seen)}@example.se",
        }


def write_csv(path: Path, n: int, *, seed: int = 1, encoding: str = "utf-8", delimiter: str = ";") -> Path:
    with path.open("w", encoding=encoding, newline="") as fh:
        writer = csv.DictWriter(
            fh, fieldnames=["personnummer", "förnamn", "efternamn", "mobiltelefon", "e-post"], delimiter=delimiter
        )
        writer.writeheader()
        writer.writerows(rows(n, seed))
    return path
