"""Free text: control characters refused with the field and the code point, lengths alike on both backends."""

from __future__ import annotations

import pytest

from per_cli.errors import InvalidInput
from per_cli.identity.text import check_text, control_character, optional_text, required_text, visible

CONTROLS = ["\x00", "\x07", "\t", "\n", "\r", "\x1b", "\x7f", "\x85", "\x9b", "\u202a", "\u202e", "\u2066", "\u2069"]


@pytest.mark.parametrize("char", CONTROLS)
def test_every_control_is_refused_naming_the_field_and_code_point(char: str) -> None:
    with pytest.raises(InvalidInput) as err:
        check_text(f"Åsa{char}Öberg", "comment", 2000)
    assert err.value.field == "comment"
    assert f"U+{ord(char):04X}" in str(err.value)
    assert "\n" not in str(err.value) and char not in str(err.value)


@pytest.mark.parametrize("text", ["Åsa Öberg-Ärlig", "Zoë d'Ávila", "李小龍", "x" * 200, "=1+1 (quoted on output)"])
def test_ordinary_text_passes(text: str) -> None:
    assert check_text(text, "name", 200) == text
    assert control_character(text) is None


def test_length_limit_counts_characters() -> None:
    assert check_text("å" * 200, "name", 200) == "å" * 200
    with pytest.raises(InvalidInput, match=r"^name: longer than 200 characters \(201\)$"):
        check_text("å" * 201, "name", 200)


def test_optional_and_required() -> None:
    assert optional_text("  ", "pal", 200) is None
    assert optional_text(" Dr Åberg ", "pal", 200) == "Dr Åberg"
    with pytest.raises(InvalidInput, match=r"^name: must not be empty$"):
        required_text(" ", "name", 200)


def test_visible_escapes_what_a_terminal_would_obey() -> None:
    hostile = "\x1b]8;;http://x\x1b\\y\x1b]8;;\x1b\\ \x1b[2J\x9b31m a\tb\nc\r \u202egnp.exe \u2028"
    shown = visible(hostile)
    assert not any(control_character(ch) for ch in shown)
    assert "\u2028" not in shown
    assert shown.startswith("\\x1b]8;;http://x\\x1b\\y")
    assert "\\t" in shown and "\\n" in shown and "\\r" in shown and "\\u202e" in shown and "\\x9b" in shown
    assert visible("Åsa Öberg") == "Åsa Öberg"
