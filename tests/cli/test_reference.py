"""docs/cli.md is what ``make docs`` makes now: every command's ``--help``, the same on any terminal."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from per_cli.cli.reference import render
from tests.conftest import PER

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "docs" / "cli.md"
HEAVY = ("sqlalchemy", "phonenumbers", "stdnum", "httpx", "argon2")


def test_shipped_reference_is_fresh() -> None:
    assert render() == SHIPPED.read_text(encoding="utf-8"), "docs/cli.md is stale: run `make docs`"


def test_the_generator_ignores_the_terminal_and_loads_no_domain_library() -> None:
    code = (
        "import sys\n"
        "from per_cli.cli.reference import main\n"
        "main()\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules), file=sys.stderr)\n"
    )
    env = {**os.environ, "COLUMNS": "40", "LINES": "10", "PER_CONFIG": "/nonexistent/per.toml"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert proc.stdout == SHIPPED.read_text(encoding="utf-8")
    assert proc.stderr == "[]\n"


def test_one_heading_and_anchor_per_command_path_and_every_contents_link_resolves() -> None:
    text = SHIPPED.read_text(encoding="utf-8")
    anchors = re.findall(r'^<a id="([^"]+)"></a>\n\n#+ (.+) --help$', text, re.M)
    assert len(anchors) == len(re.findall(r"^<a id=", text, re.M)) == len(re.findall(r"^#{2,} per", text, re.M))
    assert [a for a, _ in anchors] == [path.replace(" ", "-") for _, path in anchors]
    assert len({a for a, _ in anchors}) == len(anchors)
    links = re.findall(r"^\s*- \[`([^`]+)`\]\(#([^)]+)\)", text, re.M)
    assert links == [(path, anchor) for anchor, path in anchors]


def test_each_help_text_is_what_per_prints_in_a_wide_terminal(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every command path in the file against the program itself: in-process for each, as a subprocess for one."""
    from per_cli.cli import cli

    monkeypatch.setenv("COLUMNS", "200")
    text = SHIPPED.read_text(encoding="utf-8")
    paths = re.findall(r"^#+ per(.*) --help$", text, re.M)
    assert len(paths) > 40
    for path in paths:
        assert cli.main([*path.split(), "--help"], prog_name="per", standalone_mode=False) == 0, path
        assert f"per{path} --help\n\n```\n{capsys.readouterr().out.rstrip()}\n```\n" in text, path
    printed = subprocess.run([PER, "patient", "enrol", "--help"], capture_output=True, text=True, check=True).stdout
    assert f"per patient enrol --help\n\n```\n{printed.rstrip()}\n```\n" in text
