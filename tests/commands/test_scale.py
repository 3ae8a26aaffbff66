"""``per scale list`` and ``per scale show``: output, the extra directory, errors, light imports."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from commands.scale import cli
from per_cli.cli.app import App
from per_cli.config import Config
from per_cli.errors import NotFound
from tests.helpers.scales import WriteScale

#: no extra scale directory or user config leaks in from the developer's environment
pytestmark = pytest.mark.usefixtures("isolated_scales")


def invoke(args: list[str]) -> Result:
    """The ``scale`` group as the root runs it: with an App (no config file; the environment as it is)."""
    return CliRunner().invoke(cli, args, obj=App(config=Config(), actor="tester"))


def test_list() -> None:
    result = invoke(["list"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["CODE", "NAME", "VERSION", "ITEMS", "SCORES", "ORIGIN"]
    assert [line.split()[0] for line in lines[1:]] == ["EQ-5D-5L", "HADS", "MG-ADL", "MSIS-29", "MSWS-12", "PDQ-39"]
    msis = next(line for line in lines if line.startswith("MSIS-29"))
    assert msis.split()[-4:] == ["2", "29", "4", "shipped"]
    column = lines[0].index("VERSION")  # aligned: the value sits under its header
    assert msis[column - 1 : column + 2] == " 2 "


def test_list_in_the_other_formats() -> None:
    import json

    records = json.loads(invoke(["list", "--format", "json"]).output)
    msis = {"code": "MSIS-29", "version": "2", "items": 29, "scores": 4, "origin": "shipped"}
    assert list(records[3]) == ["code", "name", "version", "items", "scores", "origin"]
    assert {k: v for k, v in records[3].items() if k != "name"} == msis
    lines = invoke(["list", "--format", "csv"]).output.splitlines()
    assert lines[0] == "code,name,version,items,scores,origin" and lines[4].endswith(",2,29,4,shipped")
    assert invoke(["list", "--format", "plain"]).output.splitlines()[0].split("\t")[0] == "EQ-5D-5L"


def test_show_in_the_other_formats() -> None:
    import json

    detail = json.loads(invoke(["show", "msis-29", "--format", "json"]).output)
    assert (detail["code"], len(detail["items"]), len(detail["scores"])) == ("MSIS-29", 29, 4)
    item = {"id": "1", "label": "", "answers": "1–4", "missing_allowed": False, "missing_score": None}
    assert detail["items"][0] == item
    rows = invoke(["show", "msis-29", "--format", "csv"]).output.splitlines()
    assert rows[0] == "scale,version,id,label,answers,missing_allowed,missing_score"
    assert rows[1:3] == ["MSIS-29,2,1,,1–4,no,", "MSIS-29,2,2,,1–4,no,"] and len(rows) == 30
    lines = [json.loads(line) for line in invoke(["show", "PDQ-39", "--format", "jsonl"]).output.splitlines()]
    assert len(lines) == 39 and lines[27]["missing_allowed"] is True and lines[27]["scale"] == "PDQ-39"


def test_format_choices_are_the_shared_ones() -> None:
    from commands.scale import list_scales
    from per_cli.cli.output import DOCUMENT_FORMATS

    option = next(p for p in list_scales.params if p.name == "fmt")
    assert isinstance(option.type, click.Choice) and tuple(option.type.choices) == DOCUMENT_FORMATS


def test_list_with_extra_dir_from_environment(
    monkeypatch: pytest.MonkeyPatch, write_scale: WriteScale, extra_dir: Path
) -> None:
    write_scale()
    monkeypatch.setenv("PER_SCALES_DIR", str(extra_dir))
    result = invoke(["list"])
    assert result.exit_code == 0, result.output
    local = next(line for line in result.output.splitlines() if line.startswith("LOCAL-1"))
    assert local.split()[-1] == "extra"


def test_show() -> None:
    result = invoke(["show", "msis-29"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert out.startswith("code:      MSIS-29\nname:      Multiple Sclerosis Impact Scale (29 items)\nversion:   2\n")
    assert "source:    Hobart J, Lamping D" in out
    assert "\nID  ANSWERS\n1   1–4\n" in out
    assert "psychological  Psychological impact  21, 22, 23, 24, 25, 26, 27, 28, 29" in out
    score_lines = {line.split()[0]: line.split() for line in out.splitlines() if "sum" in line}
    assert score_lines["physical_raw"][-2:] == ["physical", "20–80"]
    assert score_lines["psychological"][-3:] == ["psychological", "0–100", "1"]


def test_show_pdq39_marks_the_optional_item() -> None:
    result = invoke(["show", "PDQ-39"])
    assert result.exit_code == 0, result.output
    assert "\n28  0–4      yes              0\n" in result.output
    assert "pdq39_si" in result.output


def test_show_unknown_code() -> None:
    result = invoke(["show", "EQ-5D-3L"])
    assert isinstance(result.exception, NotFound)
    assert "known scales: EQ-5D-5L, HADS" in str(result.exception)


def test_through_the_root_command(tmp_path: Path, write_scale: WriteScale, extra_dir: Path) -> None:
    """With the real ``per``: the config file names the extra directory; errors map to exit code 1."""
    from per_cli.cli import cli as per

    write_scale()
    config = tmp_path / "per.toml"
    config.write_text(f'[scales]\nextra_dir = "{extra_dir.name}"\n')
    result = CliRunner().invoke(per, ["--config", str(config), "scale", "show", "local-1"])
    assert result.exit_code == 0, result.output
    assert "code:      LOCAL-1" in result.output
    result = CliRunner().invoke(per, ["--config", str(config), "scale", "show", "nope"])
    assert result.exit_code == 1
    assert "unknown scale 'nope'; known scales: EQ-5D-5L, HADS, LOCAL-1," in result.output


def test_invalid_extra_file_through_the_root_command(tmp_path: Path, write_scale: WriteScale, extra_dir: Path) -> None:
    from per_cli.cli import cli as per

    path = write_scale('code = "LOCAL-1"\n')
    config = tmp_path / "per.toml"
    config.write_text(f'[scales]\nextra_dir = "{extra_dir}"\n')
    result = CliRunner().invoke(per, ["--config", str(config), "scale", "list"])
    assert result.exit_code == 1
    assert f"{path}: name: is required" in result.output


def test_command_module_imports_only_click_and_the_shared_options() -> None:
    """The shared ``--format``/``--output``/``--excel`` options, and nothing of the scales or the database."""
    code = "import sys, commands.scale; print(' '.join(sorted(m for m in sys.modules if m.startswith('per_cli'))))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    loaded = set(out.split())
    assert loaded <= {"per_cli", "per_cli.cli", "per_cli.cli.options", "per_cli.cli.output", "per_cli.errors"} | {
        m for m in loaded if m.startswith("per_cli.identity")
    }
    assert not {m for m in loaded if m.startswith(("per_cli.scales", "per_cli.db"))}
