"""Reading a bulk send's list: personnummer resolved in batches, every line that cannot be sent to rejected.

The patients found become the campaign's targets (``campaign_target``, state ``queued``) before anything is
sent, so that ``--resume CAMPAIGN`` needs no list and ``per campaign work`` can share them out. Targets are
planned again from the current profile when they are sent (a mobile number fixed meanwhile is used).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from itertools import islice
from typing import TYPE_CHECKING

from sqlalchemy import select

from per_cli.db.models import CareUnit, Patient
from per_cli.errors import InvalidInput
from per_cli.passwords.delivery.core import Target, contact_problems, plan_target, refused_event
from per_cli.passwords.delivery.report import RowResult

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from per_cli.audit.events import Event
    from per_cli.spreadsheet.headers import PnrRow
    from per_cli.transports import Channel
    from per_cli.unit_of_work import UnitOfWork

SOURCE = "file"
NO_MATCH = "personnummer: no patient with this personnummer is enrolled"
MANY = "personnummer: these 10 digits match more than one patient; give all 12 digits (YYYYMMDD-NNNN)"


def display(canonical: str) -> str:
    from per_cli.patients.register import display_pnr

    return display_pnr(canonical)


def plan(patient: Patient, unit_code: str, channels: Sequence[Channel], rule: str) -> Target:
    """The target on the chosen channels (``all``) or on those of them the patient can be reached on
    (``available``); ``InvalidInput`` naming the problems when that leaves none."""
    if rule == "available":
        usable = [c for c in channels if not contact_problems(patient, [c])]
        if usable:
            return plan_target(patient, unit_code, usable)
    return plan_target(patient, unit_code, channels)


@dataclass
class Reader:
    """Resolves the list in batches; ``audit`` False for a dry run (nothing is written)."""

    uow: UnitOfWork
    channels: Sequence[Channel]
    rule: str
    emit: Callable[[RowResult], None]
    audit: bool = True
    lookup_size: int = 500
    seen: dict[int, int] = field(default_factory=dict)  # patient id -> first line naming them

    def batches(self, rows: Iterable[PnrRow]) -> Iterable[list[tuple[int, Target]]]:
        iterator = iter(rows)
        while batch := list(islice(iterator, self.lookup_size)):
            yield self.resolve(batch)

    def resolve(self, batch: Sequence[PnrRow]) -> list[tuple[int, Target]]:
        """Targets for the rows that can be sent to; every other row gets its ``rejected`` result, in line order."""
        from per_cli.audit.events import record_many
        from per_cli.identity.personnummer import parse_personnummer

        rejected: list[RowResult] = []
        parsed: list[tuple[PnrRow, list[str]]] = []
        for row in batch:
            try:
                if row.error:
                    raise InvalidInput(row.error)
                if not row.value.strip():
                    raise InvalidInput("missing", field="personnummer")
                candidates = [c.canonical for c in parse_personnummer(row.value).candidates]
            except InvalidInput as exc:
                rejected.append(RowResult(row.line, row.value, "rejected", str(exc)))
                continue
            parsed.append((row, candidates))
        targets: list[tuple[int, Target]] = []
        if parsed:
            with self.uow.transaction() as session:
                refused = self._match(session, parsed, targets, rejected)
                if self.audit:
                    record_many(session, refused)
        for result in sorted(rejected, key=lambda r: r.line):
            self.emit(result)
        return targets

    def _match(
        self,
        session: Session,
        parsed: list[tuple[PnrRow, list[str]]],
        targets: list[tuple[int, Target]],
        rejected: list[RowResult],
    ) -> list[Event]:
        wanted = sorted({c for _, candidates in parsed for c in candidates})
        query = (
            select(Patient, CareUnit.code)
            .join(CareUnit, CareUnit.id == Patient.unit_id)
            .where(Patient.personnummer.in_(wanted))
        )
        found = {p.personnummer: (p, code) for p, code in session.execute(query).tuples()}
        refused = []
        for row, candidates in parsed:
            matches = [found[c] for c in candidates if c in found]
            if len(matches) != 1:
                rejected.append(RowResult(row.line, row.value, "rejected", NO_MATCH if not matches else MANY))
                continue
            patient, unit_code = matches[0]
            shown = display(patient.personnummer)
            first = self.seen.setdefault(patient.id, row.line)
            if first != row.line:
                rejected.append(RowResult(row.line, shown, "rejected", f"duplicate of line {first}"))
                continue
            try:
                targets.append((row.line, plan(patient, unit_code, self.channels, self.rule)))
            except InvalidInput as exc:
                refused.append(
                    refused_event(self.uow.actor, patient, unit_code, self.channels, str(exc), source=SOURCE)
                )
                rejected.append(RowResult(row.line, shown, "rejected", str(exc)))
        return refused


def load_targets(
    session: Session, campaign_id: str, statuses: Iterable[str], channels: Sequence[Channel], rule: str
) -> tuple[list[tuple[int, Target]], list[tuple[int, str, str]]]:
    """The campaign's patients in these states, planned from their current profile, in line order; and those
    that can no longer be sent to (line, personnummer, reason)."""
    from per_cli.db.models import CampaignTarget

    query = (
        select(CampaignTarget.line, Patient, CareUnit.code)
        .join(Patient, Patient.id == CampaignTarget.patient_id)
        .join(CareUnit, CareUnit.id == Patient.unit_id)
        .where(CampaignTarget.campaign_id == campaign_id, CampaignTarget.status.in_(list(statuses)))
        .order_by(CampaignTarget.line)
    )
    targets: list[tuple[int, Target]] = []
    problems: list[tuple[int, str, str]] = []
    for line, patient, unit_code in session.execute(query).tuples():
        try:
            targets.append((int(line), plan(patient, unit_code, channels, rule)))
        except InvalidInput as exc:
            problems.append((int(line), display(patient.personnummer), str(exc)))
    return targets, problems
