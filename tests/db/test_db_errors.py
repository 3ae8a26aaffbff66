"""``per db upgrade`` and ``per db current`` turn an unusable database into one line and exit 1, as every command.

Run as subprocesses, the way an operator meets them: a PostgreSQL port nobody listens on, a database that does not
exist on the real server, a server that refuses the password, and SQLite paths that cannot be written.
"""

from __future__ import annotations

import contextlib
import os
import socket
import struct
import subprocess
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tests.conftest import PG_ENV
from tests.helpers.per import PER
from tests.helpers.servers import free_port

COMMANDS = [["db", "upgrade"], ["db", "current"]]
_SSL_REQUEST, _GSS_REQUEST = 80877103, 80877104


def _per(tmp_path: Path, database: str, *args: str) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "per.toml"
    config.write_text("")
    env = {**os.environ, "PER_CONFIG": str(config), "HOME": str(tmp_path), "PER_DATABASE_URL": database}
    return subprocess.run([PER, *args], capture_output=True, text=True, env=env, timeout=60, check=False)


def _one_line(proc: subprocess.CompletedProcess[str], reason: str) -> None:
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.startswith("Error: database: "), proc.stderr
    assert reason in proc.stderr, proc.stderr


@pytest.fixture
def password_refused() -> Iterator[int]:
    """A stand-in PostgreSQL server on a real socket: it asks for a password and refuses it (SQLSTATE 28P01)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    stop = threading.Event()

    def read(conn: socket.socket, size: int) -> bytes:
        data = b""
        while len(data) < size:
            chunk = conn.recv(size - len(data))
            if not chunk:
                raise ConnectionError
            data += chunk
        return data

    def serve(conn: socket.socket) -> None:
        with conn:
            while True:  # SSL and GSS encryption requests are declined; then comes the startup packet
                length, code = struct.unpack("!ii", read(conn, 8))
                if code not in (_SSL_REQUEST, _GSS_REQUEST):
                    read(conn, length - 8)
                    break
                conn.sendall(b"N")
            conn.sendall(b"R" + struct.pack("!ii", 8, 3))  # AuthenticationCleartextPassword
            read(conn, 1)
            (length,) = struct.unpack("!i", read(conn, 4))
            read(conn, length - 4)  # the password: wrong, whatever it is
            fields = b'SFATAL\0VFATAL\0C28P01\0Mpassword authentication failed for user "per"\0\0'
            conn.sendall(b"E" + struct.pack("!i", len(fields) + 4) + fields)

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with contextlib.suppress(ConnectionError, OSError, struct.error):
                serve(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield int(server.getsockname()[1])
    finally:
        stop.set()
        server.close()
        thread.join(timeout=5)


@pytest.mark.parametrize("command", COMMANDS)
def test_a_closed_postgresql_port(tmp_path: Path, command: list[str]) -> None:
    port = free_port()
    proc = _per(tmp_path, f"postgresql+psycopg://per@127.0.0.1:{port}/per", *command)
    _one_line(proc, f'cannot use the database: connection failed: connection to server at "127.0.0.1", port {port}')


@pytest.mark.parametrize("command", COMMANDS)
def test_a_refused_password(tmp_path: Path, password_refused: int, command: list[str]) -> None:
    proc = _per(tmp_path, f"postgresql+psycopg://per:wrong@127.0.0.1:{password_refused}/per", *command)
    _one_line(proc, 'password authentication failed for user "per"')
    assert "wrong" not in proc.stderr


@pytest.mark.postgres
@pytest.mark.parametrize("command", COMMANDS)
def test_a_database_that_does_not_exist(tmp_path: Path, command: list[str]) -> None:
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(f"needs {PG_ENV}")
    name = f"per_missing_{uuid.uuid4().hex[:8]}"
    url = make_url(base.replace("postgresql://", "postgresql+psycopg://", 1)).set(database=name)
    proc = _per(tmp_path, url.render_as_string(hide_password=False), *command)
    _one_line(proc, f'database "{name}" does not exist')


@pytest.mark.parametrize("command", COMMANDS)
def test_a_sqlite_folder_that_cannot_be_made(tmp_path: Path, command: list[str]) -> None:
    (tmp_path / "a-file").write_text("")  # a file where the folder should be: refused even for root
    proc = _per(tmp_path, f"sqlite:///{tmp_path / 'a-file' / 'per.db'}", *command)
    if command == ["db", "current"]:  # only `db upgrade` creates a database (tests/cli/test_status.py)
        assert (proc.returncode, proc.stderr) == (
            1,
            f"Error: PER_DATABASE_URL: no database at {tmp_path / 'a-file' / 'per.db'}: check the path, or create "
            "the database there with `per db upgrade`\n",
        )
        return
    _one_line(proc, f"cannot create the folder {tmp_path / 'a-file'}")
    assert "name a file in a folder you can write to" in proc.stderr


@pytest.mark.parametrize("command", COMMANDS)
def test_a_sqlite_file_that_cannot_be_opened(tmp_path: Path, command: list[str]) -> None:
    (tmp_path / "a-folder").mkdir()  # a folder where the database file should be
    proc = _per(tmp_path, f"sqlite:///{tmp_path / 'a-folder'}", *command)
    assert (proc.returncode, proc.stdout, proc.stderr) == (
        1,
        "",
        f"Error: PER_DATABASE_URL: {tmp_path / 'a-folder'} is a folder, not a database file: name a file in it, "
        f"e.g. {tmp_path / 'a-folder' / 'per.db'}\n",
    )


def _read_only(tmp_path: Path) -> Path:
    path = tmp_path / "per.db"
    proc = _per(tmp_path, f"sqlite:///{path}", "db", "upgrade")
    assert proc.returncode == 0, proc.stderr
    return path


def test_a_read_only_sqlite_database_names_the_file_and_what_to_do(tmp_path: Path) -> None:
    path = _read_only(tmp_path)
    proc = _per(tmp_path, f"sqlite:///file:{path}?mode=ro&uri=true", "unit", "add", "X", "--name", "X")
    assert (proc.returncode, proc.stdout, proc.stderr) == (
        1,
        "",
        f"Error: database: {path} cannot be written (attempt to write a readonly database); nothing was changed: "
        "give your user write access to the file and its folder (or name another database with PER_DATABASE_URL)\n",
    )
    listed = _per(tmp_path, f"sqlite:///file:{path}?mode=ro&uri=true", "unit", "list", "--format", "csv")
    assert (listed.returncode, listed.stdout) == (0, "code,name,patients,created_at\n")  # reading still works


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes a file whatever its mode")
def test_a_sqlite_file_without_write_permission(tmp_path: Path) -> None:
    path = _read_only(tmp_path)
    path.chmod(0o400)
    proc = _per(tmp_path, f"sqlite:///{path}", "unit", "add", "X", "--name", "X")
    assert proc.returncode == 1
    assert proc.stderr.startswith(f"Error: database: {path} cannot be written (attempt to write a readonly database)")
