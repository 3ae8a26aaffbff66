"""Row validation for bulk enrolment: pure, picklable, run in worker processes for large files.

Each row is validated exactly as a single enrolment (``per_cli.patients.validate_patient``); what the
register says about the row (existing, unit known) is decided later, in the process that holds the database.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from per_cli.errors import PerError
from per_cli.patients import PatientData, validate_patient
from per_cli.spreadsheet.headers import to_record


@dataclass(frozen=True, slots=True)
class RowResult:
    line: int
    data: PatientData | None
    reason: str | None


def validate_rows(
    rows: Sequence[tuple[int, list[str]]], mapping: Mapping[int, str], width: int, default_unit: str | None, today: date
) -> list[RowResult]:
    results = []
    for line, values in rows:
        try:
            record = to_record(values, mapping, width)
            results.append(RowResult(line, validate_patient(record, default_unit=default_unit, today=today), None))
        except PerError as exc:
            results.append(RowResult(line, None, str(exc)))
    return results
