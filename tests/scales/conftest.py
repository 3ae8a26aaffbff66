"""Every scale test runs isolated from the developer's scale directory and config, with a fresh catalogue cache."""

import pytest


@pytest.fixture(autouse=True)
def _isolated(isolated_scales: None) -> None:
    """``tests.helpers.scales.isolated_scales`` for every test here."""
