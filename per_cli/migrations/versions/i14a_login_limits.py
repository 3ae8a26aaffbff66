"""login limits: stored slow-down, counters for unknown numbers, sessions' own expiry, send cap, OTP key, contact hold

Revision ID: i14a
Revises: i13a

- ``not_before`` on ``patient_credential`` and ``caregiver``: a try before it is refused without comparing.
- ``login_throttle``: the failure count of a personnummer with no password (unknown, or not sent one), keyed by
  a keyed hash of the canonical number (never the number).
- ``login_session.idle_minutes``: the idle window the session was issued with (its absolute end is ``expires_at``).
- ``otp_send``: one row per one-time code sent, for ``[otp] max_sends`` per ``send_window_minutes``.
- ``otp_key``: the fingerprint of the one-time-code key every machine must share.
- ``patient.mobile_replaced_at`` / ``email_replaced_at``: set by a trigger when a contact replaces an earlier one
  (a contact set for the first time leaves them empty), for ``[passwords] contact_change_hold_hours``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "i14a"
down_revision = "i13a"
branch_labels = None
depends_on = None

_PG_FUNCTION = """
CREATE OR REPLACE FUNCTION per_patient_contact_replaced() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.mobile IS DISTINCT FROM OLD.mobile
       AND (OLD.mobile IS NOT NULL OR OLD.mobile_replaced_at IS NOT NULL) THEN
        NEW.mobile_replaced_at := now();
    END IF;
    IF NEW.email IS DISTINCT FROM OLD.email
       AND (OLD.email IS NOT NULL OR OLD.email_replaced_at IS NOT NULL) THEN
        NEW.email_replaced_at := now();
    END IF;
    RETURN NEW;
END
$$
"""
_PG_TRIGGER = (
    "CREATE TRIGGER patient_contact_replaced BEFORE UPDATE OF mobile, email ON patient "
    "FOR EACH ROW EXECUTE FUNCTION per_patient_contact_replaced()"
)
#: SQLite keeps UTC as naive text in SQLAlchemy's format (``YYYY-MM-DD HH:MM:SS.ffffff``)
_SQLITE_NOW = "strftime('%Y-%m-%d %H:%M:%S', 'now') || '.000000'"


def _sqlite_trigger(column: str) -> str:
    return (
        f"CREATE TRIGGER patient_{column}_replaced AFTER UPDATE OF {column} ON patient FOR EACH ROW "
        f"WHEN NEW.{column} IS NOT OLD.{column} "
        f"AND (OLD.{column} IS NOT NULL OR OLD.{column}_replaced_at IS NOT NULL) "
        f"BEGIN UPDATE patient SET {column}_replaced_at = {_SQLITE_NOW} WHERE id = NEW.id; END"
    )


def upgrade() -> None:
    op.add_column("patient_credential", sa.Column("not_before", sa.DateTime(timezone=True), nullable=True))
    op.add_column("caregiver", sa.Column("not_before", sa.DateTime(timezone=True), nullable=True))
    op.add_column("login_session", sa.Column("idle_minutes", sa.Integer(), nullable=True))
    op.add_column("patient", sa.Column("mobile_replaced_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("patient", sa.Column("email_replaced_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "login_throttle",
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("not_before", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key_hash", name=op.f("pk_login_throttle")),
    )
    op.create_table(
        "otp_send",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["patient_id"], ["patient.id"], name=op.f("fk_otp_send_patient_id_patient")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_otp_send")),
    )
    op.create_index("ix_otp_send_patient_at", "otp_send", ["patient_id", "sent_at"])
    op.create_table(
        "otp_key",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_otp_key")),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_FUNCTION)
        op.execute(_PG_TRIGGER)
    else:
        op.execute(_sqlite_trigger("mobile"))
        op.execute(_sqlite_trigger("email"))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS patient_contact_replaced ON patient")
        op.execute("DROP FUNCTION IF EXISTS per_patient_contact_replaced()")
    else:
        op.execute("DROP TRIGGER IF EXISTS patient_mobile_replaced")
        op.execute("DROP TRIGGER IF EXISTS patient_email_replaced")
    op.drop_table("otp_key")
    op.drop_index("ix_otp_send_patient_at", table_name="otp_send")
    op.drop_table("otp_send")
    op.drop_table("login_throttle")
    for table, columns in (
        ("patient", ("email_replaced_at", "mobile_replaced_at")),
        ("login_session", ("idle_minutes",)),
        ("caregiver", ("not_before",)),
        ("patient_credential", ("not_before",)),
    ):
        with op.batch_alter_table(table) as batch:
            for column in columns:
                batch.drop_column(column)
