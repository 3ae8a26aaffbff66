"""Campaign rows: created at the start of a send, found again by id or by the same list and channels.

A campaign's patients live in ``campaign_target``: one row per patient with the state of its send
(``queued`` → ``sending`` → ``sent`` | ``partial`` | ``failed`` | ``unknown`` | ``skipped``). Resuming sends to
the patients not yet reached: ``sent`` and ``partial`` are reached; ``unknown`` (and ``sending`` left by a run
that died) may be, so they are listed and resent only when asked.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Table, bindparam, select

from per_cli.db.models import Campaign, CampaignTarget, utcnow
from per_cli.errors import InvalidInput, NotFound

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

_ID = re.compile(r"^[0-9a-f]{32}$")
#: a patient in one of these states has had a message that surely or possibly arrived
REACHED = frozenset({"sent", "partial"})
MAYBE = frozenset({"unknown", "sending"})


def check_id(text: str) -> str:
    campaign_id = text.strip().lower()
    if not _ID.match(campaign_id):
        raise InvalidInput("not a campaign id (32 hex digits, as printed when the send started)", field="campaign")
    return campaign_id


def get(session: Session, text: str) -> Campaign:
    campaign = session.get(Campaign, check_id(text))
    if campaign is None:
        raise NotFound(
            "no campaign with this id; `per password status PERSONNUMMER` names a patient's campaigns",
            field="campaign",
        )
    return campaign


@dataclass(frozen=True)
class Spec:
    """What a new campaign records: where the list came from and how it is sent."""

    source: str  # "file" or "single"
    channels: tuple[str, ...]
    channel_rule: str = "all"  # "all": every chosen channel; "available": those the patient has
    file_name: str | None = None
    file_digest: str | None = None
    mode: str = "inline"  # "inline": the sending process; "queue": `per campaign work`


def create(session: Session, actor: str, spec: Spec, campaign_id: str, now: datetime | None = None) -> Campaign:
    campaign = Campaign(
        id=campaign_id,
        created_at=now or utcnow(),
        created_by=actor,
        source=spec.source,
        file_name=spec.file_name,
        file_digest=spec.file_digest,
        channels=",".join(spec.channels),
        channel_rule=spec.channel_rule,
        mode=spec.mode,
    )
    session.add(campaign)
    session.flush()
    return campaign


def latest_for_file(session: Session, digest: str, channels: Sequence[str], rule: str) -> Campaign | None:
    """The newest campaign over the same list (its bytes) with the same channels: a re-run resumes it."""
    query = (
        select(Campaign)
        .where(
            Campaign.file_digest == digest,
            Campaign.channels == ",".join(channels),
            Campaign.channel_rule == rule,
        )
        .order_by(Campaign.created_at.desc())
        .limit(1)
    )
    return session.execute(query).scalars().first()


def check_resume(campaign: Campaign, channels: Sequence[str], rule: str) -> None:
    """``--resume`` with other channels than the campaign's would send a different campaign: refused."""
    if campaign.channels != ",".join(channels) or campaign.channel_rule != rule:
        wanted = " ".join(f"--{c}" for c in campaign.channels.split(","))
        if campaign.channel_rule != "all":
            wanted += f" --channels {campaign.channel_rule}"
        raise InvalidInput(
            f"campaign {campaign.id} was sent with {wanted}; resume it with the same channels or start a new one",
            field="--resume",
        )


def states(session: Session, campaign_id: str) -> dict[int, str]:
    """Each patient's state in the campaign."""
    query = select(CampaignTarget.patient_id, CampaignTarget.status).where(CampaignTarget.campaign_id == campaign_id)
    return {int(pid): str(status) for pid, status in session.execute(query).tuples()}


def upsert_targets(session: Session, rows: Iterable[Mapping[str, Any]]) -> None:
    """Insert or update campaign_target rows (keys: campaign_id, patient_id, line, status, channels, attempts…)."""
    from sqlalchemy.dialects import postgresql, sqlite

    values = [dict(r) for r in rows]
    if not values:
        return
    columns = [c for c in values[0] if c not in ("campaign_id", "patient_id")]
    table = cast(Table, CampaignTarget.__table__)
    key = [table.c.campaign_id, table.c.patient_id]
    insert_: Any = (postgresql if session.get_bind().dialect.name == "postgresql" else sqlite).insert(table)
    changes = {c: insert_.excluded[c] for c in columns}
    if "attempts" in changes:  # a row sent again counts on
        changes["attempts"] = table.c.attempts + insert_.excluded.attempts
    # Core, not the ORM's bulk path: nothing of it is loaded, and the ORM's bookkeeping per row was CPU taken from
    # hashing
    session.connection().execute(insert_.on_conflict_do_update(index_elements=key, set_=changes), values)


def set_states(session: Session, campaign_id: str, rows: Iterable[Mapping[str, Any]]) -> None:
    """Update patients' states (keys: ``b_patient``, ``status``, ``error``, ``updated_at``) in one executemany."""
    values = [dict(r) for r in rows]
    if not values:
        return
    table = cast(Table, CampaignTarget.__table__)
    session.connection().execute(
        table.update()
        .where(table.c.campaign_id == campaign_id, table.c.patient_id == bindparam("b_patient"))
        .values(status=bindparam("status"), error=bindparam("error"), updated_at=bindparam("updated_at")),
        values,
    )
