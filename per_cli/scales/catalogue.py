"""The scale catalogue: one TOML file per scale, shipped in ``data/`` and optionally in an extra directory.

Stdlib only and cached, because TAB completion of scale codes loads it in a fresh process at every key press.
Every file is validated when it is loaded, so a bad file fails with its name and the offending key instead of
surfacing later as a wrong score. The file format and the rule vocabulary are described in ``README.md``.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Final, Literal

from per_cli.errors import ConfigError, InvalidInput, NotFound

Rule = Literal["sum", "sum_transformed_0_100", "percent_of_max", "mean_of_scores", "profile", "value"]
RULES: Final[tuple[Rule, ...]] = (
    "sum",
    "sum_transformed_0_100",
    "percent_of_max",
    "mean_of_scores",
    "profile",
    "value",
)
#: rules that read item answers over a subscale, an item list or (by default) all items
_ITEM_RULES: Final = frozenset({"sum", "sum_transformed_0_100", "percent_of_max", "profile"})

SHIPPED_DIR: Final = Path(__file__).with_name("data")
SCALES_DIR_ENV: Final = "PER_SCALES_DIR"

_CODE_RE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")  # no commas or spaces: codes travel in lists
_KEY_RE: Final = re.compile(r"[a-z][a-z0-9_]*")  # score keys become JSON keys and column names
_ITEM_ID_RE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_DEFAULT_DECIMALS: Final = 1
_MAX_DECIMALS: Final = 6

_SCALE_KEYS: Final = ("code", "name", "version", "source", "copyright", "notes", "items", "subscales", "scoring")
_ITEM_KEYS: Final = ("id", "label", "min", "max", "values", "missing_allowed", "missing_score")
_SUBSCALE_KEYS: Final = ("code", "name", "items")
_SCORE_KEYS: Final = ("rule", "label", "subscale", "items", "item", "of", "decimals", "source")


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
    decimals: int = _DEFAULT_DECIMALS
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


# --------------------------------------------------------------------------------------------------- loading


def load_catalogue(extra_dir: Path | None = None) -> Catalogue:
    """The shipped scales plus those in ``extra_dir``.

    An extra file may not reuse a shipped code (whatever its version): stored answers and scores are keyed by
    code, and one code must mean the same questionnaire on every installation. A local variant takes its own
    code (``MSIS-29-SE``). Results are cached; an extra directory is re-read when its files change.
    """
    if extra_dir is None:
        return _load_shipped()
    return _load_with_extra(str(extra_dir), _dir_signature(extra_dir))


def clear_cache() -> None:
    """Forget every loaded file (tests that rewrite the shipped data, long-running processes)."""
    _load_shipped.cache_clear()
    _load_with_extra.cache_clear()


def extra_dir_for(obj: object | None) -> Path | None:
    """The extra catalogue directory for the app in ``ctx.obj``, or from the environment without one.

    ``PER_SCALES_DIR`` wins over ``[scales] extra_dir`` in the config file (SPEC §3 precedence). A relative
    path in the config file is taken relative to that file, so the file can travel with its directory.
    """
    config = getattr(obj, "config", None)
    value: Any
    base: Path | None = None
    if config is None:
        value = os.environ.get(SCALES_DIR_ENV) or None
    else:
        value = config.get("scales", "extra_dir", env=SCALES_DIR_ENV)
        config_path = getattr(config, "path", None)
        from_env = bool(getattr(config, "environ", os.environ).get(SCALES_DIR_ENV))
        if not from_env and isinstance(config_path, Path):
            base = config_path.parent
    if value is None or value == "":
        return None
    if not isinstance(value, str | os.PathLike):
        where = str(getattr(config, "path", None) or "config")
        raise ConfigError("[scales] extra_dir: must be a path (a string)", field=where)
    path = Path(value).expanduser()
    if base is not None and not path.is_absolute():
        path = base / path
    return path


def catalogue_for(obj: object | None) -> Catalogue:
    """The catalogue as configured for the app in ``ctx.obj`` (shipped plus the configured extra directory)."""
    return load_catalogue(extra_dir_for(obj))


@lru_cache(maxsize=1)
def _load_shipped() -> Catalogue:
    scales = [_load_file(path, "shipped") for path in sorted(SHIPPED_DIR.glob("*.toml"))]
    return Catalogue(_sorted_unique(scales))


def _dir_signature(directory: Path) -> tuple[tuple[str, int, int], ...]:
    """File names, sizes and mtimes: a changed file invalidates the cache without re-parsing every time."""
    if not directory.is_dir():
        what = "does not exist" if not directory.exists() else "is not a directory"
        raise ConfigError(f"extra scale directory {directory} {what} (see [scales] extra_dir or {SCALES_DIR_ENV})")
    signature = []
    for path in sorted(directory.glob("*.toml")):
        try:
            st = path.stat()
        except OSError as exc:
            raise ConfigError(f"cannot read: {exc.strerror}", field=str(path)) from None
        signature.append((path.name, st.st_size, st.st_mtime_ns))
    return tuple(signature)


@lru_cache(maxsize=8)
def _load_with_extra(directory: str, signature: tuple[tuple[str, int, int], ...]) -> Catalogue:
    shipped = _load_shipped()
    by_code = {scale.code.casefold(): scale for scale in shipped}
    extra: list[Scale] = []
    for name, _size, _mtime in signature:
        scale = _load_file(Path(directory) / name, "extra")
        clash = by_code.get(scale.code.casefold())
        if clash is not None:
            where = f"the shipped {clash.code}" if clash.origin == "shipped" else f"{clash.path}"
            raise ConfigError(
                f"code: {scale.code} is already defined by {where}; give a local variant its own code",
                field=str(scale.path),
            )
        by_code[scale.code.casefold()] = scale
        extra.append(scale)
    return Catalogue(_sorted_unique([*shipped, *extra]))


def _sorted_unique(scales: list[Scale]) -> tuple[Scale, ...]:
    seen: dict[str, Scale] = {}
    for scale in scales:
        other = seen.get(scale.code.casefold())
        if other is not None:
            raise ConfigError(f"code: {scale.code} is already defined by {other.path}", field=str(scale.path))
        seen[scale.code.casefold()] = scale
    return tuple(sorted(scales, key=lambda s: s.code.casefold()))


def _load_file(path: Path, origin: Literal["shipped", "extra"]) -> Scale:
    where = str(path)
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", field=where) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"not UTF-8 text (byte {exc.start})", field=where) from None
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", field=where) from None
    return _Parser(where).scale(data, path, origin)


class _Parser:
    """Turns one file's TOML data into a ``Scale``; every complaint names the file and the key path."""

    def __init__(self, where: str) -> None:
        self.where = where

    def fail(self, key: str, problem: str) -> ConfigError:
        return ConfigError(f"{key}: {problem}", field=self.where)

    # --- primitives

    def known_keys(self, table: Mapping[str, Any], allowed: tuple[str, ...], prefix: str) -> None:
        for key in table:
            if key not in allowed:
                raise self.fail(f"{prefix}{key}", f"unknown key (expected one of {', '.join(allowed)})")

    def text(self, table: Mapping[str, Any], key: str, at: str, *, required: bool = True) -> str:
        value = table.get(key)
        if value is None:
            if required:
                raise self.fail(at, "is required")
            return ""
        if not isinstance(value, str):
            raise self.fail(at, "must be a string")
        value = value.strip()
        if required and not value:
            raise self.fail(at, "must not be empty")
        return value

    def integer(self, value: Any, at: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(at, "must be an integer")
        return value

    def table(self, value: Any, at: str) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            raise self.fail(at, "must be a table")
        return value

    def array(self, value: Any, at: str, *, non_empty: bool = True) -> list[Any]:
        if not isinstance(value, list):
            raise self.fail(at, "must be an array")
        if non_empty and not value:
            raise self.fail(at, "must not be empty")
        return value

    def item_ref(self, value: Any, at: str, known: Mapping[str, Item]) -> str:
        """An item id as written in a subscale or score: a string, or an integer for numbered items."""
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise self.fail(at, "must be an item id (a string)")
        ref = str(value)
        if ref not in known:
            raise self.fail(at, f"unknown item {ref!r}")
        return ref

    def item_refs(self, value: Any, at: str, known: Mapping[str, Item]) -> tuple[str, ...]:
        refs = tuple(self.item_ref(v, f"{at}[{i}]", known) for i, v in enumerate(self.array(value, at)))
        for i, ref in enumerate(refs):
            if ref in refs[:i]:
                raise self.fail(f"{at}[{i}]", f"item {ref!r} is listed twice")
        return refs

    # --- the parts of a scale

    def scale(self, data: Mapping[str, Any], path: Path, origin: Literal["shipped", "extra"]) -> Scale:
        self.known_keys(data, _SCALE_KEYS, "")
        code = self.text(data, "code", "code")
        if not _CODE_RE.fullmatch(code):
            raise self.fail("code", f"{code!r} must be letters, digits, '.', '_' or '-' (no spaces or commas)")
        if path.stem.casefold() != code.casefold():
            raise self.fail("code", f"{code!r} does not match the file name; name the file {code.lower()}.toml")
        name = self.text(data, "name", "name")
        version = data.get("version")
        if isinstance(version, bool) or not isinstance(version, str | int):
            raise self.fail("version", "is required" if version is None else 'must be a string, e.g. "2"')
        items = self.items(data.get("items"))
        known = {item.id: item for item in items}
        subscales = self.subscales(data.get("subscales", []), known)
        source = self.text(data, "source", "source")
        scoring = self.scoring(data.get("scoring"), known, {s.code: s for s in subscales}, source)
        return Scale(
            code=code,
            name=name,
            version=str(version).strip() or "?",
            source=source,
            items=items,
            subscales=subscales,
            scoring=scoring,
            copyright=self.text(data, "copyright", "copyright", required=False),
            notes=self.text(data, "notes", "notes", required=False),
            path=path,
            origin=origin,
        )

    def items(self, value: Any) -> tuple[Item, ...]:
        if value is None:
            raise self.fail("items", "is required")
        items: list[Item] = []
        for i, raw in enumerate(self.array(value, "items")):
            item = self.item(self.table(raw, f"items[{i}]"), f"items[{i}]")
            if any(other.id == item.id for other in items):
                raise self.fail(f"items[{i}].id", f"{item.id!r} is used by an earlier item")
            items.append(item)
        return tuple(items)

    def item(self, raw: Mapping[str, Any], at: str) -> Item:
        self.known_keys(raw, _ITEM_KEYS, f"{at}.")
        raw_id = raw.get("id")
        if raw_id is None:
            raise self.fail(f"{at}.id", "is required")
        if isinstance(raw_id, bool) or not isinstance(raw_id, str | int):
            raise self.fail(f"{at}.id", "must be a string")
        item_id = str(raw_id).strip()
        if not _ITEM_ID_RE.fullmatch(item_id):
            raise self.fail(f"{at}.id", f"{item_id!r} must be letters, digits, '.', '_' or '-'")
        choices: tuple[int, ...] | None = None
        if "values" in raw:
            if "min" in raw or "max" in raw:
                raise self.fail(f"{at}.values", "give either values or min and max, not both")
            listed = [
                self.integer(v, f"{at}.values[{j}]") for j, v in enumerate(self.array(raw["values"], f"{at}.values"))
            ]
            if len(set(listed)) != len(listed):
                raise self.fail(f"{at}.values", "lists a value twice")
            choices = tuple(sorted(listed))
            low, high = choices[0], choices[-1]
        else:
            for key in ("min", "max"):
                if key not in raw:
                    raise self.fail(f"{at}.{key}", "is required (or give values = [...])")
            low, high = self.integer(raw["min"], f"{at}.min"), self.integer(raw["max"], f"{at}.max")
            if low > high:
                raise self.fail(f"{at}.max", f"{high} is below min {low}")
        missing_allowed = raw.get("missing_allowed", False)
        if not isinstance(missing_allowed, bool):
            raise self.fail(f"{at}.missing_allowed", "must be true or false")
        missing_score: int | None = None
        if "missing_score" in raw:
            if not missing_allowed:
                raise self.fail(f"{at}.missing_score", "needs missing_allowed = true")
            missing_score = self.integer(raw["missing_score"], f"{at}.missing_score")
        return Item(
            id=item_id,
            min=low,
            max=high,
            choices=choices,
            missing_allowed=missing_allowed,
            missing_score=missing_score,
            label=self.text(raw, "label", f"{at}.label", required=False),
        )

    def subscales(self, value: Any, known: Mapping[str, Item]) -> tuple[Subscale, ...]:
        subscales: list[Subscale] = []
        for i, raw_any in enumerate(self.array(value, "subscales", non_empty=False)):
            at = f"subscales[{i}]"
            raw = self.table(raw_any, at)
            self.known_keys(raw, _SUBSCALE_KEYS, f"{at}.")
            code = self.text(raw, "code", f"{at}.code")
            if not _KEY_RE.fullmatch(code):
                raise self.fail(f"{at}.code", f"{code!r} must be snake_case (a-z, 0-9, _)")
            if any(s.code == code for s in subscales):
                raise self.fail(f"{at}.code", f"{code!r} is used by an earlier subscale")
            if "items" not in raw:
                raise self.fail(f"{at}.items", "is required")
            items = self.item_refs(raw["items"], f"{at}.items", known)
            subscales.append(Subscale(code=code, name=self.text(raw, "name", f"{at}.name"), items=items))
        return tuple(subscales)

    def scoring(
        self, value: Any, known: Mapping[str, Item], subscales: Mapping[str, Subscale], source: str
    ) -> tuple[ScoringRule, ...]:
        if value is None:
            raise self.fail("scoring", "is required: at least one [scoring.KEY] table")
        table = self.table(value, "scoring")
        if not table:
            raise self.fail("scoring", "must define at least one score as [scoring.KEY]")
        rules: dict[str, ScoringRule] = {}
        for key, raw_any in table.items():
            at = f"scoring.{key}"
            if not _KEY_RE.fullmatch(key):
                raise self.fail(at, f"score key {key!r} must be snake_case (a-z, 0-9, _)")
            raw = self.table(raw_any, at)
            self.known_keys(raw, _SCORE_KEYS, f"{at}.")
            rules[key] = self.rule(key, raw, at, known, subscales, rules, source)
        return tuple(rules.values())

    def rule(
        self,
        key: str,
        raw: Mapping[str, Any],
        at: str,
        known: Mapping[str, Item],
        subscales: Mapping[str, Subscale],
        earlier: Mapping[str, ScoringRule],
        source: str,
    ) -> ScoringRule:
        rule = raw.get("rule")
        if rule is None:
            raise self.fail(f"{at}.rule", f"is required (one of {', '.join(RULES)})")
        if rule not in RULES:
            raise self.fail(f"{at}.rule", f"unknown rule {rule!r} (expected one of {', '.join(RULES)})")
        allowed = {
            "value": {"item"},
            "mean_of_scores": {"of"},
        }.get(rule, {"subscale", "items"})
        for extra in ("subscale", "items", "item", "of"):
            if extra in raw and extra not in allowed:
                raise self.fail(f"{at}.{extra}", f"does not apply to rule {rule!r}")
        decimals = _DEFAULT_DECIMALS
        if "decimals" in raw:
            decimals = self.integer(raw["decimals"], f"{at}.decimals")
            if not 0 <= decimals <= _MAX_DECIMALS:
                raise self.fail(f"{at}.decimals", f"must be between 0 and {_MAX_DECIMALS}")
        items: tuple[str, ...] = ()
        of: tuple[str, ...] = ()
        subscale: str | None = None
        if rule in _ITEM_RULES:
            if "subscale" in raw and "items" in raw:
                raise self.fail(f"{at}.items", "give either subscale or items, not both")
            if "subscale" in raw:
                subscale = self.text(raw, "subscale", f"{at}.subscale")
                if subscale not in subscales:
                    raise self.fail(f"{at}.subscale", f"unknown subscale {subscale!r}")
                items = subscales[subscale].items
            elif "items" in raw:
                items = self.item_refs(raw["items"], f"{at}.items", known)
            else:
                items = tuple(known)
            self.check_item_rule(rule, items, known, at)
        elif rule == "value":
            if "item" not in raw:
                raise self.fail(f"{at}.item", "is required for rule 'value'")
            items = (self.item_ref(raw["item"], f"{at}.item", known),)
        else:
            if "of" not in raw:
                raise self.fail(f"{at}.of", "is required for rule 'mean_of_scores'")
            refs = self.array(raw["of"], f"{at}.of")
            for j, ref in enumerate(refs):
                if not isinstance(ref, str) or ref not in earlier:
                    raise self.fail(f"{at}.of[{j}]", f"{ref!r} is not a score defined above this one")
                if earlier[ref].kind == "str":
                    raise self.fail(f"{at}.of[{j}]", f"{ref!r} is not numeric")
            of = tuple(refs)
        return ScoringRule(
            key=key,
            rule=rule,
            items=items,
            of=of,
            subscale=subscale,
            decimals=decimals,
            label=self.text(raw, "label", f"{at}.label", required=False),
            source=self.text(raw, "source", f"{at}.source", required=False) or source,
        )

    def check_item_rule(self, rule: str, items: tuple[str, ...], known: Mapping[str, Item], at: str) -> None:
        """Reject rules that could not produce a number for every valid set of answers."""
        chosen = [known[i] for i in items]
        if rule == "profile":
            for item in chosen:
                extremes = [item.min, item.max]
                if item.missing_score is not None:
                    extremes.append(item.missing_score)
                if min(extremes) < 0 or max(extremes) > 9:
                    raise self.fail(at, f"item {item.id!r} allows answers outside 0-9; a profile needs one digit each")
        elif rule == "sum_transformed_0_100":
            low, high = sum_range(chosen)
            if high <= low:
                raise self.fail(at, "the items' answers cannot vary, so there is nothing to transform")
        elif rule == "percent_of_max" and (min(i.min for i in chosen) < 0 or sum(i.max for i in chosen) <= 0):
            raise self.fail(at, "percent_of_max needs answers of 0 or more and a positive maximum sum")


def sum_range(items: list[Item]) -> tuple[int, int]:
    """Lowest and highest possible sum; an allowed missing answer counts as its ``missing_score``."""
    low = high = 0
    for item in items:
        lo, hi = item.min, item.max
        if item.missing_score is not None:
            lo, hi = min(lo, item.missing_score), max(hi, item.missing_score)
        low, high = low + lo, high + hi
    return low, high


# --------------------------------------------------------------------------------------------------- display


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
