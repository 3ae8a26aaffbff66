"""A login test world: the real database of the test, a config with the file:// outbox, fast Argon2 and no
slow-down delays, and helpers to read what the program left behind (audit events, outbox, rows).

Patients get their first password straight in the database (``set_password``): sending one is
``per password send``, another command with its own tests.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from tests.helpers.per import TOLVAN, Run, RunPer

PASSWORD = "Tolvans-första-lösen"
MOBILE = "+46701740605"
EMAIL = "tolvan.tolvansson@tolv.se"
DENIED = "Error: login denied: wrong personnummer or password, or the account is locked"
CAREGIVER = "anna.lind"
CG_PASSWORD = "vårdgivarens-eget-lösen"


@dataclass
class World:
    per: RunPer
    env: dict[str, str]
    db_url: str
    tmp: Path
    engine: Engine

    @property
    def outbox(self) -> Path:
        return self.tmp / "outbox"

    @property
    def key_file(self) -> Path:
        return self.tmp / "otp.key"

    def configure(self, extra: str = "", *, sms: str | None = None, email: str | None = None) -> None:
        """Rewrite the config file: the base settings, overridden and extended by ``extra`` (TOML lines)."""
        sections: dict[str, dict[str, str]] = {
            "passwords": {"argon2_time_cost": "1", "argon2_memory_kib": "64"},
            "login": {"delay_ms": "0"},
            "otp": {"key_file": f'"{self.key_file}"'},
            "transports": {
                "sms": f'"{sms or f"file://{self.outbox}"}"',
                "email": f'"{email or f"file://{self.outbox}"}"',
            },
        }
        current = ""
        for line in extra.strip().splitlines():
            line = line.strip()
            if line.startswith("["):
                current = line.strip("[]")
            elif line:
                key, _, value = line.partition("=")
                sections.setdefault(current, {})[key.strip()] = value.strip()
        Path(self.env["PER_CONFIG"]).write_text(
            "".join(
                f"[{name}]\n" + "".join(f"{k} = {v}\n" for k, v in values.items()) + "\n"
                for name, values in sections.items()
            )
        )

    def sql(self, statement: str, **params: Any) -> list[Any]:
        with self.engine.begin() as conn:
            result = conn.execute(text(statement), params)
            return list(result) if result.returns_rows else []

    def set_password(self, pnr: str = TOLVAN, password: str = PASSWORD, *, must_change: bool = True) -> None:
        from per_cli.credentials.passwords import Argon2Params, hash_password

        digest = hash_password(password, Argon2Params(time_cost=1, memory_kib=64))
        patient_id = self.sql("SELECT id FROM patient WHERE personnummer = :p", p=pnr)[0][0]
        self.sql("DELETE FROM patient_credential WHERE patient_id = :i", i=patient_id)
        self.sql(
            "INSERT INTO patient_credential (patient_id, password_hash, must_change, set_at, failed_logins) "
            "VALUES (:i, :h, :m, CURRENT_TIMESTAMP, 0)",
            i=patient_id,
            h=digest,
            m=must_change,
        )

    def audit(self, action: str) -> list[dict[str, Any]]:
        rows = self.sql(
            "SELECT actor, patient_id, unit_code, outcome, details FROM audit_event WHERE action = :a ORDER BY id",
            a=action,
        )
        return [
            {"actor": r[0], "patient_id": r[1], "unit": r[2], "outcome": r[3], "details": json.loads(r[4])}
            for r in rows
        ]

    def reasons(self, action: str = "login.otp") -> list[str]:
        return [e["details"]["reason"] for e in self.audit(action) if "reason" in e["details"]]

    def messages(self) -> list[dict[str, Any]]:
        from per_cli.transports.file import read_outbox

        return list(read_outbox(self.outbox)) if self.outbox.exists() else []

    def last_code(self, channel: str = "sms") -> str:
        from per_cli.credentials.otp import code_from_text

        body = [m for m in self.messages() if m["channel"] == channel][-1]["body"]
        code = code_from_text(body, 6) or code_from_text(body, 8) or code_from_text(body, 7)
        assert code is not None, body
        return code

    def add_caregiver(self, user: str = CAREGIVER, unit: str = "NEURO-SU", password: str = CG_PASSWORD) -> None:
        result = self.per("caregiver", "add", user, "--unit", unit, "--password-stdin", input=password + "\n")
        assert result.exit_code == 0, result.stderr

    def proxy(self, user: str = CAREGIVER, password: str = CG_PASSWORD, pnr: str = TOLVAN) -> Run:
        """``per login proxy`` with the password on stdin and JSON output."""
        return self.per(
            "login", "proxy", pnr, "--user", user, "--password-stdin", "--format", "json", input=password + "\n"
        )

    def proxy_token(self, **kwargs: str) -> str:
        result = self.proxy(**kwargs)
        assert result.exit_code == 0, result.stderr
        return str(json.loads(result.stdout)["token"])

    def send_only(self, pnr: str = TOLVAN, password: str = PASSWORD, *args: str) -> str:
        result = self.per(
            "login", "otp", pnr, "--password-stdin", "--send-only", "--format", "json", *args, input=password + "\n"
        )
        assert result.exit_code == 0, result.stderr
        return str(json.loads(result.stdout)["challenge"])

    def login(self, pnr: str = TOLVAN, password: str = PASSWORD, *args: str) -> Run:
        return self.per(
            "login",
            "otp",
            pnr,
            "--password-stdin",
            "--code-from-outbox",
            "--format",
            "json",
            *args,
            input=password + "\n",
        )

    def token(self, pnr: str = TOLVAN, password: str = PASSWORD) -> str:
        result = self.login(pnr, password)
        assert result.exit_code == 0, result.stderr
        return str(json.loads(result.stdout)["token"])


@pytest.fixture(name="world")
def world_fixture(per: RunPer, env: dict[str, str], db_url: str, tmp_path: Path, tolvan: str) -> Iterator[World]:
    """Tolvan enrolled at NEURO-SU with mobile and e-mail, and a password (must change)."""
    from per_cli.db.engine import make_engine

    engine = make_engine(db_url)
    w = World(per=per, env=env, db_url=db_url, tmp=tmp_path, engine=engine)
    w.configure()
    w.set_password()
    yield w
    engine.dispose()
