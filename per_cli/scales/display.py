"""How ``scale list`` and ``scale show`` present a scale: rows, details, and the possible range of each score."""

from __future__ import annotations

from typing import Any

from per_cli.scales.model import Catalogue, Scale, ScoringRule, sum_range


def score_range(scale: Scale, rule: ScoringRule) -> str:
    """The possible values of one score, as shown by ``scale show`` (``20–80``, ``0–100``, ``11111–55555``)."""
    if rule.rule == "profile":
        items = [scale.item(i) for i in rule.items]
        return "".join(str(i.min) for i in items) + "–" + "".join(str(i.max) for i in items)
    low, high = _numeric_range(scale, rule)
    return f"{_fmt(low)}–{_fmt(high)}"


def _numeric_range(scale: Scale, rule: ScoringRule) -> tuple[float, float]:
    if rule.rule == "mean_of_scores":
        by_key = {r.key: r for r in scale.scoring}
        ranges = [_numeric_range(scale, by_key[key]) for key in rule.of]
        return sum(r[0] for r in ranges) / len(ranges), sum(r[1] for r in ranges) / len(ranges)
    items = [scale.item(i) for i in rule.items]
    low, high = sum_range(items)
    if rule.rule == "sum_transformed_0_100":
        return 0, 100
    if rule.rule == "percent_of_max":
        top = sum(i.max for i in items)
        return 100 * low / top, 100 * high / top
    return low, high  # sum, value


def _fmt(value: float) -> str:
    return str(int(value)) if value == int(value) else f"{value:.1f}"


def scale_rows(catalogue: Catalogue) -> list[dict[str, str | int]]:
    """One record per scale for ``scale list`` (stable snake_case keys, ready for any output format).

    ``items`` and ``scores`` are counts, to keep the table narrow; ``scale show`` lists them.
    """
    return [
        {
            "code": scale.code,
            "name": scale.name,
            "version": scale.version,
            "items": len(scale.items),
            "scores": len(scale.scoring),
            "origin": scale.origin,
        }
        for scale in catalogue
    ]


def scale_detail(scale: Scale) -> dict[str, Any]:
    """Everything ``scale show`` prints about one scale, as plain data (nested lists of dicts)."""
    return {
        "code": scale.code,
        "name": scale.name,
        "version": scale.version,
        "origin": scale.origin,
        "file": str(scale.path) if scale.path else None,
        "source": scale.source,
        "copyright": scale.copyright,
        "notes": scale.notes,
        "items": [
            {
                "id": item.id,
                "label": item.label,
                "answers": item.answers_text,
                "missing_allowed": item.missing_allowed,
                "missing_score": item.missing_score,
            }
            for item in scale.items
        ],
        "subscales": [{"code": s.code, "name": s.name, "items": list(s.items)} for s in scale.subscales],
        "scores": [
            {
                "key": rule.key,
                "label": rule.label,
                "rule": rule.rule,
                "reads": _reads_text(scale, rule),
                "range": score_range(scale, rule),
                "decimals": rule.decimals if rule.kind == "float" else None,
                "source": rule.source,
            }
            for rule in scale.scoring
        ],
    }


def _reads_text(scale: Scale, rule: ScoringRule) -> str:
    """What a score is computed from, short enough for a table cell."""
    if rule.subscale:
        return rule.subscale
    if rule.of:
        return ", ".join(rule.of) if len(rule.of) <= 3 else f"{len(rule.of)} scores: {rule.of[0]} … {rule.of[-1]}"
    items = rule.items
    if len(items) == len(scale.items):
        return "all items"
    return ("item " if len(items) == 1 else "items ") + ", ".join(items)
