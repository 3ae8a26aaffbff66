"""``per unit list`` in every output format, compared with the whole expected text (as sqlite-utils tests its
output): headers, column order, quoting, Swedish letters, local time in the text formats and UTC in JSON."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import update

from per_cli.db.models import CareUnit
from tests.helpers.per import SAMORDNING, TOLVAN, RunPer, enrol_args

UNITS = [
    ("NEURO-SU", "Neurologi, Sahlgrenska", datetime(2026, 1, 31, 8, 30, tzinfo=UTC)),  # 09:30 in Stockholm (CET)
    ("REUMA-OR", "Reumatologi, Örebro", datetime(2026, 7, 1, 6, 0, tzinfo=UTC)),  # 08:00 (CEST)
    ("BARN-LU", 'Barnneurologi "BNK", Lund', datetime(2025, 12, 24, 23, 15, 5, tzinfo=UTC)),  # 00:15:05 the next day
]

EXPECTED = {
    "table": (
        "code      name                         patients  created_at\n"
        "--------  -------------------------  ----------  -------------------\n"
        'BARN-LU   Barnneurologi "BNK", Lund           0  2025-12-25 00:15:05\n'
        "NEURO-SU  Neurologi, Sahlgrenska              2  2026-01-31 09:30:00\n"
        "REUMA-OR  Reumatologi, Örebro                 0  2026-07-01 08:00:00\n"
    ),
    "json": (
        "[\n"
        "  {\n"
        '    "code": "BARN-LU",\n'
        '    "name": "Barnneurologi \\"BNK\\", Lund",\n'
        '    "patients": 0,\n'
        '    "created_at": "2025-12-24T23:15:05+00:00"\n'
        "  },\n"
        "  {\n"
        '    "code": "NEURO-SU",\n'
        '    "name": "Neurologi, Sahlgrenska",\n'
        '    "patients": 2,\n'
        '    "created_at": "2026-01-31T08:30:00+00:00"\n'
        "  },\n"
        "  {\n"
        '    "code": "REUMA-OR",\n'
        '    "name": "Reumatologi, Örebro",\n'
        '    "patients": 0,\n'
        '    "created_at": "2026-07-01T06:00:00+00:00"\n'
        "  }\n"
        "]\n"
    ),
    "jsonl": (
        '{"code": "BARN-LU", "name": "Barnneurologi \\"BNK\\", Lund", "patients": 0, '
        '"created_at": "2025-12-24T23:15:05+00:00"}\n'
        '{"code": "NEURO-SU", "name": "Neurologi, Sahlgrenska", "patients": 2, '
        '"created_at": "2026-01-31T08:30:00+00:00"}\n'
        '{"code": "REUMA-OR", "name": "Reumatologi, Örebro", "patients": 0, '
        '"created_at": "2026-07-01T06:00:00+00:00"}\n'
    ),
    "csv": (
        "code,name,patients,created_at\n"
        'BARN-LU,"Barnneurologi ""BNK"", Lund",0,2025-12-25 00:15:05\n'
        'NEURO-SU,"Neurologi, Sahlgrenska",2,2026-01-31 09:30:00\n'
        'REUMA-OR,"Reumatologi, Örebro",0,2026-07-01 08:00:00\n'
    ),
    "tsv": (
        "code\tname\tpatients\tcreated_at\n"
        'BARN-LU\t"Barnneurologi ""BNK"", Lund"\t0\t2025-12-25 00:15:05\n'
        "NEURO-SU\tNeurologi, Sahlgrenska\t2\t2026-01-31 09:30:00\n"
        "REUMA-OR\tReumatologi, Örebro\t0\t2026-07-01 08:00:00\n"
    ),
    "plain": (
        'BARN-LU\tBarnneurologi "BNK", Lund\t0\t2025-12-25 00:15:05\n'
        "NEURO-SU\tNeurologi, Sahlgrenska\t2\t2026-01-31 09:30:00\n"
        "REUMA-OR\tReumatologi, Örebro\t0\t2026-07-01 08:00:00\n"
    ),
}


@pytest.fixture
def units(per: RunPer, db_url: str) -> None:
    """Three units, added in another order than they are listed, two patients at NEURO-SU, fixed creation times."""
    from per_cli.db.engine import make_engine

    for code, name, _ in UNITS:
        result = per("unit", "add", code, "--name", name)
        assert result.exit_code == 0, result.stderr
    for pnr in (TOLVAN, SAMORDNING):
        result = per(*enrol_args(pnr))
        assert result.exit_code == 0, result.stderr
    engine = make_engine(db_url)
    with engine.begin() as conn:
        for code, _, created_at in UNITS:
            conn.execute(update(CareUnit).where(CareUnit.code == code).values(created_at=created_at))
    engine.dispose()


@pytest.mark.parametrize("fmt", list(EXPECTED))
def test_unit_list_prints_exactly(units: None, per_proc: RunPer, fmt: str) -> None:
    result = per_proc("unit", "list", "--format", fmt, extra_env={"TZ": "Europe/Stockholm"})
    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout == EXPECTED[fmt]


def test_table_is_the_default(units: None, per_proc: RunPer) -> None:
    result = per_proc("unit", "list", extra_env={"TZ": "Europe/Stockholm"})
    assert (result.exit_code, result.stdout, result.stderr) == (0, EXPECTED["table"], "")
