"""Bulk enrolment's validation side loads no database layer: its workers start fast and small, and the writing
process loads SQLAlchemy only while the workers already validate."""

from __future__ import annotations

import subprocess
import sys


def test_reading_and_validating_import_neither_sqlalchemy_nor_openpyxl() -> None:
    code = (
        "import sys\n"
        "import per_cli.patients.enrolment.bulk, per_cli.patients.enrolment.rows, per_cli.spreadsheet.text\n"
        "print('\\n'.join(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    loaded = set(
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    )
    assert "per_cli" in loaded
    assert loaded & {"sqlalchemy", "alembic", "openpyxl", "psycopg"} == set()
