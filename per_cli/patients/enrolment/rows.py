"""Row validation for bulk enrolment: pure, picklable, run in worker processes for large files.

Each row is validated exactly as a single enrolment (``per_cli.patients.fields.validate_patient``); what the
register says about the row (existing, unit known) is decided later, in the process that holds the database.

Results cross back to that process as flat named tuples of plain values: unpickling a ``PatientData`` (frozen
dataclasses nested three deep) cost the writing process about 23 µs a row, as much as the whole validation
of the row in the worker; a flat tuple costs under 1 µs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any, NamedTuple

from per_cli.errors import PerError
from per_cli.patients.fields import PatientData, validate_patient
from per_cli.spreadsheet.headers import to_record


class EnrolRow(NamedTuple):
    """A valid row, every field in its stored form (``registered_on`` as ISO text)."""

    line: int
    personnummer: str  # canonical, 12 digits: the century the official rule gives
    candidates: tuple[str, ...]  # every century a 10-digit number may mean (just ``personnummer`` for 12)
    is_short: bool
    unit: str
    first_name: str
    last_name: str
    mobile: str | None
    mobile_type: str | None
    email: str | None
    pal: str | None
    comment: str | None
    registered_on: str
    warnings: tuple[str, ...]


class RejectedRow(NamedTuple):
    line: int
    reason: str


RowResult = EnrolRow | RejectedRow


def enrol_row(line: int, data: PatientData) -> EnrolRow:
    mobile = data.mobile
    return EnrolRow(
        line,
        data.personnummer.canonical,
        data.candidates,
        data.is_short,
        data.unit,
        data.first_name,
        data.last_name,
        mobile.e164 if mobile else None,
        mobile.number_type if mobile else None,
        data.email,
        data.pal,
        data.comment,
        data.registered_on.isoformat(),
        data.warnings,
    )


def validate_rows(
    rows: Sequence[tuple[int, list[str]]], mapping: Mapping[int, str], width: int, default_unit: str | None, today: date
) -> list[RowResult]:
    results: list[RowResult] = []
    for line, values in rows:
        try:
            record = to_record(values, mapping, width)
            results.append(enrol_row(line, validate_patient(record, default_unit=default_unit, today=today)))
        except PerError as exc:
            results.append(RejectedRow(line, str(exc)))
    return results


@dataclass
class Summary:
    """The counts a bulk run reports (stdout summary, ``--format json``)."""

    read: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    differs: int = 0  # existing patients whose row differs from the register, kept (--on-existing skip)
    rejected: int = 0
    dry_run: bool = False
    warnings: int = 0
    rejects_file: str | None = None

    def as_record(self) -> dict[str, Any]:
        return asdict(self)
