"""The completion tests complete scale codes: they run isolated from the developer's scales, as the scale tests do."""

import pytest


@pytest.fixture(autouse=True)
def _isolated(isolated_scales: None) -> None:
    """``tests.helpers.scales.isolated_scales`` for every test here."""
