"""The rejects file on the command line: never the input, '-' is stdout, private, whole even on a full disk."""

from __future__ import annotations

import os
import resource
import stat
import subprocess
from pathlib import Path

import pytest

from tests.helpers.per import PER, RunPer

HEADER = "personnummer,first_name,last_name,comment\n"
BAD = '191212121213,Tolvan,Tolvansson,"=HYPERLINK(""http://x"",""y"")"\n'  # wrong check digit


def test_rejects_naming_the_input_is_refused_before_anything_is_read(
    per_proc: RunPer, unit: str, tmp_path: Path
) -> None:
    source = tmp_path / "in.csv"
    source.write_text(HEADER + BAD)
    link = tmp_path / "link.csv"
    link.symlink_to(source)
    for target in (source, link):
        result = per_proc("patient", "enrol", "--file", str(source), "--unit", unit, "--rejects", str(target))
        assert result.exit_code == 1
        assert result.stderr.startswith("Error: --rejects: ") and "is the input file" in result.stderr
        assert result.stderr.count("\n") == 1
    assert source.read_text() == HEADER + BAD


def test_rejects_dash_is_stdout_and_neutralised(
    per_proc: RunPer, unit: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "in.csv"
    source.write_text(HEADER + BAD)
    monkeypatch.chdir(tmp_path)
    result = per_proc("patient", "enrol", "--file", str(source), "--unit", unit, "--rejects", "-")
    assert result.exit_code == 3, result.stderr
    assert not (tmp_path / "-").exists()
    lines = result.stdout.splitlines()
    assert lines[0] == "personnummer,first_name,last_name,comment,line,reason"
    assert lines[1].startswith("191212121213,Tolvan,Tolvansson,\"'=HYPERLINK(")
    assert "rejected 1" in result.stderr


def test_rejects_file_is_private(per_proc: RunPer, unit: str, tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text(HEADER + BAD)
    target = tmp_path / "rej.csv"
    result = per_proc("patient", "enrol", "--file", str(source), "--unit", unit, "--rejects", str(target))
    assert result.exit_code == 3, result.stderr
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


def test_full_disk_leaves_no_half_rejects_file(env: dict[str, str], unit: str, tmp_path: Path) -> None:
    """A file size limit (RLIMIT_FSIZE) stands in for a full disk: writes past it fail with EFBIG."""
    source = tmp_path / "in.csv"
    long_bad = "191212121213,Tolvan,Tolvansson," + "x" * 1500 + "\n"
    source.write_text(HEADER + long_bad * 3000)  # 4.5 MB of rejected rows
    target = tmp_path / "rej.csv"
    db = Path(env["PER_DATABASE_URL"].removeprefix("sqlite:///"))
    limit = max(4 << 20, db.stat().st_size + (2 << 20)) if db.exists() else 4 << 20

    def small_files() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    proc = subprocess.run(
        [PER, "patient", "enrol", "--file", str(source), "--unit", unit, "--rejects", str(target)],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        preexec_fn=small_files,  # only a resource limit
        timeout=300,
        check=False,
    )
    assert proc.returncode == 1, proc.stderr
    *rows, last = proc.stderr.splitlines()
    assert last.startswith("Error: --rejects: cannot write"), proc.stderr
    assert all(r.startswith(("line ", "… and")) for r in rows), proc.stderr  # the rejected rows, then the one error
    assert not target.exists()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".rej")) == []


def test_piped_input_and_an_early_stop_leave_no_traceback(per_proc: RunPer, unit: str, tmp_path: Path) -> None:
    """``--file <(…)`` is a pipe (not seekable; here a named one); a refused --unit stops a run with rows unread."""
    source = tmp_path / "in.csv"
    source.write_text(HEADER + BAD * 6000)
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    writer = subprocess.Popen(["sh", "-c", f"cat '{source}' > '{fifo}'"])
    try:
        result = per_proc("patient", "enrol", "--file", str(fifo), "--unit", unit, "--dry-run")
    finally:
        writer.wait(timeout=60)
    assert result.exit_code == 3, result.stderr
    assert result.stderr.endswith("Error: 6000 of 6000 rows were rejected\n")
    stopped = per_proc("patient", "enrol", "--file", str(source), "--unit", "NOPE")
    assert stopped.exit_code == 1
    assert stopped.stderr == "Error: --unit: no care unit NOPE; see `per unit list`\n"
