"""The shipped completion scripts in completions/ are what `per completion SHELL` prints now."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.helpers.per import PER

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_shipped_script_is_fresh(shell: str) -> None:
    printed = subprocess.run([PER, "completion", shell], capture_output=True, text=True, check=True).stdout
    shipped = (ROOT / "completions" / f"per.{shell}").read_text()
    assert printed == shipped, f"completions/per.{shell} is stale: run `make completions`"
    assert "_PER_COMPLETE" in printed


def test_completion_env_var_gives_the_same_script() -> None:
    import os

    proc = subprocess.run(
        [PER], capture_output=True, text=True, check=True, env={**os.environ, "_PER_COMPLETE": "bash_source"}
    )
    assert proc.stdout == (ROOT / "completions" / "per.bash").read_text()


def test_completing_a_group_name() -> None:
    import os

    env = {**os.environ, "_PER_COMPLETE": "bash_complete", "COMP_WORDS": "per pat", "COMP_CWORD": "1"}
    proc = subprocess.run([PER], capture_output=True, text=True, check=True, env=env)
    assert "plain,patient" in proc.stdout.splitlines()
