"""Reading one scale file: TOML data turned into a ``Scale``, every complaint naming the file and the key path.

The file format and the rule vocabulary are described in ``README.md`` beside this module.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final, Literal

from per_cli.errors import ConfigError
from per_cli.scales.model import DEFAULT_DECIMALS, RULES, Item, Scale, ScoringRule, Subscale, sum_range

#: rules that read item answers over a subscale, an item list or (by default) all items
_ITEM_RULES: Final = frozenset({"sum", "sum_transformed_0_100", "percent_of_max", "profile"})


_CODE_RE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")  # no commas or spaces: codes travel in lists
_KEY_RE: Final = re.compile(r"[a-z][a-z0-9_]*")  # score keys become JSON keys and column names
_ITEM_ID_RE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_MAX_DECIMALS: Final = 6

_SCALE_KEYS: Final = ("code", "name", "version", "source", "copyright", "notes", "items", "subscales", "scoring")
_ITEM_KEYS: Final = ("id", "label", "min", "max", "values", "missing_allowed", "missing_score")
_SUBSCALE_KEYS: Final = ("code", "name", "items")
_SCORE_KEYS: Final = ("rule", "label", "subscale", "items", "item", "of", "decimals", "source")


def load_file(path: Path, origin: Literal["shipped", "extra"]) -> Scale:
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
    return ScaleParser(where).scale(data, path, origin)


class ScaleParser:
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
        decimals = DEFAULT_DECIMALS
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
