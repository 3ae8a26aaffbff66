"""Running ``per`` in tests and the identities they use: the installed program, a run's result, enrolment args."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

VENV_BIN = Path(sys.executable).parent
PER = shutil.which("per", path=str(VENV_BIN)) or "per"

TOLVAN = "191212121212"  # Skatteverket's well-known test identity
SAMORDNING = "197010632391"  # a samordningsnummer (day 03 + 60)


@dataclass
class Run:
    exit_code: int
    stdout: str
    stderr: str


RunPer = Callable[..., Run]


def enrol_args(pnr: str = TOLVAN, *extra: str, unit: str = "NEURO-SU") -> Sequence[str]:
    return ["patient", "enrol", pnr, "--first-name", "Tolvan", "--last-name", "Tolvansson", "--unit", unit, *extra]
