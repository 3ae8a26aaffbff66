"""Private files: 0600 whatever the umask, whole or not at all, never over an input, '-' is stdout."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from per_cli.errors import InvalidInput, PerError
from per_cli.files import PrivateFile, check_target, write_private


def test_private_whatever_the_umask(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    target.write_text("old")
    target.chmod(0o644)
    old = os.umask(0)
    try:
        write_private(str(target), b"new")
    finally:
        os.umask(old)
    assert target.read_bytes() == b"new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]  # no temporary file left


def test_nothing_appears_until_complete_and_a_write_error_leaves_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    target.write_text("old")
    message = r"^rejects: cannot write .*out.csv \(No space left on device\)"
    with pytest.raises(PerError, match=message) as err, PrivateFile(str(target), field="rejects") as fh:
        fh.write("half")
        assert target.read_text() == "old"
        raise OSError(28, "No space left on device")
    assert str(err.value).count("\n") == 0
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]


def test_interrupted_run_keeps_the_rows_written(tmp_path: Path) -> None:
    target = tmp_path / "rej.csv"
    with pytest.raises(KeyboardInterrupt), PrivateFile(str(target), field="rejects") as fh:
        fh.write("row\r\n")
        raise KeyboardInterrupt
    assert target.read_bytes() == b"row\r\n"


def test_the_input_itself_is_refused_also_through_a_link(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text("x")
    link = tmp_path / "link.csv"
    link.symlink_to(source)
    for name in (str(source), str(link), str(tmp_path / "." / "in.csv")):
        with pytest.raises(InvalidInput, match="is the input file") as err:
            check_target(name, field="rejects", inputs=(str(source),))
        assert err.value.field == "rejects"
    check_target(str(tmp_path / "other.csv"), field="rejects", inputs=(str(source),))
    assert source.read_text() == "x"


def test_a_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="is a folder"):
        check_target(str(tmp_path), field="output")


def test_dash_is_stdout(
    capfdbinary: pytest.CaptureFixture[bytes], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write_private("-", b"data\n")
    assert capfdbinary.readouterr().out == b"data\n"
    assert not (tmp_path / "-").exists()


def test_a_device_is_written_to_never_replaced() -> None:
    write_private("/dev/null", b"gone")
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
    if Path("/dev/full").exists():
        with pytest.raises(PerError, match=r"^output: cannot write /dev/full \(No space left on device\)"):
            write_private("/dev/full", b"x" * 100_000)
        assert stat.S_ISCHR(os.stat("/dev/full").st_mode)  # still the device, not a file renamed over it
