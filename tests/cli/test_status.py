"""`per status` / `per config show`, and a SQLite path that does not exist is never silently made a database."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from per_cli.db import schema
from tests.helpers.per import RunPer

pytestmark = pytest.mark.empty_db


def _status(per: RunPer, *args: str, extra_env: dict[str, str] | None = None) -> tuple[int, dict[str, Any], str]:
    result = per(*args, "status", "--format", "json", extra_env=extra_env)
    rows = {r["setting"]: (r["value"], r["source"]) for r in json.loads(result.stdout)}
    return result.exit_code, rows, result.stderr


@pytest.mark.parametrize("backend", ["sqlite"])
def test_status_names_database_config_settings_transports_key_and_versions(
    per: RunPer, env: dict[str, str], db_url: str
) -> None:
    Path(env["PER_CONFIG"]).write_text(
        '[transports]\nemail = "smtp://per%40reg.se:HEMLIGT@smtp.reg.se:587?from=per@reg.se"\n'
        '[login]\nlock_after = 5\n[otp]\nkey = "ett-mycket-hemligt-nyckelord-1234567890"\n',
        encoding="utf-8",
    )
    sms = "elks://api:SMSHEMLIS@?from=Neuroreg"
    code, rows, stderr = _status(per, extra_env={"PER_SMS_TRANSPORT": sms})
    assert code == 0, stderr
    assert stderr == ""
    assert rows["database"] == (db_url, "PER_DATABASE_URL")
    assert rows["database exists"] == (True, db_url.removeprefix("sqlite:///"))
    assert rows["schema"] == ("- (empty: created on first use, or by `per db upgrade`)", "database")
    assert rows["config file"] == (env["PER_CONFIG"], "PER_CONFIG")
    assert rows["[login] lock_after"] == (5, "file")
    assert rows["[login] lock_minutes"] == (15, "default")
    assert rows["[transports] email"] == ("smtp://per%40reg.se:***@smtp.reg.se:587?from=per@reg.se", "file")
    assert rows["[transports] sms"] == ("elks://api:***@?from=Neuroreg", "PER_SMS_TRANSPORT")
    assert rows["[otp] key"] == ("***", "file")
    digest = hashlib.sha256(b"ett-mycket-hemligt-nyckelord-1234567890").hexdigest()[:16]
    assert rows["one-time-code key"] == (f"SHA256:{digest}", "file")
    assert rows["version click"][0][0].isdigit() and rows["version SQLAlchemy"][0][0].isdigit()
    assert rows["per"][1] == "installed"
    shown = per("status").stdout
    assert "HEMLIGT" not in shown and "SMSHEMLIS" not in shown and "hemligt-nyckelord" not in shown
    assert per("db", "upgrade").exit_code == 0
    assert _status(per)[1]["schema"] == (f"{schema.HEAD} (current)", "database")
    assert _status(per, "--database", db_url)[1]["database"] == (db_url, "--database")
    config_show = per("config", "show", "--format", "json")
    assert (config_show.exit_code, config_show.stdout) == (0, per("status", "--format", "json").stdout)


def test_status_of_postgresql_masks_the_password(per: RunPer, db_url: str, backend: str) -> None:
    if backend != "postgresql":
        pytest.skip("the PostgreSQL half")
    assert per("db", "upgrade").exit_code == 0
    with_password = db_url.replace("postgresql+psycopg://postgres@", "postgresql+psycopg://postgres:topphemligt@")
    _, rows, _ = _status(per, extra_env={"PER_DATABASE_URL": with_password})
    assert "topphemligt" not in json.dumps(rows)
    assert rows["database"][0].startswith("postgresql+psycopg://postgres:***@")
    assert "database exists" not in rows


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_mistyped_sqlite_path_stops_every_command_but_db_upgrade(
    per: RunPer, env: dict[str, str], tmp_path: Path
) -> None:
    typo = tmp_path / "regsitry" / "per.db"
    url = f"sqlite:///{typo}"
    refused = f"no database at {typo}: check the path, or create the database there with `per db upgrade`"
    listed = per("unit", "list", extra_env={"PER_DATABASE_URL": url})
    assert (listed.exit_code, listed.stdout, listed.stderr) == (1, "", f"Error: PER_DATABASE_URL: {refused}\n")
    flagged = per("--database", url, "patient", "show", "191212121212")
    assert flagged.stderr == f"Error: --database: {refused}\n"
    Path(env["PER_CONFIG"]).write_text(f'[database]\nurl = "{url}"\n')
    from_file = per("db", "current", extra_env={"PER_DATABASE_URL": ""})
    assert from_file.stderr == f"Error: [database] url in {env['PER_CONFIG']}: {refused}\n"
    code, rows, stderr = _status(per, extra_env={"PER_DATABASE_URL": ""})
    assert code == 1
    assert rows["database exists"] == (False, str(typo))
    assert rows["database"][1] == f"[database] url in {env['PER_CONFIG']}"
    assert stderr == f"Problem: no database at {typo}: create it with `per db upgrade` (or correct the path)\n"
    assert not typo.parent.exists()  # nothing was created, not even the folder
    created = per("db", "upgrade", extra_env={"PER_DATABASE_URL": ""})
    assert created.exit_code == 0, created.stderr
    assert typo.is_file()
    assert per("unit", "list", extra_env={"PER_DATABASE_URL": ""}).exit_code == 0


@pytest.mark.parametrize("backend", ["sqlite"])
def test_the_default_path_is_created_on_first_use(per: RunPer, env: dict[str, str]) -> None:
    default = Path(env["XDG_DATA_HOME"]) / "per" / "per.db"
    result = per("unit", "add", "NEURO-SU", "--name", "Neurologi", extra_env={"PER_DATABASE_URL": ""})
    assert result.exit_code == 0, result.stderr
    assert default.is_file()


def test_a_missing_config_file_names_where_it_was_named(per: RunPer, tmp_path: Path) -> None:
    missing = tmp_path / "nej.toml"
    from_env = per("unit", "list", extra_env={"PER_CONFIG": str(missing)})
    assert (from_env.exit_code, from_env.stderr) == (
        1,
        f"Error: PER_CONFIG: no such file: {missing}; create it, or name the right file\n",
    )
    from_flag = per("--config", str(missing), "unit", "list")
    assert from_flag.stderr == f"Error: --config: no such file: {missing}; create it, or name the right file\n"
    after = per("unit", "list", "--config", str(missing))
    assert after.stderr == f"Error: --config: no such file: {missing}; create it, or name the right file\n"
