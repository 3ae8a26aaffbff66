"""Answers in, scores out: parse ``--answers``, validate against a scale, apply its scoring rules.

Arithmetic is exact (``Fraction``) and each score is rounded once, at the end, half away from zero, to the
rule's ``decimals`` (1 unless the file says otherwise). That keeps hand-computed examples and published
tables in agreement: ``mean_of_scores`` averages the unrounded domain scores, and no binary-float artefact or
banker's rounding turns 12.25 into 12.2.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from fractions import Fraction
from typing import Final

from per_cli.errors import InvalidInput
from per_cli.scales.model import Item, Scale, ScoringRule, sum_range

Score = float | int | str
_INT_RE: Final = re.compile(r"[+-]?[0-9]+")


def parse_answers(text: str) -> list[int | None]:
    """``"1,2,,4"`` → ``[1, 2, None, 4]``: an empty entry is a missing answer (checked later per item)."""
    if not text.strip():
        return []
    answers: list[int | None] = []
    for position, part in enumerate(text.split(","), start=1):
        part = part.strip()
        if not part:
            answers.append(None)
        elif _INT_RE.fullmatch(part):
            answers.append(int(part))
        else:
            raise InvalidInput(f"answer {position}: {part!r} is not a whole number", field="answers")
    return answers


def validate_answers(scale: Scale, answers: Sequence[int | None]) -> list[int | None]:
    """Check the count and every answer against its item; the first problem is reported, naming the item."""
    if len(answers) != len(scale.items):
        raise InvalidInput(
            f"{scale.code} has {len(scale.items)} items, got {len(answers)} answer{'s' if len(answers) != 1 else ''}",
            field="answers",
        )
    checked: list[int | None] = []
    for item, value in zip(scale.items, answers, strict=True):
        checked.append(_check(item, value))
    return checked


def _check(item: Item, value: object) -> int | None:
    if value is None:
        if not item.missing_allowed:
            raise InvalidInput(f"item {item.id}: an answer is required", field="answers")
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"item {item.id}: {value!r} is not a whole number", field="answers")
    if not item.allows(value):
        if item.choices is not None:
            raise InvalidInput(f"item {item.id}: {value} is not one of {item.answers_text}", field="answers")
        raise InvalidInput(f"item {item.id}: {value} is outside {item.answers_text}", field="answers")
    return value


def score(scale: Scale, answers: Sequence[int | None]) -> dict[str, Score]:
    """The scale's scores, keyed by the stable keys of its ``[scoring.KEY]`` tables, in file order.

    A score that reads an allowed-but-missing answer without a ``missing_score`` is left out (no imputation),
    and so is any ``mean_of_scores`` that needs it.
    """
    values = dict(zip((item.id for item in scale.items), validate_answers(scale, answers), strict=True))
    counted: dict[str, int | None] = {}
    for item in scale.items:
        value = values[item.id]
        counted[item.id] = value if value is not None else item.missing_score
    exact: dict[str, Fraction] = {}
    result: dict[str, Score] = {}
    for rule in scale.scoring:
        outcome = _apply(scale, rule, counted, exact)
        if outcome is None:
            continue
        if isinstance(outcome, str):
            result[rule.key] = outcome
        else:
            exact[rule.key] = outcome
            result[rule.key] = int(outcome) if rule.kind == "int" else _round(outcome, rule.decimals)
    return result


def _apply(
    scale: Scale, rule: ScoringRule, counted: dict[str, int | None], exact: dict[str, Fraction]
) -> Fraction | str | None:
    if rule.rule == "mean_of_scores":
        if any(key not in exact for key in rule.of):
            return None
        return sum((exact[key] for key in rule.of), Fraction(0)) / len(rule.of)
    picked = [counted[item_id] for item_id in rule.items]
    if any(value is None for value in picked):
        return None
    numbers = [value for value in picked if value is not None]
    if rule.rule == "profile":
        return "".join(str(value) for value in numbers)
    if rule.rule == "value":
        return Fraction(numbers[0])
    raw = Fraction(sum(numbers))
    if rule.rule == "sum":
        return raw
    items = [scale.item(item_id) for item_id in rule.items]
    if rule.rule == "percent_of_max":
        return raw / sum(item.max for item in items) * 100
    low, high = sum_range(items)  # sum_transformed_0_100
    return (raw - low) / (high - low) * 100


def _round(value: Fraction, decimals: int) -> float:
    """Round half away from zero on the exact value, then give the nearest float (prints as expected)."""
    scale = 10**decimals
    magnitude = math.floor(abs(value) * scale + Fraction(1, 2))
    return math.copysign(magnitude / scale, value) if magnitude else 0.0
