"""``per bankid simulator`` as CI runs it: a separate process, a listening line, a config file, Ctrl-C."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from per_cli.bankid.client import client_from_config
from tests.helpers.bankid import OTHER_PNR, PNR

RUN = "import sys; from per_cli.cli import main; sys.exit(main(['bankid', *sys.argv[1:]]))"
ROOT = Path(__file__).resolve().parents[2]


def _start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", RUN, "simulator", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_runs_until_interrupted_and_writes_a_usable_config(tmp_path: Path, stop: signal.Signals) -> None:
    state = tmp_path / "state"
    proc = _start("--state-dir", str(state), "--polls", "0", "--person", f"{OTHER_PNR}=userCancel")
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert re.fullmatch(r"listening on https://127\.0\.0\.1:\d+/rp/v6\.0/\n", line), line
        config = tomllib.loads((state / "per.toml").read_text())["bankid"]
        assert config["base_url"] == line.split()[-1]
        assert "password" not in (state / "per.toml").read_text().split("#")[0]
        with client_from_config(config, {}) as client:
            assert client.collect(client.auth(PNR, "127.0.0.1").order_ref).status == "complete"
            assert client.collect(client.auth(OTHER_PNR, "127.0.0.1").order_ref).hint_code == "userCancel"
        proc.send_signal(stop)
        out, err = proc.communicate(timeout=10)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert out == "" and "Traceback" not in err
    assert f"config: {state / 'per.toml'}" in err


def test_bad_person_is_a_usage_error() -> None:
    from commands.bankid import cli

    result = CliRunner().invoke(cli, ["simulator", "--person", "12345=complete"])
    assert result.exit_code == 2
    assert "12-digit" in result.stderr
    result = CliRunner().invoke(cli, ["simulator", "--person", f"{PNR}=nonsense"])
    assert result.exit_code == 2 and "unknown scenario" in result.stderr


def test_command_module_imports_only_click() -> None:
    heavy = ("httpx", "cryptography", "segno", "per_cli.bankid.simulator", "ssl")
    code = f"import sys, commands.bankid; print([m for m in {heavy!r} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_ready_file_with_no_config_file_yet(tmp_path: Path) -> None:
    """CI names the simulator's per.toml in PER_CONFIG before it exists, then waits for the ready file."""
    import os
    import time

    from tests.helpers.per import PER

    state, ready = tmp_path / "state", tmp_path / "ready"
    env = {**os.environ, "PER_CONFIG": str(state / "per.toml"), "PER_DATABASE_URL": f"sqlite:///{tmp_path}/x.db"}
    proc = subprocess.Popen(
        [PER, "bankid", "simulator", "--state-dir", str(state), "--ready-file", str(ready), "-q"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        for _ in range(600):
            if ready.exists() or proc.poll() is not None:
                break
            time.sleep(0.1)
        lines = dict(line.split("=", 1) for line in ready.read_text().splitlines())
        assert set(lines) == {"url", "config"}
        assert re.fullmatch(r"https://127\.0\.0\.1:\d+/rp/v6\.0/", lines["url"])
        assert Path(lines["config"]) == (state / "per.toml").resolve()
        config = tomllib.loads(Path(lines["config"]).read_text())["bankid"]
        assert config["base_url"] == lines["url"]
        with client_from_config(config, {}) as client:  # it accepts connections once the file is there
            assert client.collect(client.auth(PNR, "127.0.0.1").order_ref).status in ("pending", "complete")
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=10)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert err == "" and out.startswith("listening on https://")
    assert not ready.exists()  # gone with the simulator: a stale file never says "ready"


def test_an_unwritable_ready_file_is_one_line(tmp_path: Path) -> None:
    from tests.helpers.per import PER

    result = subprocess.run(
        [PER, "bankid", "simulator", "--state-dir", str(tmp_path / "s"), "--ready-file", str(tmp_path / "no" / "r")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith("Error: --ready-file: cannot write")
    assert "Traceback" not in result.stderr
