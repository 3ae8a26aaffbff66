"""The embedded database is private: a new SQLite file, its -wal/-shm and the folders per creates are 0600/0700
whatever the umask; an existing database others can read is named once, with the chmod that fixes it."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from per_cli.db.engine import make_engine
from tests.helpers.per import RunPer


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask() -> Iterator[None]:
    old = os.umask(0o002)  # a group-writable umask, as on shared servers
    yield
    os.umask(old)


def test_a_new_database_its_wal_and_shm_and_new_folders_are_private(tmp_path: Path, open_umask: None) -> None:
    (tmp_path / "home").mkdir()
    os.chmod(tmp_path / "home", 0o755)
    path = tmp_path / "home" / "new" / "deeper" / "per.db"
    engine = make_engine(f"sqlite:///{path}")
    with engine.connect() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
        conn.execute(text("INSERT INTO t VALUES (1)"))
        conn.commit()
        wal, shm = path.with_name("per.db-wal"), path.with_name("per.db-shm")
        assert wal.exists() and shm.exists()
        assert (mode(path), mode(wal), mode(shm)) == (0o600, 0o600, 0o600)
    engine.dispose()
    assert (mode(path.parent.parent), mode(path.parent)) == (0o700, 0o700)
    assert mode(tmp_path / "home") == 0o755  # a folder per did not create is left as it was


@pytest.mark.parametrize("backend", ["sqlite"])
def test_per_creates_its_database_privately(per_proc: RunPer, tmp_path: Path, open_umask: None) -> None:
    path = tmp_path / "data" / "per.db"
    result = per_proc("db", "upgrade", extra_env={"PER_DATABASE_URL": f"sqlite:///{path}"})
    assert result.exit_code == 0, result.stderr
    assert "Warning" not in result.stderr
    assert (mode(path), mode(path.parent)) == (0o600, 0o700)


@pytest.mark.parametrize("backend", ["sqlite"])
def test_an_existing_database_others_can_read_is_named_once_with_the_fix(per_proc: RunPer, tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    url = {"PER_DATABASE_URL": f"sqlite:///{path}"}
    assert per_proc("db", "upgrade", extra_env=url).exit_code == 0
    assert per_proc("unit", "add", "NEURO-SU", "--name", "Neurologi", extra_env=url).exit_code == 0
    os.chmod(path, 0o644)
    result = per_proc("unit", "list", extra_env=url)
    assert result.exit_code == 0
    warnings = [line for line in result.stderr.splitlines() if line.startswith("Warning")]
    assert warnings == [
        f"Warning: the database {path} can be read by other users of this computer (group or others); "
        f"make it private with: chmod 600 {path}"
    ]
    assert mode(path) == 0o644  # the owner's choice is not changed behind their back
    assert per_proc("-q", "unit", "list", extra_env=url).stderr == ""
    os.chmod(path, 0o600)
    assert per_proc("unit", "list", extra_env=url).stderr == ""
