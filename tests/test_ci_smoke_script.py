"""``examples/ci-smoke-logins.sh`` runs as a CI pipeline would: a subprocess with ``per`` on PATH."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.helpers.per import VENV_BIN

SCRIPT = Path(__file__).resolve().parent.parent / "examples" / "ci-smoke-logins.sh"


def run_script(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PER_")}
    full = {
        **clean,
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "TMPDIR": str(tmp_path),
        "HOME": str(tmp_path),
        **env,
    }
    return subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, env=full, timeout=240, check=False)


def test_the_script_is_executable_and_documented() -> None:
    assert os.access(SCRIPT, os.X_OK)
    head = SCRIPT.read_text().split("set -euo pipefail")[0]
    for word in ("file://", "exit 4", "DENIED", "BROKEN", "SMOKE_FLOWS", "SMOKE_DATABASE_URL"):
        assert word in head


def test_the_smoke_script_passes(tmp_path: Path) -> None:
    result = run_script(tmp_path)
    assert result.returncode == 0, result.stderr
    assert "ok: one-time-code login" in result.stderr and "ok: care giver proxy login" in result.stderr
    assert "ok: BankID login" in result.stderr
    assert "smoke test passed: otp proxy bankid" in result.stderr
    assert "FAILED" not in result.stderr and result.stdout == ""
    assert not list(tmp_path.glob("per-smoke.*"))  # the scratch directory is removed


def test_a_broken_setup_is_reported_as_broken(tmp_path: Path) -> None:
    result = run_script(tmp_path, SMOKE_FLOWS="proxy", SMOKE_DATABASE_URL="mysql://nowhere/db")
    assert result.returncode == 1
    assert "FAILED: BROKEN (exit 1): per -q db upgrade" in result.stderr
    assert not list(tmp_path.glob("per-smoke.*"))
