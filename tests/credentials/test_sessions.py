"""Session tokens: random, stored as digests, idle and absolute expiry, revocation."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from per_cli.credentials.sessions import (
    SessionDenied,
    SessionSettings,
    create_session,
    resolve_session,
    revoke,
    revoke_patient_sessions,
)
from per_cli.db.models import Patient, utcnow
from tests.helpers.world import World


def test_idle_and_absolute_expiry(world: World) -> None:
    settings = SessionSettings(idle_minutes=30, absolute_hours=2)
    start = utcnow()
    with Session(world.engine) as session, session.begin():
        patient = session.query(Patient).one()
        token, row = create_session(session, patient, "otp", settings, now=start)
        other, _ = create_session(session, patient, "bankid", settings, now=start)
        assert token != other and len(token) == 43
        assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
        assert settings.expires(row) == start + timedelta(minutes=30)
        # used every 29 minutes, the session lives until the absolute end
        at = start
        for _ in range(4):
            at += timedelta(minutes=29)
            assert resolve_session(session, token, settings, now=at).id == row.id
        assert row.last_seen_at == at
        with pytest.raises(SessionDenied) as absolute:
            resolve_session(session, token, settings, now=start + timedelta(hours=2))
        assert absolute.value.reason == "session_expired" and absolute.value.exit_code == 4
        # unused for 30 minutes: over; showing (touch=False) does not extend it
        resolve_session(session, other, settings, now=start + timedelta(minutes=20), touch=False)
        with pytest.raises(SessionDenied, match="unknown, expired or ended"):
            resolve_session(session, other, settings, now=start + timedelta(minutes=30))
        with pytest.raises(SessionDenied) as unknown:
            resolve_session(session, "x" * 43, settings)
        assert unknown.value.reason == "unknown_session"


def test_revocation(world: World) -> None:
    settings = SessionSettings()
    with Session(world.engine) as session, session.begin():
        patient = session.query(Patient).one()
        tokens = [create_session(session, patient, "otp", settings)[0] for _ in range(3)]
        first = resolve_session(session, tokens[0], settings)
        assert revoke(session, first) and not revoke(session, first)
        with pytest.raises(SessionDenied) as revoked:
            resolve_session(session, tokens[0], settings)
        assert revoked.value.reason == "session_revoked"
        keep = resolve_session(session, tokens[1], settings)
        assert revoke_patient_sessions(session, patient.id, except_id=keep.id) == 1
        assert resolve_session(session, tokens[1], settings).id == keep.id
        with pytest.raises(SessionDenied):
            resolve_session(session, tokens[2], settings)


def test_tokens_never_start_with_a_dash_so_they_work_as_arguments() -> None:
    from per_cli.credentials.sessions import new_token

    tokens = [new_token() for _ in range(5000)]  # a plain token_urlsafe starts with "-" once in 64
    assert not [t for t in tokens if t.startswith("-")]
    assert len(set(tokens)) == 5000 and all(len(t) == 43 for t in tokens)
