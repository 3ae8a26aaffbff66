"""Every test here runs on the real PostgreSQL (skipped, with the reason, without it) with staff logins of its own."""

from __future__ import annotations

import pytest

from tests.helpers.staff import pg_only, staff

__all__ = ["staff"]


@pytest.fixture
def backend() -> str:
    return pg_only()
