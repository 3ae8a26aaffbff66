"""The support desk's world for ``per password send``: the test's database, a config file, the file:// outbox,
the real local servers of ``tests.helpers.servers``, and readers for what a send left behind."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from tests.helpers.per import TOLVAN, Run, RunPer

MOBILE = "+46701740605"
EMAIL = "tolvan.tolvansson@tolv.se"
FAST_ARGON2 = {"argon2_time_cost": "1", "argon2_memory_kib": "64"}


@dataclass
class Desk:
    per: RunPer
    env: dict[str, str]
    db_url: str
    tmp: Path
    engine: Engine

    @property
    def outbox(self) -> Path:
        return self.tmp / "outbox"

    def configure(
        self,
        sections: dict[str, dict[str, Any]] | None = None,
        *,
        fast: bool = True,
        sms: str | None = None,
        email: str | None = None,
    ) -> None:
        """Write the config file: file:// transports (or the URLs given), fast Argon2 unless ``fast=False``."""
        base: dict[str, dict[str, Any]] = {
            "transports": {"sms": sms or f"file://{self.outbox}", "email": email or f"file://{self.outbox}"},
            "login": {"delay_ms": 0},
            "otp": {"key": "k" * 40},
        }
        if fast:
            base["passwords"] = {"argon2_time_cost": 1, "argon2_memory_kib": 64}
        for name, values in (sections or {}).items():
            base.setdefault(name, {}).update(values)
        lines = []
        for name, values in base.items():
            lines.append(f"[{name}]")
            lines += [f"{key} = {json.dumps(value, ensure_ascii=False)}" for key, value in values.items()]
        Path(self.env["PER_CONFIG"]).write_text("\n".join(lines) + "\n", encoding="utf-8")

    def send(self, *args: str, extra_env: dict[str, str] | None = None) -> Run:
        return self.per("password", "send", *args, extra_env=extra_env)

    def sql(self, statement: str, **params: Any) -> list[Any]:
        with self.engine.begin() as conn:
            result = conn.execute(text(statement), params)
            return list(result) if result.returns_rows else []

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

    def events(self, action: str = "password.send") -> list[dict[str, Any]]:
        rows = self.sql("SELECT outcome, details FROM audit_event WHERE action = :a ORDER BY id", a=action)
        return [{"outcome": outcome, "details": json.loads(details)} for outcome, details in rows]

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

    def enrol(self, pnr: str = TOLVAN, *, mobile: str | None = MOBILE, email: str | None = EMAIL) -> None:
        args = ["patient", "enrol", pnr, "--first-name", "Tolvan", "--last-name", "Tolvansson", "--unit", "NEURO-SU"]
        if mobile:
            args += ["--mobile", mobile]
        if email:
            args += ["--email", email]
        result = self.per(*args)
        assert result.exit_code == 0, result.stderr


@pytest.fixture
def desk(per: RunPer, env: dict[str, str], db_url: str, tmp_path: Path, unit: str) -> Iterator[Desk]:
    from per_cli.db.engine import make_engine

    engine = make_engine(db_url)
    world = Desk(per, env, db_url, tmp_path, engine)
    world.configure()
    try:
        yield world
    finally:
        engine.dispose()
