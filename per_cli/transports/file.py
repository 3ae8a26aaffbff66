"""``file:///ABS/DIR``: each message becomes one JSON file ``{channel, to, subject, body, sent_at}``.

For tests and CI: ``login otp --code-from-outbox`` reads the code back from here. Files are written to a
hidden temporary name and renamed, so a reader never sees half a message; names sort by send time and
are unique across processes. Files are mode 0600: they hold passwords and codes.

A message is not synced to disk: once written it outlives the process that wrote it (SIGKILL included), which is
what tests of killed runs and ``find_sent`` rely on; surviving a power cut is a real gateway's job, not a test
outbox's. A sync per message cost about a millisecond of kernel time, more than the rest of the message's
bookkeeping, taken from the cores that hash a campaign's passwords.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from per_cli.transports.base import DeliveryResult, Message, Transport
from per_cli.transports.url import BadURL, TransportURL, is_loopback


class FileTransport(Transport):
    scheme = "file"
    channel = "both"
    params = frozenset()

    def __init__(self, url: TransportURL, *, default_from: str | None = None) -> None:
        super().__init__(url, default_from=default_from)
        if url.host and not is_loopback(url.host):
            raise BadURL("host", "file URLs name a local directory: file:///ABS/DIR (three slashes)")
        if url.user or url.password or url.port:
            raise BadURL("url", "file URLs take no user, password or port: file:///ABS/DIR")
        if not url.path or not os.path.isabs(url.path):
            raise BadURL("path", "must be an absolute directory: file:///ABS/DIR")
        self.directory = Path(url.path)

    def deliver(self, message: Message) -> DeliveryResult:
        now = datetime.now(UTC)
        tail = message.key if message.key and _KEY.fullmatch(message.key) else uuid.uuid4().hex[:12]
        name = f"{now:%Y%m%dT%H%M%S.%fZ}-{message.channel}-{tail}.json"
        record = {
            "channel": message.channel,
            "to": message.to,
            "subject": message.subject,
            "body": message.body,
            "sent_at": now.isoformat(timespec="microseconds"),
        }
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            _write_atomically(self.directory / name, json.dumps(record, ensure_ascii=False, indent=2) + "\n")
        except OSError as exc:
            return DeliveryResult.failed(f"cannot write to {self.directory}: {exc.strerror or exc}")
        return DeliveryResult.sent(name.removesuffix(".json"), path=str(self.directory / name))

    def find_sent(self, key: str) -> bool | None:
        """A message is in the outbox or not (files are written whole, then renamed): always a sure answer."""
        if not _KEY.fullmatch(key):
            return None
        return any(self.directory.glob(f"*-{key}.json"))


_KEY = re.compile(r"[A-Za-z0-9]{1,40}")


def _write_atomically(target: Path, text: str) -> None:
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def read_outbox(directory: Path | str) -> Iterator[dict[str, Any]]:
    """The messages in a ``file://`` directory, oldest first (what ``--code-from-outbox`` needs)."""
    for path in sorted(Path(directory).glob("*.json")):
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(record, dict):
            record["file"] = str(path)
            yield record
