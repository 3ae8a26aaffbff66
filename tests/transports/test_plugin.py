"""A real plugin package, built and pip-installed into this venv, adds a scheme through the entry point
group ``per_cli.transports``; a fresh interpreter then sends through it.

The package brings its own tiny in-tree PEP 517 backend (``backend-path``), so the install needs neither
network nor ``wheel``/``setuptools`` (this venv's setuptools 65 cannot build wheels without ``wheel``).
Names are unique per run so that parallel runs never see each other's plugin.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

BACKEND = '''
"""Minimal PEP 517 backend: one module, METADATA, WHEEL, entry_points.txt, RECORD."""
import base64, hashlib, pathlib, zipfile

DIST, VERSION, MODULE, SCHEME = {dist!r}, "0.0.1", {module!r}, {scheme!r}
WHEEL_NAME = DIST.replace("-", "_")


def _files():
    info = f"{{WHEEL_NAME}}-{{VERSION}}.dist-info"
    here = pathlib.Path(__file__).parent
    return info, {{
        f"{{MODULE}}.py": (here / f"{{MODULE}}.py").read_bytes(),
        f"{{info}}/METADATA": f"Metadata-Version: 2.1\\nName: {{DIST}}\\nVersion: {{VERSION}}\\n".encode(),
        f"{{info}}/WHEEL": b"Wheel-Version: 1.0\\nGenerator: memo_backend\\nRoot-Is-Purelib: true\\n"
        b"Tag: py3-none-any\\n",
        f"{{info}}/entry_points.txt": f"[per_cli.transports]\\n{{SCHEME}} = {{MODULE}}:MemoTransport\\n".encode(),
    }}


def get_requires_for_build_wheel(config_settings=None):
    return []


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    info, files = _files()
    name = f"{{WHEEL_NAME}}-{{VERSION}}-py3-none-any.whl"
    record = []
    with zipfile.ZipFile(pathlib.Path(wheel_directory) / name, "w") as zf:
        for path, data in files.items():
            zf.writestr(path, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            record.append(f"{{path}},sha256={{digest}},{{len(data)}}")
        record.append(f"{{info}}/RECORD,,")
        zf.writestr(f"{{info}}/RECORD", "\\n".join(record) + "\\n")
    return name
'''

PLUGIN = '''
"""A plugin transport that appends each message to memo.jsonl in the URL's directory."""
import json
from pathlib import Path

from per_cli.transports.base import DeliveryResult, Transport
from per_cli.transports.url import BadURL


class MemoTransport(Transport):
    scheme = {scheme!r}
    channel = "both"
    params = frozenset({{"note"}})

    def __init__(self, url, *, default_from=None):
        super().__init__(url, default_from=default_from)
        if not url.path.startswith("/"):
            raise BadURL("path", "must be absolute")
        self.file = Path(url.path) / "memo.jsonl"

    def deliver(self, message):
        with self.file.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps({{"to": message.to, "body": message.body}}) + "\\n")
        return DeliveryResult.sent("memo-1", note=self.url.params.get("note"))
'''

SEND = """
import json, sys
from per_cli.transports import Message, known_schemes, open_transport
url = sys.argv[1]
with open_transport(url, channel="sms", setting="PER_SMS_TRANSPORT") as t:
    r = t.send(Message("sms", "+46701740605", "Hej från pluginet"))
print(json.dumps({"known": known_schemes(), "type": type(t).__name__, "status": r.status,
                  "provider_id": r.provider_id, "detail": r.detail}))
"""


def _pip(*args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture
def memo_plugin(tmp_path: Path) -> Iterator[str]:
    """Build and install the plugin; yield its scheme; uninstall it whatever happens."""
    if sys.prefix == sys.base_prefix:
        pytest.skip("installs a package: only inside a virtual environment")
    suffix = uuid.uuid4().hex[:10]
    dist, module, scheme = f"per-test-memo-{suffix}", f"per_test_memo_{suffix}", f"memo{suffix}"
    src = tmp_path / "plugin-src"
    src.mkdir()
    (src / "pyproject.toml").write_text(
        textwrap.dedent(f"""
            [build-system]
            requires = []
            build-backend = "memo_backend"
            backend-path = ["."]

            [project]
            name = "{dist}"
            version = "0.0.1"

            [project.entry-points."per_cli.transports"]
            {scheme} = "{module}:MemoTransport"
        """)
    )
    (src / "memo_backend.py").write_text(BACKEND.format(dist=dist, module=module, scheme=scheme))
    (src / f"{module}.py").write_text(PLUGIN.format(scheme=scheme))
    installed = _pip("install", "--no-deps", "--no-build-isolation", "--no-index", "--no-cache-dir", str(src))
    try:
        assert installed.returncode == 0, installed.stdout + installed.stderr
        yield scheme
    finally:
        removed = _pip("uninstall", "--yes", dist)
        assert removed.returncode == 0, removed.stdout + removed.stderr


def test_plugin_scheme_is_found_and_sends(memo_plugin: str, tmp_path: Path) -> None:
    url = f"{memo_plugin}://{tmp_path}?note=hello"
    proc = subprocess.run(
        [sys.executable, "-c", SEND, url], capture_output=True, text=True, timeout=60, check=False,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    answer = json.loads(proc.stdout)
    assert memo_plugin in answer["known"] and answer["known"][:5] == ["smtp", "elks", "twilio", "file", "console"]
    assert answer["type"] == "MemoTransport"
    assert (answer["status"], answer["provider_id"], answer["detail"]) == ("sent", "memo-1", {"note": "hello"})
    lines = (tmp_path / "memo.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == [{"to": "+46701740605", "body": "Hej från pluginet"}]

    # the CLI command goes through the same registry; a bad plugin URL names the part
    cli = "from per_cli.cli import main; main(['transport', 'test', '--sms', '070-174 06 05'])"
    (tmp_path / "per.toml").write_text("")
    proc = subprocess.run(
        [sys.executable, "-c", cli], capture_output=True, text=True, timeout=60, check=False,
        env={**os.environ, "PER_SMS_TRANSPORT": url, "PER_CONFIG": str(tmp_path / "per.toml")},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "status       sent" in proc.stdout and f"transport    {memo_plugin}://{tmp_path}?note=hello" in proc.stdout
    proc = subprocess.run(
        [sys.executable, "-c", SEND, f"{memo_plugin}://{tmp_path}?colour=red"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert proc.returncode == 1
    assert f"PER_SMS_TRANSPORT: colour: unknown parameter for {memo_plugin}:// (known: note)" in proc.stderr
