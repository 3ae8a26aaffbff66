"""Files ``per`` writes with patient data: private, whole or not at all, never over the input.

Every such file -- a rejects file, ``audit review --output``, a register extract, an export -- is written
through :class:`PrivateFile`: created under a temporary name in the target's folder with mode 0600 (whatever
the umask), and renamed over the target only when complete, so a reader never sees half a file and a full disk
leaves the old file (or none) and one line. ``-`` means stdout; a device or FIFO (``/dev/null``) is written
to as it is, never replaced. A target that is one of the run's input files
(also through a link) is refused before anything is read.
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
import tempfile
from pathlib import Path
from types import TracebackType
from typing import IO, Any, NoReturn

from per_cli.errors import InvalidInput, PerError

STDOUT = "-"


def _reason(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def same_file(a: str, b: str) -> bool:
    """True when the two paths name one file (links followed); ``-`` names no file."""
    if STDOUT in (a, b):
        return False
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)


def _special(target: Path) -> bool:
    """True for an existing target that is not a regular file (a device, a FIFO)."""
    try:
        return not stat.S_ISREG(target.stat().st_mode) and not target.is_dir()
    except OSError:
        return False


def check_target(path: str, *, field: str, inputs: tuple[str, ...] = ()) -> None:
    """Refuse a target that is a folder or one of ``inputs``, before any work is done."""
    if path == STDOUT:
        return
    if not path:
        raise InvalidInput("name a file, or - for stdout", field=field)
    if Path(path).is_dir():
        raise InvalidInput(f"{path} is a folder; name a file", field=field)
    for source in inputs:
        if same_file(path, source):
            raise InvalidInput(
                f"{path} is the input file; name another file so the input is not overwritten", field=field
            )


class PrivateFile:
    """A file written privately: ``with PrivateFile(path) as fh: fh.write(...)``.

    The temporary file is created at once (so an unwritable folder is found before the work). Leaving the
    block normally, or by an error other than a write error (Ctrl-C, a refused run), keeps what was written:
    rows are written whole. A write error (full disk) removes the temporary file and raises one line.
    """

    def __init__(
        self,
        path: str,
        *,
        field: str,
        binary: bool = False,
        encoding: str = "utf-8",
        errors: str = "strict",
        inputs: tuple[str, ...] = (),
    ) -> None:
        check_target(path, field=field, inputs=inputs)
        self.path = path
        self.field = field
        self._tmp: str | None = None
        self._device = False
        self.stream: IO[Any]
        if path == STDOUT:
            self.stream = sys.stdout.buffer if binary else sys.stdout
            return
        target = Path(path)
        if _special(target):  # /dev/null, /dev/stdout, a FIFO: written to as it is, never replaced
            self._device = True
            try:
                if binary:
                    self.stream = open(target, "wb")  # noqa: SIM115 -- closed by commit or discard
                else:
                    self.stream = open(target, "w", encoding=encoding, errors=errors)  # noqa: SIM115
            except OSError as exc:
                raise InvalidInput(f"cannot write {path} ({_reason(exc)})", field=field) from None
            return
        try:
            fd, self._tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent or ".")
        except OSError as exc:
            raise InvalidInput(
                f"cannot write in {target.parent} ({_reason(exc)}); name a file you can write", field=field
            ) from None
        os.fchmod(fd, 0o600)  # mkstemp already does; said again so no umask or platform can widen it
        if binary:
            self.stream = os.fdopen(fd, "wb")
        else:
            self.stream = os.fdopen(fd, "w", encoding=encoding, errors=errors, newline="")

    def write(self, data: Any) -> None:
        try:
            self.stream.write(data)
        except OSError as exc:
            self.fail(exc)

    def commit(self) -> None:
        """Flush, sync and rename over the target; idempotent."""
        if self._tmp is None:
            if self.path == STDOUT or self._device:
                try:
                    self.stream.flush()
                    if self._device:
                        self.stream.close()
                except OSError as exc:
                    self._device = False  # closed: the error is reported once
                    self.fail(exc)
            return
        tmp = self._tmp
        try:
            self.stream.flush()
            os.fsync(self.stream.fileno())
            self.stream.close()
            os.replace(tmp, self.path)
        except OSError as exc:
            self.fail(exc)
        self._tmp = None

    def discard(self) -> None:
        """Remove the temporary file; the target is left as it was."""
        if self._tmp is None:
            if self._device:
                self._device = False
                with contextlib.suppress(OSError):
                    self.stream.close()
            return
        tmp, self._tmp = self._tmp, None
        with contextlib.suppress(OSError):  # a full disk again: the file is removed anyway
            self.stream.close()
        Path(tmp).unlink(missing_ok=True)

    def fail(self, exc: OSError) -> NoReturn:
        """Discard the temporary file and raise the one line for the write error ``exc``."""
        self.discard()
        raise PerError(
            f"cannot write {self.path} ({_reason(exc)}); nothing was written there", field=self.field
        ) from None

    def __enter__(self) -> IO[Any]:
        return self.stream

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if isinstance(exc, OSError) and not isinstance(exc, BrokenPipeError):
            self.fail(exc)
        elif isinstance(exc, PerError) and exc.field == self.field:
            self.discard()
        else:
            self.commit()


def write_private(path: str, data: bytes, *, field: str = "output", inputs: tuple[str, ...] = ()) -> None:
    """Write ``data`` to ``path`` (``-``: stdout) as a whole file only its owner can read (0600)."""
    with PrivateFile(path, field=field, binary=True, inputs=inputs) as fh:
        fh.write(data)
