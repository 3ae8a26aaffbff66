"""What a scale is: items, subscales, scoring rules, and the catalogue of all known scales (stdlib only)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

from per_cli.errors import InvalidInput, NotFound

Rule = Literal["sum", "sum_transformed_0_100", "percent_of_max", "mean_of_scores", "profile", "value"]
RULES: Final[tuple[Rule, ...]] = (
    "sum",
    "sum_transformed_0_100",
    "percent_of_max",
    "mean_of_scores",
    "profile",
    "value",
)
DEFAULT_DECIMALS: Final = 1


@dataclass(frozen=True, slots=True)
class Item:
    """One question: its id and the answers it allows (a range, or an explicit list in ``choices``)."""

    id: str
    min: int
    max: int
    choices: tuple[int, ...] | None = None
    missing_allowed: bool = False
    #: what an allowed missing answer counts as when scoring; None: scores that need it are left out
    missing_score: int | None = None
    label: str = ""

    def allows(self, value: int) -> bool:
        return value in self.choices if self.choices is not None else self.min <= value <= self.max

    @property
    def answers_text(self) -> str:
        """``1–4`` or ``0, 1, 3``: how the allowed answers are named in messages and listings."""
        if self.choices is not None:
            return ", ".join(str(v) for v in self.choices)
        return f"{self.min}–{self.max}"


@dataclass(frozen=True, slots=True)
class Subscale:
    """A named group of items that scores refer to by ``code``."""

    code: str
    name: str
    items: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ScoringRule:
    """One output score: its stable key, the rule that computes it and what the rule reads."""

    key: str
    rule: Rule
    #: item ids read by item rules and ``value``
    items: tuple[str, ...] = ()
    #: earlier score keys averaged by ``mean_of_scores``
    of: tuple[str, ...] = ()
    #: the subscale ``items`` came from, kept for display
    subscale: str | None = None
    decimals: int = DEFAULT_DECIMALS
    label: str = ""
    #: the citation for this rule; the scale's ``source`` unless the score names its own
    source: str = ""

    @property
    def kind(self) -> Literal["int", "float", "str"]:
        """The Python type of the value ``score`` returns for this rule."""
        if self.rule in ("sum", "value"):
            return "int"
        return "str" if self.rule == "profile" else "float"


@dataclass(frozen=True, slots=True)
class Scale:
    """A questionnaire without its (copyrighted) texts: items, subscales and scoring rules."""

    code: str
    name: str
    version: str
    source: str
    items: tuple[Item, ...]
    subscales: tuple[Subscale, ...]
    scoring: tuple[ScoringRule, ...]
    copyright: str = ""
    notes: str = ""
    path: Path | None = None
    origin: Literal["shipped", "extra"] = "shipped"

    def item(self, item_id: str) -> Item:
        for item in self.items:
            if item.id == item_id:
                return item
        raise KeyError(item_id)

    @property
    def score_keys(self) -> tuple[str, ...]:
        return tuple(rule.key for rule in self.scoring)


@dataclass(frozen=True, slots=True)
class Catalogue:
    """All known scales, sorted by code; look-ups ignore case."""

    scales: tuple[Scale, ...]

    def codes(self) -> list[str]:
        return [scale.code for scale in self.scales]

    def get(self, code: str) -> Scale:
        wanted = code.strip().casefold()
        for scale in self.scales:
            if scale.code.casefold() == wanted:
                return scale
        raise NotFound(f"unknown scale {code.strip()!r}; known scales: {', '.join(self.codes())}")

    def get_many(self, codes: str | Iterable[str]) -> list[Scale]:
        """The scales named by ``"MSIS-29,eq-5d-5l"`` (or a list of codes), in the order given.

        For ``registration new --scales``: an empty entry or a scale named twice is refused, as is an
        unknown code (``NotFound`` listing the known codes).
        """
        names = codes.split(",") if isinstance(codes, str) else list(codes)
        scales: list[Scale] = []
        for name in names:
            if not name.strip():
                raise InvalidInput("an empty scale code in the list", field="scales")
            scale = self.get(name)
            if scale in scales:
                raise InvalidInput(f"{scale.code} is named twice", field="scales")
            scales.append(scale)
        if not scales:
            raise InvalidInput("name at least one scale", field="scales")
        return scales

    def __contains__(self, code: object) -> bool:
        return isinstance(code, str) and any(s.code.casefold() == code.strip().casefold() for s in self.scales)

    def __iter__(self) -> Iterator[Scale]:
        return iter(self.scales)

    def __len__(self) -> int:
        return len(self.scales)


def sum_range(items: list[Item]) -> tuple[int, int]:
    """Lowest and highest possible sum; an allowed missing answer counts as its ``missing_score``."""
    low = high = 0
    for item in items:
        lo, hi = item.min, item.max
        if item.missing_score is not None:
            lo, hi = min(lo, item.missing_score), max(hi, item.missing_score)
        low, high = low + lo, high + hi
    return low, high
