"""file:// (the CI outbox) and console:// (development)."""

from __future__ import annotations

import json
import os
import stat
import threading
from datetime import datetime
from pathlib import Path

import pytest

from per_cli.transports import Message, open_transport
from per_cli.transports.file import read_outbox


def test_file_writes_one_parseable_json_per_message(tmp_path: Path) -> None:
    outbox = tmp_path / "outbox" / "nested"  # created on first send
    with open_transport(f"file://{outbox}", channel="email", setting="X") as transport:
        first = transport.send(Message("email", "tolvan@tolv.se", "Lösenord: Åsa-1", subject="Nytt lösenord"))
        second = transport.send(Message("sms", "+46701740605", "Kod: 482913"))
    assert first.ok and second.ok
    files = sorted(outbox.iterdir())
    assert [f.name for f in files] == sorted([f"{first.provider_id}.json", f"{second.provider_id}.json"])
    assert files[0].name < files[1].name  # names sort by send time
    record = json.loads(files[0].read_text(encoding="utf-8"))
    assert set(record) == {"channel", "to", "subject", "body", "sent_at"}
    assert (record["channel"], record["to"], record["subject"], record["body"]) == (
        "email", "tolvan@tolv.se", "Nytt lösenord", "Lösenord: Åsa-1",
    )  # fmt: skip
    assert datetime.fromisoformat(record["sent_at"]).utcoffset() is not None
    assert json.loads(files[1].read_text())["subject"] is None
    assert stat.S_IMODE(os.stat(files[0]).st_mode) == 0o600  # holds passwords
    assert first.detail["path"] == str(files[0])
    assert [r["body"] for r in read_outbox(outbox)] == ["Lösenord: Åsa-1", "Kod: 482913"]


def test_file_writes_atomically_under_concurrency(tmp_path: Path) -> None:
    """Many writers, one reader: the reader only ever sees complete JSON and no temporary files remain."""
    transport = open_transport(f"file://{tmp_path}", channel="sms", setting="X")
    stop = threading.Event()
    bad: list[str] = []

    def reader() -> None:
        while not stop.is_set():
            for path in tmp_path.glob("*.json"):
                try:
                    json.loads(path.read_text(encoding="utf-8"))
                except ValueError:
                    bad.append(path.name)

    def writer(n: int) -> None:
        for i in range(25):
            assert transport.send(Message("sms", "+46701740605", f"{n}-{i} " + "x" * 5000)).ok

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    watcher = threading.Thread(target=reader)
    watcher.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    watcher.join()
    assert bad == []
    names = [p.name for p in tmp_path.iterdir()]
    assert len(names) == 100 and all(n.endswith(".json") and not n.startswith(".") for n in names)


def test_file_unwritable_directory_is_a_failed_result(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    with open_transport(f"file://{blocker}/outbox", channel="sms", setting="X") as transport:
        result = transport.send(Message("sms", "+46701740605", "x"))
    assert result.status == "failed" and result.error is not None
    assert result.error.startswith(f"cannot write to {blocker}/outbox")


def test_console_prints_to_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    with open_transport("console://", channel="email", setting="X") as transport:
        result = transport.send(Message("email", "tolvan@tolv.se", "Hej Tolvan", subject="Test"))
    out, err = capsys.readouterr()
    assert out == ""
    assert err == "----- email #1 to tolvan@tolv.se -----\nSubject: Test\nHej Tolvan\n-----\n"
    assert result.ok and result.provider_id == "console-1"
