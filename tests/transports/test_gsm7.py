"""GSM-7 / UCS-2 length and segment counting, and the sender-ID rule."""

from __future__ import annotations

import pytest

from per_cli.transports.gsm7 import non_gsm7_chars, segment_warning, sms_segments, validate_sender_id


@pytest.mark.parametrize(
    ("text", "encoding", "units", "segments"),
    [
        ("", "GSM-7", 0, 1),
        ("Hej", "GSM-7", 3, 1),
        ("åäöÅÄÖ", "GSM-7", 6, 1),  # Swedish letters are in the basic table
        ("éÉüÜ@£$¥§", "GSM-7", 9, 1),
        ("€", "GSM-7", 2, 1),
        ("[]{}|^~\\", "GSM-7", 16, 1),  # extension table: two septets each
        ("a" * 160, "GSM-7", 160, 1),
        ("a" * 161, "GSM-7", 161, 2),
        ("ö" * 306, "GSM-7", 306, 2),
        ("ö" * 307, "GSM-7", 307, 3),
        ("a" * 159 + "€", "GSM-7", 161, 2),
        ("a" * 158 + "€", "GSM-7", 160, 1),
        ("Lösenord: “x”", "UCS-2", 13, 1),  # typographic quotes are not GSM-7
        ("ç", "UCS-2", 1, 1),  # only upper-case Ç is GSM-7
        ("Ç", "GSM-7", 1, 1),
        ("😀", "UCS-2", 2, 1),  # outside the BMP: a surrogate pair
        ("x" * 69 + "😀", "UCS-2", 71, 2),
        ("–" * 70, "UCS-2", 70, 1),
        ("–" * 71, "UCS-2", 71, 2),
        ("–" * 134, "UCS-2", 134, 2),
        ("–" * 135, "UCS-2", 135, 3),
    ],
)
def test_length_table(text: str, encoding: str, units: int, segments: int) -> None:
    assert tuple(sms_segments(text)) == (encoding, units, segments)


def test_an_escape_pair_never_straddles_two_parts() -> None:
    # 152 septets then '€' (2): part one cannot take it, so 152 + (2 + 8) -> still 2 parts;
    # 152 + '€' + 152 more: the second part holds 2 + 151, the rest spills into a third.
    assert sms_segments("a" * 152 + "€" + "b" * 10).segments == 2
    assert sms_segments("a" * 152 + "€" + "b" * 152).segments == 3  # 306 septets, yet 3 parts
    assert sms_segments("a" * 153 + "b" * 153).segments == 2


def test_surrogate_pair_never_split() -> None:
    assert sms_segments("x" * 66 + "😀" + "y" * 66).segments == 3
    assert sms_segments("x" * 65 + "😀" + "y" * 67).segments == 2


def test_non_gsm7_chars_are_named_once_in_order() -> None:
    assert non_gsm7_chars("“Hej” – ç “") == ["“", "”", "–", "ç"]


def test_segment_warning() -> None:
    assert segment_warning("Ditt lösenord är Åsa-123") is None
    warning = segment_warning("Lösenord “" + "x" * 70)
    assert warning is not None and "2 segments" in warning and "'“'" in warning
    warning = segment_warning("x" * 161)
    assert warning is not None and "GSM-7" in warning and "161" in warning


@pytest.mark.parametrize("sender", ["PER", "Neuroreg", "Abc12345678", "a1b", "+46700000000"])
def test_valid_sender_ids(sender: str) -> None:
    assert validate_sender_id(sender) == sender


@pytest.mark.parametrize(
    ("sender", "reason"),
    [
        ("AB", "3–11 characters"),
        ("Abcdefghijkl", "3–11 characters"),
        ("1Neuro", "must not start with a digit"),
        ("Neuro reg", "letters A–Z"),
        ("Göteborg", "letters A–Z"),
        ("+4670", "E.164"),
    ],
)
def test_invalid_sender_ids(sender: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        validate_sender_id(sender)
