"""The world of the login and support-desk tests: the test's real database, a config file with the file://
outbox, fast Argon2 and no slow-down delays, and readers for what the program left behind (audit events,
outbox, rows).

Two starting points share the one ``World``: ``world`` has Tolvan enrolled at NEURO-SU with mobile, e-mail and a
password (must change); ``desk`` has only the care unit, and each test enrols whom it needs (``enrol``). Patients
get a password straight in the database (``set_password``) where sending one is not what the test is about.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
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
FAST_ARGON2 = {"argon2_time_cost": 1, "argon2_memory_kib": 64}


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

    def configure(
        self,
        sections: Mapping[str, Mapping[str, Any]] | None = None,
        *,
        fast: bool = True,
        sms: str | None = None,
        email: str | None = None,
    ) -> None:
        """Rewrite the config file: file:// transports (or the URLs given), no login delays, the OTP key file, fast
        Argon2 unless ``fast=False``; ``sections`` override and extend these, key by key."""
        base: dict[str, dict[str, Any]] = {
            "transports": {"sms": sms or f"file://{self.outbox}", "email": email or f"file://{self.outbox}"},
            "login": {"delay_ms": 0},
            "otp": {"key_file": str(self.key_file)},
        }
        if fast:
            base["passwords"] = dict(FAST_ARGON2)
        for name, values in (sections or {}).items():
            base.setdefault(name, {}).update(values)
        lines = []
        for name, values in base.items():
            lines.append(f"[{name}]")
            lines += [f"{key} = {json.dumps(value, ensure_ascii=False)}" for key, value in values.items()]
        Path(self.env["PER_CONFIG"]).write_text("\n".join(lines) + "\n", encoding="utf-8")

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

    def enrol(self, pnr: str = TOLVAN, *, mobile: str | None = MOBILE, email: str | None = EMAIL) -> None:
        args = ["patient", "enrol", pnr, "--first-name", "Tolvan", "--last-name", "Tolvansson", "--unit", "NEURO-SU"]
        if mobile:
            args += ["--mobile", mobile]
        if email:
            args += ["--email", email]
        result = self.per(*args)
        assert result.exit_code == 0, result.stderr

    def send(self, *args: str, extra_env: dict[str, str] | None = None) -> Run:
        """``per password send``."""
        return self.per("password", "send", *args, extra_env=extra_env)

    def credential(self, pnr: str = TOLVAN) -> Any:
        rows = self.sql(
            "SELECT c.* FROM patient_credential c JOIN patient p ON p.id = c.patient_id WHERE p.personnummer = :p",
            p=pnr,
        )
        return rows[0] if rows else None

    def deliveries(self, pnr: str = TOLVAN) -> list[Any]:
        return self.sql(
            "SELECT d.* FROM password_delivery d JOIN patient p ON p.id = d.patient_id WHERE p.personnummer = :p "
            "ORDER BY d.id",
            p=pnr,
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
        """The outbox, oldest first; ``file`` is the message's file name (the provider id without ``.json``)."""
        return [
            {**json.loads(p.read_text(encoding="utf-8")), "file": p.name} for p in sorted(self.outbox.glob("*.json"))
        ]

    def password_in(self, message: dict[str, Any], language: str = "sv") -> str:
        """The password in a message made from the default template of ``language``."""
        from per_cli.passwords.delivery.texts import DEFAULTS

        sms, _, email = DEFAULTS[language]
        prefix, _, suffix = (sms if message["channel"] == "sms" else email).partition("{password}")
        body = message["body"]
        assert body.startswith(prefix) and body.endswith(suffix), body
        return str(body[len(prefix) : len(body) - len(suffix)])

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


@contextmanager
def _world(per: RunPer, env: dict[str, str], db_url: str, tmp_path: Path) -> Iterator[World]:
    from per_cli.db.engine import make_engine

    engine = make_engine(db_url)
    w = World(per=per, env=env, db_url=db_url, tmp=tmp_path, engine=engine)
    w.configure()
    try:
        yield w
    finally:
        engine.dispose()


@pytest.fixture
def world(per: RunPer, env: dict[str, str], db_url: str, tmp_path: Path, tolvan: str) -> Iterator[World]:
    """Tolvan enrolled at NEURO-SU with mobile and e-mail, and a password (must change)."""
    with _world(per, env, db_url, tmp_path) as w:
        w.set_password()
        yield w


@pytest.fixture
def desk(per: RunPer, env: dict[str, str], db_url: str, tmp_path: Path, unit: str) -> Iterator[World]:
    """The support desk's starting point: the care unit NEURO-SU and no patient yet."""
    with _world(per, env, db_url, tmp_path) as w:
        yield w
