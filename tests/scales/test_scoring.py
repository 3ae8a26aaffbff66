"""Scoring of every shipped scale against hand-computed examples, boundaries included, and answer validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from per_cli.errors import InvalidInput
from per_cli.scales.catalogue import load_catalogue
from per_cli.scales.model import Scale
from per_cli.scales.scoring import parse_answers, score, validate_answers
from tests.helpers.scales import WriteScale


def scale(code: str) -> Scale:
    return load_catalogue(None).get(code)


# ------------------------------------------------------------------------------------------------ MSIS-29


def test_msis29_all_minimum() -> None:
    assert score(scale("MSIS-29"), [1] * 29) == {
        "physical_raw": 20,
        "physical": 0.0,
        "psychological_raw": 9,
        "psychological": 0.0,
    }


def test_msis29_all_maximum() -> None:
    assert score(scale("MSIS-29"), [4] * 29) == {
        "physical_raw": 80,
        "physical": 100.0,
        "psychological_raw": 36,
        "psychological": 100.0,
    }


def test_msis29_mixed() -> None:
    # physical: ten 2s and ten 3s = 50 -> (50 - 20) / 60 * 100 = 50.0
    # psychological: 1+2+3+4+1+2+3+4+4 = 24 -> (24 - 9) / 27 * 100 = 55.55… -> 55.6
    answers = [2] * 10 + [3] * 10 + [1, 2, 3, 4, 1, 2, 3, 4, 4]
    assert score(scale("MSIS-29"), answers) == {
        "physical_raw": 50,
        "physical": 50.0,
        "psychological_raw": 24,
        "psychological": 55.6,
    }


def test_msis29_one_step_above_minimum() -> None:
    # physical 21 -> 1/60 * 100 = 1.666… -> 1.7; psychological 10 -> 1/27 * 100 = 3.703… -> 3.7
    answers = [2] + [1] * 19 + [2] + [1] * 8
    result = score(scale("MSIS-29"), answers)
    assert (result["physical_raw"], result["physical"]) == (21, 1.7)
    assert (result["psychological_raw"], result["psychological"]) == (10, 3.7)


def test_msis29_raw_scores_are_int_and_transformed_are_float() -> None:
    result = score(scale("MSIS-29"), [1] * 29)
    assert type(result["physical_raw"]) is int
    assert type(result["physical"]) is float


# ------------------------------------------------------------------------------------------------ MSWS-12


@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        ([1] * 12, {"total_raw": 12, "total": 0.0}),
        ([5] * 12, {"total_raw": 60, "total": 100.0}),
        ([1, 2, 3, 4, 5, 1, 2, 3, 4, 5, 3, 3], {"total_raw": 36, "total": 50.0}),  # 24/48
        ([2] * 12, {"total_raw": 24, "total": 25.0}),  # 12/48
        ([1] * 11 + [2], {"total_raw": 13, "total": 2.1}),  # 1/48 = 2.083…
    ],
)
def test_msws12(answers: list[int], expected: dict[str, float]) -> None:
    assert score(scale("MSWS-12"), answers) == expected


# ------------------------------------------------------------------------------------------------- PDQ-39

PDQ_DOMAINS = (
    "mobility",
    "adl",
    "emotional_wellbeing",
    "stigma",
    "social_support",
    "cognition",
    "communication",
    "bodily_discomfort",
)


def test_pdq39_all_minimum() -> None:
    assert score(scale("PDQ-39"), [0] * 39) == {**dict.fromkeys(PDQ_DOMAINS, 0.0), "pdq39_si": 0.0}


def test_pdq39_all_maximum() -> None:
    assert score(scale("PDQ-39"), [4] * 39) == {**dict.fromkeys(PDQ_DOMAINS, 100.0), "pdq39_si": 100.0}


def pdq_mixed(item28: int | None) -> list[int | None]:
    return [
        *[1] * 10,  # mobility 1-10: 10 / 40 = 25.0
        *[2] * 6,  # ADL 11-16: 12 / 24 = 50.0
        *[0, 1, 2, 3, 4, 0],  # emotional 17-22: 10 / 24 = 41.66… -> 41.7
        *[4, 4, 4, 4],  # stigma 23-26: 16 / 16 = 100.0
        1, item28, 2,  # social support 27-29: 3 / 12 = 25.0 (question 28 empty = no spouse = 0)
        *[0, 0, 0, 1],  # cognition 30-33: 1 / 16 = 6.25 -> 6.3 (half away from zero)
        *[3, 3, 3],  # communication 34-36: 9 / 12 = 75.0
        *[0, 0, 1],  # bodily discomfort 37-39: 1 / 12 = 8.33… -> 8.3
    ]  # fmt: skip


PDQ_MIXED_SCORES = {
    "mobility": 25.0,
    "adl": 50.0,
    "emotional_wellbeing": 41.7,
    "stigma": 100.0,
    "social_support": 25.0,
    "cognition": 6.3,
    "communication": 75.0,
    "bodily_discomfort": 8.3,
    # mean of the exact domains: (25 + 50 + 41.66… + 100 + 25 + 6.25 + 75 + 8.33…) / 8 = 331.25 / 8 = 41.40625
    "pdq39_si": 41.4,
}


def test_pdq39_mixed() -> None:
    assert score(scale("PDQ-39"), pdq_mixed(0)) == PDQ_MIXED_SCORES


def test_pdq39_item28_empty_means_no_spouse_and_scores_zero() -> None:
    assert score(scale("PDQ-39"), pdq_mixed(None)) == PDQ_MIXED_SCORES


def test_pdq39_other_items_are_required() -> None:
    answers = pdq_mixed(0)
    answers[26] = None
    with pytest.raises(InvalidInput) as exc:
        score(scale("PDQ-39"), answers)
    assert exc.value.message == "item 27: an answer is required"


def test_pdq39_domain_boundary_of_one_item() -> None:
    answers: list[int | None] = [0] * 39
    answers[38] = 4  # bodily discomfort: 4 / 12 = 33.33… -> 33.3; SI = 33.33… / 8 = 4.166… -> 4.2
    result = score(scale("PDQ-39"), answers)
    assert result["bodily_discomfort"] == 33.3
    assert result["pdq39_si"] == 4.2


# --------------------------------------------------------------------------------------------------- HADS


@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        ([0] * 14, {"anxiety": 0, "depression": 0}),
        ([3] * 14, {"anxiety": 21, "depression": 21}),
        # odd items (anxiety) 3,2,1,0,3,2,1 = 12; even items (depression) 0,1,2,3,0,1,2 = 9
        ([3, 0, 2, 1, 1, 2, 0, 3, 3, 0, 2, 1, 1, 2], {"anxiety": 12, "depression": 9}),
        ([3, 0] * 7, {"anxiety": 21, "depression": 0}),
        ([0, 3] * 7, {"anxiety": 0, "depression": 21}),
    ],
)
def test_hads(answers: list[int], expected: dict[str, int]) -> None:
    assert score(scale("HADS"), answers) == expected


# ------------------------------------------------------------------------------------------------- MG-ADL


@pytest.mark.parametrize(
    ("answers", "total"),
    [([0] * 8, 0), ([3] * 8, 24), ([0, 1, 2, 3, 0, 1, 2, 3], 12), ([3, 0, 0, 0, 0, 0, 0, 1], 4)],
)
def test_mg_adl(answers: list[int], total: int) -> None:
    assert score(scale("MG-ADL"), answers) == {"total": total}


# ----------------------------------------------------------------------------------------------- EQ-5D-5L


@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        ([1, 1, 1, 1, 1, 100], {"profile": "11111", "vas": 100}),
        ([5, 5, 5, 5, 5, 0], {"profile": "55555", "vas": 0}),
        ([1, 2, 3, 4, 5, 73], {"profile": "12345", "vas": 73}),
        ([2, 1, 1, 3, 1, 50], {"profile": "21131", "vas": 50}),
    ],
)
def test_eq5d5l(answers: list[int], expected: dict[str, str | int]) -> None:
    assert score(scale("EQ-5D-5L"), answers) == expected


@pytest.mark.parametrize(
    ("answers", "message"),
    [
        ([1, 1, 1, 1, 1, 101], "item VAS: 101 is outside 0–100"),
        ([1, 1, 1, 1, 1, -1], "item VAS: -1 is outside 0–100"),
        ([0, 1, 1, 1, 1, 50], "item MO: 0 is outside 1–5"),
        ([1, 1, 1, 1, 6, 50], "item AD: 6 is outside 1–5"),
        ([1, 1, 1, 1, 1], "EQ-5D-5L has 6 items, got 5 answers"),
        ([1, 1, 1, 1, 1, None], "item VAS: an answer is required"),
    ],
)
def test_eq5d5l_rejections(answers: list[int | None], message: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        score(scale("EQ-5D-5L"), answers)
    assert exc.value.message == message
    assert exc.value.field == "answers"


# ----------------------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("code", "answers", "message"),
    [
        ("MSIS-29", [1] * 6 + [5] + [1] * 22, "item 7: 5 is outside 1–4"),
        ("MSIS-29", [0] + [1] * 28, "item 1: 0 is outside 1–4"),
        ("MSIS-29", [1] * 28, "MSIS-29 has 29 items, got 28 answers"),
        ("MSIS-29", [1] * 30, "MSIS-29 has 29 items, got 30 answers"),
        ("MSIS-29", [], "MSIS-29 has 29 items, got 0 answers"),
        ("MSIS-29", [1] * 28 + [None], "item 29: an answer is required"),
        ("MSWS-12", [1] * 11 + [6], "item 12: 6 is outside 1–5"),
        ("PDQ-39", [0] * 38 + [5], "item 39: 5 is outside 0–4"),
        ("PDQ-39", [-1] + [0] * 38, "item 1: -1 is outside 0–4"),
        ("HADS", [0] * 13 + [4], "item 14: 4 is outside 0–3"),
        ("HADS", [0] * 15, "HADS has 14 items, got 15 answers"),
        ("MG-ADL", [4] + [0] * 7, "item 1: 4 is outside 0–3"),
        ("MG-ADL", [0], "MG-ADL has 8 items, got 1 answer"),
    ],
)
def test_rejections_name_the_item(code: str, answers: list[int | None], message: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        validate_answers(scale(code), answers)
    assert exc.value.message == message
    assert str(exc.value) == f"answers: {message}"


def test_validate_returns_the_answers() -> None:
    answers: list[int | None] = [0] * 39
    answers[27] = None
    assert validate_answers(scale("PDQ-39"), answers) == answers


@pytest.mark.parametrize("bad", [True, 1.5, "2"])
def test_non_integers_are_rejected(bad: object) -> None:
    answers: list[object] = [1] * 29
    answers[0] = bad
    with pytest.raises(InvalidInput) as exc:
        validate_answers(scale("MSIS-29"), answers)  # type: ignore[arg-type]
    assert exc.value.message == f"item 1: {bad!r} is not a whole number"


def test_explicit_answer_list(write_scale: WriteScale, extra_dir: Path) -> None:
    write_scale()
    local = load_catalogue(extra_dir).get("local-1")
    assert score(local, [2, 2, 0, 3]) == {"total": 7, "first": 100.0}
    with pytest.raises(InvalidInput) as exc:
        score(local, [0, 0, 0, 2])
    assert exc.value.message == "item d: 2 is not one of 0, 1, 3"


def test_missing_without_missing_score_leaves_scores_out(
    write_scale: WriteScale, extra_dir: Path, valid_toml: str
) -> None:
    write_scale(
        valid_toml.replace('{ id = "b", min = 0, max = 2 }', '{ id = "b", min = 0, max = 2, missing_allowed = true }')
    )
    local = load_catalogue(extra_dir).get("LOCAL-1")
    assert score(local, [1, None, 2, 1]) == {}
    assert score(local, [1, 1, 2, 1]) == {"total": 5, "first": 50.0}


MEAN_TOML = """\
code = "MEAN"
name = "Mean of rounded vs unrounded"
version = "1"
source = "Invented for the tests."
items = [{ id = "a", min = 0, max = 8 }, { id = "b", min = 0, max = 8 }]

[scoring.a]
rule = "percent_of_max"
items = ["a"]
decimals = 0

[scoring.b]
rule = "percent_of_max"
items = ["b"]
decimals = 0

[scoring.mean]
rule = "mean_of_scores"
of = ["a", "b"]
decimals = 0
"""


def test_mean_of_scores_averages_unrounded_values(write_scale: WriteScale, extra_dir: Path) -> None:
    write_scale(MEAN_TOML, "mean.toml")
    mean = load_catalogue(extra_dir).get("MEAN")
    # a = 1/8 = 12.5 -> 13, b = 0; exact mean 6.25 -> 6 (the mean of rounded values would give 6.5 -> 7)
    assert score(mean, [1, 0]) == {"a": 13.0, "b": 0.0, "mean": 6.0}


# -------------------------------------------------------------------------------------------- parsing


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1,2,3", [1, 2, 3]),
        (" 1 , 2 ,, 4 ", [1, 2, None, 4]),
        ("1,2,", [1, 2, None]),
        (",", [None, None]),
        ("", []),
        ("   ", []),
        ("-1,+2", [-1, 2]),
        ("100", [100]),
    ],
)
def test_parse_answers(text: str, expected: list[int | None]) -> None:
    assert parse_answers(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1,x,3", "answer 2: 'x' is not a whole number"),
        ("1,2.5", "answer 2: '2.5' is not a whole number"),
        ("1_0", "answer 1: '1_0' is not a whole number"),
        ("1;2", "answer 1: '1;2' is not a whole number"),
        ("١", "answer 1: '١' is not a whole number"),
    ],
)
def test_parse_answers_rejects(text: str, message: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        parse_answers(text)
    assert exc.value.message == message
    assert exc.value.field == "answers"


def test_parse_then_score() -> None:
    assert score(scale("MG-ADL"), parse_answers("0,1,2,3,0,1,2,3")) == {"total": 12}
