"""The embedded database is private: its file, ``-wal``/``-shm`` and the folder ``per`` creates, whatever the umask.

A new database file is created here, before SQLite opens it, with mode 0600 (``O_EXCL``, then ``fchmod`` because
the umask may have taken bits away); SQLite gives its ``-wal`` and ``-shm`` files the mode of the database file,
and :func:`tighten_companions` repeats that after each connect in case an older SQLite or another program made
them wider. Folders ``per`` creates are 0700. An existing database that group or others can read is not changed
behind the owner's back: the first connection warns once, naming the files and the ``chmod`` that fixes them.
"""

from __future__ import annotations

import errno
import os
import shlex
import stat
from collections.abc import Callable
from pathlib import Path

FILE_MODE = 0o600
FOLDER_MODE = 0o700
COMPANIONS = ("-wal", "-shm")


def make_folder(folder: Path) -> None:
    """Create ``folder`` and any missing parents, each new one 0700 (existing folders are left alone)."""
    missing: list[Path] = []
    current = folder
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for path in reversed(missing):
        try:
            path.mkdir(mode=FOLDER_MODE)
        except FileExistsError:  # another per created it meanwhile
            continue
        os.chmod(path, FOLDER_MODE)
    if not folder.is_dir():
        raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), str(folder))


def create_file(path: Path) -> bool:
    """Create an empty database file with mode 0600 if there is none; True when this call created it."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        return False
    try:
        os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)
    return True


def exposed(path: Path) -> list[Path]:
    """The database file and companions that group or others may read or write."""
    found: list[Path] = []
    for candidate in (path, *(path.with_name(path.name + suffix) for suffix in COMPANIONS)):
        try:
            mode = candidate.stat().st_mode
        except OSError:
            continue
        if stat.S_ISREG(mode) and stat.S_IMODE(mode) & 0o077:
            found.append(candidate)
    return found


def exposure_warning(files: list[Path]) -> str:
    names = " ".join(shlex.quote(str(f)) for f in files)
    return (
        f"the database {files[0]} can be read by other users of this computer (group or others); "
        f"make it private with: chmod 600 {names}"
    )


def tighten_companions(path: Path) -> None:
    """Give ``-wal``/``-shm`` files that exist the database file's privacy when the database itself is private."""
    try:
        if stat.S_IMODE(path.stat().st_mode) & 0o077:
            return  # the owner chose a wider database; the warning said so, leave their files alone
    except OSError:
        return
    for suffix in COMPANIONS:
        companion = path.with_name(path.name + suffix)
        try:
            if stat.S_IMODE(companion.stat().st_mode) & 0o077:
                os.chmod(companion, FILE_MODE)
        except OSError:
            continue


def guard(path: Path, warn: Callable[[str], None]) -> Callable[[], None]:
    """What to do before each connect: create the file privately, or warn once about an exposed existing one."""
    state = {"checked": False}

    def before_connect() -> None:
        if create_file(path) or state["checked"]:
            state["checked"] = True
            return
        state["checked"] = True
        files = exposed(path)
        if files:
            warn(exposure_warning(files))

    return before_connect
