"""The typed tables of the shared database (SQLAlchemy 2 declarative).

Every timestamp is stored in UTC (``UTCDateTime`` restores the zone that SQLite forgets). Secrets are stored
only as hashes: passwords as Argon2id, one-time codes and session tokens as keyed/plain SHA-256 digests.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, cast

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime on every backend."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        moment: datetime = value
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class CareUnit(Base):
    """A care unit (vårdenhet); patients and care givers belong to one."""

    __tablename__ = "care_unit"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Patient(Base):
    """A patient in the register; ``personnummer`` is the canonical 12-digit form."""

    __tablename__ = "patient"
    __table_args__ = (
        Index("ix_patient_sort_key", "sort_key", "personnummer"),
        Index("ix_patient_unit_sort", "unit_id", "sort_key", "personnummer"),  # a unit's list in its order
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    personnummer: Mapped[str] = mapped_column(String(12), unique=True)
    first_name: Mapped[str] = mapped_column(String(200))
    last_name: Mapped[str] = mapped_column(String(200))
    unit_id: Mapped[int] = mapped_column(ForeignKey("care_unit.id"))
    mobile: Mapped[str | None] = mapped_column(String(20))
    mobile_type: Mapped[str | None] = mapped_column(String(30))
    email: Mapped[str | None] = mapped_column(String(320))
    contact_person: Mapped[str] = mapped_column(String(20), default="patient")
    pal: Mapped[str | None] = mapped_column(String(200))
    comment: Mapped[str | None] = mapped_column(Text)
    registered_on: Mapped[date] = mapped_column(Date)
    excluded_on: Mapped[date | None] = mapped_column(Date)
    exclusion_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: set by a database trigger when the contact replaces an earlier one (migration i14a); never by the program
    mobile_replaced_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    email_replaced_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: ``patients.search``: names, e-mail, mobile and personnummer as searched, and the Swedish sort key
    #: (compared byte by byte: PostgreSQL's "C" collation is SQLite's default)
    search_text: Mapped[str | None] = mapped_column(Text)
    sort_key: Mapped[str | None] = mapped_column(String(260).with_variant(String(260, collation="C"), "postgresql"))


class PatientCredential(Base):
    """The patient's password (Argon2id) and the state of failed logins."""

    __tablename__ = "patient_credential"
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), primary_key=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    must_change: Mapped[bool] = mapped_column(Boolean, default=True)
    set_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    not_before: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_sent_to: Mapped[str | None] = mapped_column(Text)
    #: a password on its way to the patient: stored before it is sent; logs in beside ``password_hash`` until
    #: it is used, its delivery is confirmed (then it replaces ``password_hash``) or a newer one replaces it
    pending_hash: Mapped[str | None] = mapped_column(String(200))
    pending_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    pending_campaign: Mapped[str | None] = mapped_column(String(32))


class PasswordDelivery(Base):
    """One channel's message of a password send (the profile's "Lösenordet skickades till …").

    Written with status ``pending`` before the transport is called; then ``sent``, ``failed`` or ``unknown``
    (the transport may have delivered), later ``delivered`` or ``undelivered`` when the provider says so.
    ``batch_id`` is the campaign.
    """

    __tablename__ = "password_delivery"
    __table_args__ = (Index("ix_password_delivery_batch_patient", "batch_id", "patient_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    batch_id: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(10))
    recipient: Mapped[str] = mapped_column(String(320))
    status: Mapped[str] = mapped_column(String(20))
    provider_id: Mapped[str | None] = mapped_column(String(200))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Campaign(Base):
    """One password send: a list (``source`` file) or one patient (single); its id is printed at start."""

    __tablename__ = "campaign"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(20))
    file_name: Mapped[str | None] = mapped_column(Text)
    file_digest: Mapped[str | None] = mapped_column(String(64), index=True)
    channels: Mapped[str] = mapped_column(String(40))
    channel_rule: Mapped[str] = mapped_column(String(20), default="all")
    mode: Mapped[str] = mapped_column(String(10), default="inline")
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)


class TransportRate(Base):
    """The next free sending slot per channel: the rate limit shared by every worker (``campaigns.limits``)."""

    __tablename__ = "transport_rate"
    channel: Mapped[str] = mapped_column(String(10), primary_key=True)
    next_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class CampaignTarget(Base):
    """One patient of a campaign: ``queued`` → ``sending`` → ``sent`` | ``partial`` | ``failed`` | ``unknown``."""

    __tablename__ = "campaign_target"
    campaign_id: Mapped[str] = mapped_column(ForeignKey("campaign.id"), primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), primary_key=True, index=True)
    line: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20))
    channels: Mapped[str] = mapped_column(String(40))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    not_before: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        Index("ix_campaign_target_campaign_status", "campaign_id", "status"),
        Index("ix_campaign_target_queue", "status", "campaign_id", "line"),  # the next queued, in order
        Index("ix_campaign_target_lease", "status", "lease_until"),  # expired leases
    )


class Caregiver(Base):
    """A care giver account for proxy login (own user name and password; SITHS is not used here)."""

    __tablename__ = "caregiver"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str | None] = mapped_column(String(200))
    unit_id: Mapped[int] = mapped_column(ForeignKey("care_unit.id"), index=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    not_before: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LoginThrottle(Base):
    """The failure count of a personnummer that has no password (unknown, or never sent one), so that its
    refusals slow down and lock exactly as an account's do; keyed by a keyed hash, never the number."""

    __tablename__ = "login_throttle"
    key_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    not_before: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class OtpSend(Base):
    """One one-time code sent (or being sent) to a patient: ``[otp] max_sends`` per ``send_window_minutes``."""

    __tablename__ = "otp_send"
    __table_args__ = (Index("ix_otp_send_patient_at", "patient_id", "sent_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"))
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime)


class OtpKey(Base):
    """The fingerprint of the one-time-code key (one row, id 1): every machine sharing the database must use it."""

    __tablename__ = "otp_key"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    fingerprint: Mapped[str] = mapped_column(String(64))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)


class OtpChallenge(Base):
    """A one-time code sent at login; only its keyed hash is stored."""

    __tablename__ = "otp_challenge"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    channels: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    consumed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    superseded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class LoginSession(Base):
    """A logged-in session; the token is shown once and stored as its SHA-256 digest."""

    __tablename__ = "login_session"
    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    method: Mapped[str] = mapped_column(String(20))
    caregiver_id: Mapped[int | None] = mapped_column(ForeignKey("caregiver.id"))
    challenge_id: Mapped[str | None] = mapped_column(String(40), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: the idle window the session was issued with; None only for sessions older than migration i14a
    idle_minutes: Mapped[int | None] = mapped_column(Integer)


class Registration(Base):
    """A started registration: the scales the patient chose, one part each."""

    __tablename__ = "registration"
    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    started_by: Mapped[str] = mapped_column(String(200))
    session_id: Mapped[int | None] = mapped_column(ForeignKey("login_session.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class RegistrationPart(Base):
    """One scale in a registration: answers and scores as JSON text once answered."""

    __tablename__ = "registration_part"
    __table_args__ = (UniqueConstraint("registration_id", "scale_code"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    registration_id: Mapped[int] = mapped_column(ForeignKey("registration.id"), index=True)
    scale_code: Mapped[str] = mapped_column(String(40))
    scale_version: Mapped[str] = mapped_column(String(40))
    answers: Mapped[str | None] = mapped_column(Text)
    scores: Mapped[str | None] = mapped_column(Text)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PatientErasure(Base):
    """The tombstone an erasure leaves (README, "Patients' rights"): who was erased, when and why.

    ``patient_id`` is the erased patient's former id: the access log keeps it, so the log still names whom an
    event was about, and no later patient is ever given it. The personnummer is canonical (12 digits); one
    person may have several tombstones (erased, enrolled again with ``--override-objection``, erased again).
    """

    __tablename__ = "patient_erasure"
    patient_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    personnummer: Mapped[str] = mapped_column(String(12), index=True)
    erased_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    reason: Mapped[str] = mapped_column(String(20))
    note: Mapped[str | None] = mapped_column(Text)
    erased_by: Mapped[str] = mapped_column(String(200))
    #: the care unit the patient was in: row-level security shows registry and support their units' tombstones
    unit_code: Mapped[str | None] = mapped_column(String(40))


class StaffUnit(Base):
    """A care unit a staff login may act for (PostgreSQL row-level security reads it: README, "Deploying for a
    registry"). ``login`` is the database role name; on SQLite the table stays empty."""

    __tablename__ = "staff_unit"
    login: Mapped[str] = mapped_column(String(63), primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("care_unit.id", ondelete="CASCADE"), primary_key=True)


def table_of(model: type[Base]) -> Table:
    """The Core table of a model, typed as such (for the Core inserts of bulk paths)."""
    return cast(Table, model.__table__)


#: the events ``per audit review`` always takes, as the partial index ``ix_audit_event_review`` is written (migration
#: i19a): a query must say it the same way for SQLite to use the index
REVIEW_ALWAYS_SQL = "action = 'login.proxy' OR action LIKE 'login.proxy.%' OR outcome = 'denied'"
#: Partial indexes of the log that only migration i19a declares (``PARTIAL_INDEXES``): declaring them here would
#: need ``sqlite_where``/``postgresql_where``, whose validation imports both dialects (and asyncio) in every command.
PARTIAL_INDEXES = ("ix_audit_event_review", "ix_audit_event_patient_ids")


class AuditEvent(Base):
    """One access to or change of patient data, chained to the previous event by ``prev_hash``."""

    __tablename__ = "audit_event"
    __table_args__ = (
        Index("ix_audit_event_patient_at", "patient_id", "at"),
        Index("ix_audit_event_action_at", "action", "at"),
        Index("ix_audit_event_at_id", "at", "id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(60))
    patient_id: Mapped[int | None] = mapped_column(Integer)
    unit_code: Mapped[str | None] = mapped_column(String(40))
    outcome: Mapped[str] = mapped_column(String(20))
    details: Mapped[str] = mapped_column(Text, default="{}")
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditAnchor(Base):
    """What a lawful prune removed: the retained chain now starts from ``chain_from``, not from GENESIS."""

    __tablename__ = "audit_anchor"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(200))
    cutoff: Mapped[datetime] = mapped_column(UTCDateTime)
    removed: Mapped[int] = mapped_column(Integer)
    last_removed_id: Mapped[int] = mapped_column(Integer)
    chain_from: Mapped[str] = mapped_column(String(64))
