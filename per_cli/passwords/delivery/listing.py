"""Reading a bulk send's list: personnummer resolved in batches, every line that cannot be sent to rejected.

The patients found become the campaign's targets (``campaign_target``, state ``queued``) before anything is
sent, so that ``--resume CAMPAIGN`` needs no list and ``per campaign work`` can share them out. Targets are
planned again from the current profile when they are sent (a mobile number fixed meanwhile is used).

A contact that replaced an earlier one within ``[passwords] contact_change_hold_hours`` is held as for a single
send (``per_cli.credentials.contact_hold``): the row is rejected unless its ``contact_verified_by`` cell says how
staff confirmed it (audited); with ``--channels available`` the patient's other chosen channels are used
instead. When sent, a contact replaced since the patient was queued (or last tried) is held again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from itertools import islice
from typing import TYPE_CHECKING

from sqlalchemy import select

from per_cli.credentials.contact_hold import HoldSettings, check_list_hold, check_verified_by, held_channels
from per_cli.db.models import CareUnit, Patient, utcnow
from per_cli.errors import InvalidInput
from per_cli.passwords.delivery.core import Target, contact_problems, plan_target, refused_event
from per_cli.passwords.delivery.report import RowResult

if TYPE_CHECKING:
    from collections.abc import Collection
    from datetime import datetime

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


def plan(
    patient: Patient, unit_code: str, channels: Sequence[Channel], rule: str, *, held: Collection[str] = ()
) -> Target:
    """The target on the chosen channels (``all``) or on those of them the patient can be reached on, ``held``
    ones left out (``available``); ``InvalidInput`` naming the problems when that leaves none."""
    if rule == "available":
        usable = [c for c in channels if c not in held and not contact_problems(patient, [c])]
        if usable:
            return plan_target(patient, unit_code, usable)
    return plan_target(patient, unit_code, channels)


def plan_held(
    patient: Patient,
    unit_code: str,
    channels: Sequence[Channel],
    rule: str,
    hold: HoldSettings,
    now: datetime,
    *,
    verified_by: str | None = None,
    after: datetime | None = None,
    checked: Collection[str] = (),
) -> tuple[Target, dict[str, object]]:
    """:func:`plan` with the contact hold: ``HeldInList`` (an ``InvalidInput``) for a held contact the target
    still needs; else the target and what the audit records of a hold ``verified_by`` lifted.

    When a queued patient is sent, ``checked`` are the channels the list's reading let through at ``after``."""
    held = [] if verified_by else held_channels(patient, channels, hold, now, after=after, checked=checked)
    target = plan(patient, unit_code, channels, rule, held=held)
    lifted = check_list_hold(patient, target.channels, hold, now, verified_by=verified_by, after=after, checked=checked)
    return target, lifted


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
    hold: HoldSettings = field(default_factory=HoldSettings)

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
        refused: list[Event] = []
        now = utcnow()
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
                verified = check_verified_by(row.verified_by or None)
                target, lifted = plan_held(
                    patient, unit_code, self.channels, self.rule, self.hold, now, verified_by=verified
                )
                targets.append((row.line, target))
                if lifted:
                    refused.append(_verified_event(self.uow.actor, patient, unit_code, lifted))
            except InvalidInput as exc:
                refused.append(
                    refused_event(self.uow.actor, patient, unit_code, self.channels, str(exc), source=SOURCE)
                )
                rejected.append(RowResult(row.line, shown, "rejected", str(exc)))
        return refused


def _verified_event(actor: str, patient: Patient, unit_code: str, lifted: dict[str, object]) -> Event:
    """The audit event of a hold a list's ``contact_verified_by`` lifted (the single send records it in its own)."""
    from per_cli.audit.events import Event

    details = {"source": SOURCE, **lifted}
    return Event(actor=actor, action="password.contact_verified", patient_id=patient.id, unit_code=unit_code,
                 details=details)  # fmt: skip


def load_targets(
    session: Session,
    campaign_id: str,
    statuses: Iterable[str],
    channels: Sequence[Channel],
    rule: str,
    hold: HoldSettings | None = None,
) -> tuple[list[tuple[int, Target]], list[tuple[int, str, str]]]:
    """The campaign's patients in these states, planned from their current profile, in line order; and those
    that can no longer be sent to (line, personnummer, reason), a contact replaced since they were queued or last
    tried (and within ``hold``) among them."""
    from per_cli.db.models import CampaignTarget

    hold = hold or HoldSettings()
    now = utcnow()
    query = (
        select(CampaignTarget.line, Patient, CareUnit.code, CampaignTarget.updated_at, CampaignTarget.channels)
        .join(Patient, Patient.id == CampaignTarget.patient_id)
        .join(CareUnit, CareUnit.id == Patient.unit_id)
        .where(CampaignTarget.campaign_id == campaign_id, CampaignTarget.status.in_(list(statuses)))
        .order_by(CampaignTarget.line)
    )
    targets: list[tuple[int, Target]] = []
    problems: list[tuple[int, str, str]] = []
    for line, patient, unit_code, queued, checked in session.execute(query).tuples():
        try:
            target, _ = plan_held(patient, unit_code, channels, rule, hold, now, after=queued,
                                  checked=checked.split(","))  # fmt: skip
            targets.append((int(line), target))
        except InvalidInput as exc:
            problems.append((int(line), display(patient.personnummer), str(exc)))
    return targets, problems
