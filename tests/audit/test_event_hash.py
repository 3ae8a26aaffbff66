"""The chain's hash payload, written by hand for speed, is byte for byte the compact JSON array it documents."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from per_cli.audit.events import _payload, event_hash

TEXT = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=30)


@settings(max_examples=500, deadline=None)
@given(
    prev=TEXT,
    actor=TEXT,
    action=TEXT,
    pid=st.one_of(st.none(), st.integers(0, 2**40)),
    unit=st.one_of(st.none(), TEXT),
    outcome=TEXT,
    details=TEXT,
)
def test_payload_is_the_compact_json_array(
    prev: str, actor: str, action: str, pid: int | None, unit: str | None, outcome: str, details: str
) -> None:
    at = "2026-11-22T21:04:05.000001+00:00"
    expected = json.dumps(
        [prev, at, actor, action, pid, unit, outcome, details], ensure_ascii=False, separators=(",", ":")
    )
    assert _payload(prev, at, actor, action, pid, unit, outcome, details) == expected


def test_event_hash_is_sha256_of_that_payload() -> None:
    at = datetime(2026, 11, 22, 21, 4, 5, 1, tzinfo=UTC)
    payload = json.dumps(
        [
            "0" * 64,
            at.isoformat(timespec="microseconds"),
            "anna",
            "patient.show",
            7,
            "NEURO-SU",
            "ok",
            '{"a":"å \\"x\\""}',
        ],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    assert event_hash("0" * 64, at, "anna", "patient.show", 7, "NEURO-SU", "ok", '{"a":"å \\"x\\""}') == (
        hashlib.sha256(payload.encode()).hexdigest()
    )
