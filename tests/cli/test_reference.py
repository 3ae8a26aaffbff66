"""docs/cli.md is what ``make docs`` makes now: every command's ``--help``, the same on any terminal."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.helpers.per import PER

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "docs" / "cli.md"
HEAVY = ("sqlalchemy", "phonenumbers", "stdnum", "httpx", "argon2")


def _python(code: str, **env: str) -> str:
    """Run ``code`` in a fresh interpreter: click caches each command's help option on first use, so help shown
    by an earlier test that invoked a group on its own would differ from what ``per`` prints."""
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ, **env}, check=True
    )
    assert proc.stderr == ""
    return proc.stdout


def test_shipped_reference_is_fresh_whatever_the_terminal_and_loads_no_domain_library() -> None:
    code = (
        "import sys\n"
        "from per_cli.cli.reference import main\n"
        "main()\n"
        f"assert not [m for m in {HEAVY!r} if m in sys.modules], sorted(sys.modules)\n"
    )
    for columns in ("40", "300"):
        printed = _python(code, COLUMNS=columns, LINES="10", PER_CONFIG="/nonexistent/per.toml")
        assert printed == SHIPPED.read_text(encoding="utf-8"), "docs/cli.md is stale: run `make docs`"


def test_one_heading_and_anchor_per_command_path_and_every_contents_link_resolves() -> None:
    text = SHIPPED.read_text(encoding="utf-8")
    anchors = re.findall(r'^<a id="([^"]+)"></a>\n\n#+ (.+) --help$', text, re.M)
    assert len(anchors) == len(re.findall(r"^<a id=", text, re.M)) == len(re.findall(r"^#{2,} per", text, re.M))
    assert [a for a, _ in anchors] == [path.replace(" ", "-") for _, path in anchors]
    assert len({a for a, _ in anchors}) == len(anchors)
    links = re.findall(r"^\s*- \[`([^`]+)`\]\(#([^)]+)\)", text, re.M)
    assert links == [(path, anchor) for anchor, path in anchors]


def test_each_help_text_is_what_per_prints_in_a_wide_terminal() -> None:
    """Every command path in the file against the program itself (one fresh process runs them all), and one path
    against the installed ``per``."""
    text = SHIPPED.read_text(encoding="utf-8")
    paths = re.findall(r"^#+ per(.*) --help$", text, re.M)
    assert len(paths) > 40
    code = (
        "import sys\n"
        "from per_cli.cli import cli\n"
        f"for path in {paths!r}:\n"
        "    assert cli.main([*path.split(), '--help'], prog_name='per', standalone_mode=False) == 0, path\n"
        "    print('\\0', end='')\n"
    )
    printed = _python(code, COLUMNS="200").split("\0")
    assert len(printed) == len(paths) + 1 and printed[-1] == ""
    for path, help_text in zip(paths, printed, strict=False):
        assert f"per{path} --help\n\n```\n{help_text.rstrip()}\n```\n" in text, path
    env = {**os.environ, "COLUMNS": "200"}
    per = subprocess.run([PER, "patient", "enrol", "--help"], capture_output=True, text=True, env=env, check=True)
    assert f"per patient enrol --help\n\n```\n{per.stdout.rstrip()}\n```\n" in text


def test_the_readme_links_the_reference_and_the_changelog() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for target in ("docs/cli.md", "CHANGELOG.md"):
        assert f"]({target})" in readme and (ROOT / target).is_file(), target
