"""The shipped catalogue's content, look-ups, the extra directory and every kind of invalid file."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from per_cli.config import Config
from per_cli.errors import ConfigError, InvalidInput, NotFound
from per_cli.scales.catalogue import SHIPPED_DIR, catalogue_for, extra_dir_for, load_catalogue
from per_cli.scales.display import scale_detail, scale_rows
from tests.helpers.scales import WriteScale

SHIPPED = ["EQ-5D-5L", "HADS", "MG-ADL", "MSIS-29", "MSWS-12", "PDQ-39"]


# ------------------------------------------------------------------------------------------ shipped data


def test_shipped_codes() -> None:
    assert load_catalogue(None).codes() == SHIPPED


def test_get_ignores_case_and_spaces() -> None:
    catalogue = load_catalogue(None)
    assert catalogue.get("msis-29").code == "MSIS-29"
    assert catalogue.get(" Pdq-39 ").code == "PDQ-39"
    assert "eq-5d-5l" in catalogue
    assert "EQ-5D-3L" not in catalogue


def test_unknown_code_lists_known_codes() -> None:
    with pytest.raises(NotFound) as exc:
        load_catalogue(None).get("EQ-5D-3L")
    assert str(exc.value) == "unknown scale 'EQ-5D-3L'; known scales: EQ-5D-5L, HADS, MG-ADL, MSIS-29, MSWS-12, PDQ-39"


def test_get_many() -> None:
    catalogue = load_catalogue(None)
    assert [s.code for s in catalogue.get_many("msis-29, EQ-5D-5L")] == ["MSIS-29", "EQ-5D-5L"]
    assert [s.code for s in catalogue.get_many(["hads"])] == ["HADS"]


@pytest.mark.parametrize(
    ("codes", "error", "message"),
    [
        ("MSIS-29,", InvalidInput, "scales: an empty scale code in the list"),
        ("", InvalidInput, "scales: an empty scale code in the list"),
        ([], InvalidInput, "scales: name at least one scale"),
        ("MSIS-29,msis-29", InvalidInput, "scales: MSIS-29 is named twice"),
        (
            "HADS,SF-36",
            NotFound,
            "unknown scale 'SF-36'; known scales: EQ-5D-5L, HADS, MG-ADL, MSIS-29, MSWS-12, PDQ-39",
        ),
    ],
)
def test_get_many_rejects(codes: str | list[str], error: type[Exception], message: str) -> None:
    with pytest.raises(error) as exc:
        load_catalogue(None).get_many(codes)
    assert str(exc.value) == message


def test_loading_is_cached() -> None:
    assert load_catalogue(None) is load_catalogue(None)


def test_msis29_structure() -> None:
    msis = load_catalogue(None).get("MSIS-29")
    assert msis.version == "2"
    assert [(i.id, i.min, i.max) for i in msis.items] == [(str(n), 1, 4) for n in range(1, 30)]
    subscales = {s.code: s.items for s in msis.subscales}
    assert subscales == {
        "physical": tuple(str(n) for n in range(1, 21)),
        "psychological": tuple(str(n) for n in range(21, 30)),
    }
    assert msis.score_keys == ("physical_raw", "physical", "psychological_raw", "psychological")


def test_pdq39_domains() -> None:
    pdq = load_catalogue(None).get("PDQ-39")
    assert all((i.min, i.max) == (0, 4) for i in pdq.items)
    expected = {
        "mobility": (1, 10),
        "adl": (11, 16),
        "emotional_wellbeing": (17, 22),
        "stigma": (23, 26),
        "social_support": (27, 29),
        "cognition": (30, 33),
        "communication": (34, 36),
        "bodily_discomfort": (37, 39),
    }
    assert {s.code: s.items for s in pdq.subscales} == {
        code: tuple(str(n) for n in range(lo, hi + 1)) for code, (lo, hi) in expected.items()
    }
    assert [i.id for i in pdq.items if i.missing_allowed] == ["28"]
    assert pdq.score_keys == (*expected, "pdq39_si")


def test_hads_odd_items_are_anxiety() -> None:
    hads = load_catalogue(None).get("HADS")
    assert len(hads.items) == 14
    assert {s.code: s.items for s in hads.subscales} == {
        "anxiety": ("1", "3", "5", "7", "9", "11", "13"),
        "depression": ("2", "4", "6", "8", "10", "12", "14"),
    }


def test_eq5d5l_structure() -> None:
    eq = load_catalogue(None).get("EQ-5D-5L")
    assert [(i.id, i.min, i.max) for i in eq.items] == [
        ("MO", 1, 5), ("SC", 1, 5), ("UA", 1, 5), ("PD", 1, 5), ("AD", 1, 5), ("VAS", 0, 100),
    ]  # fmt: skip
    assert eq.score_keys == ("profile", "vas")
    assert "value set" in eq.notes


@pytest.mark.parametrize("code", SHIPPED)
def test_every_shipped_rule_cites_a_source(code: str) -> None:
    scale = load_catalogue(None).get(code)
    assert len(scale.source) > 40
    assert all(rule.source for rule in scale.scoring)
    assert scale.copyright
    assert scale.origin == "shipped"


@pytest.mark.parametrize("path", sorted(SHIPPED_DIR.glob("*.toml")), ids=lambda p: p.name)
def test_shipped_files_carry_no_item_texts(path: Path) -> None:
    """Only ids, ranges and (for EQ-5D) short dimension names: no questionnaire wording."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    for item in data["items"]:
        assert set(item) <= {"id", "min", "max", "values", "missing_allowed", "missing_score", "label"}
        assert len(item.get("label", "")) <= 25


def test_scale_rows() -> None:
    rows = scale_rows(load_catalogue(None))
    assert [r["code"] for r in rows] == SHIPPED
    assert rows[3] == {
        "code": "MSIS-29",
        "name": "Multiple Sclerosis Impact Scale (29 items)",
        "version": "2",
        "items": 29,
        "scores": 4,
        "origin": "shipped",
    }


def test_scale_detail() -> None:
    detail = scale_detail(load_catalogue(None).get("MSIS-29"))
    assert detail["code"] == "MSIS-29"
    assert detail["items"][0] == {
        "id": "1",
        "label": "",
        "answers": "1–4",
        "missing_allowed": False,
        "missing_score": None,
    }
    assert detail["subscales"][1] == {
        "code": "psychological",
        "name": "Psychological impact",
        "items": [str(n) for n in range(21, 30)],
    }
    scores = {s["key"]: s for s in detail["scores"]}
    assert (scores["physical_raw"]["range"], scores["physical_raw"]["decimals"]) == ("20–80", None)
    assert (scores["psychological_raw"]["range"], scores["psychological"]["range"]) == ("9–36", "0–100")
    assert scores["physical"]["decimals"] == 1
    assert scores["physical"]["source"].startswith("Hobart J")


def test_scale_detail_ranges_of_other_rules() -> None:
    catalogue = load_catalogue(None)
    eq = {s["key"]: s for s in scale_detail(catalogue.get("EQ-5D-5L"))["scores"]}
    assert (eq["profile"]["range"], eq["vas"]["range"], eq["vas"]["reads"]) == ("11111–55555", "0–100", "item VAS")
    pdq = {s["key"]: s for s in scale_detail(catalogue.get("PDQ-39"))["scores"]}
    assert (pdq["social_support"]["range"], pdq["pdq39_si"]["range"]) == ("0–100", "0–100")
    assert pdq["pdq39_si"]["reads"] == "8 scores: mobility … bodily_discomfort"
    mg = scale_detail(catalogue.get("MG-ADL"))["scores"][0]
    assert (mg["range"], mg["reads"]) == ("0–24", "all items")


def test_catalogue_module_imports_nothing_heavy() -> None:
    """TAB completion loads the catalogue: neither click nor SQLAlchemy may come with it."""
    code = (
        "import sys; from per_cli.scales.catalogue import load_catalogue; load_catalogue(None); "
        "print(sorted(m for m in ('click', 'sqlalchemy', 'per_cli.scales.scoring') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# ------------------------------------------------------------------------------------------- extra dir


def test_extra_dir_adds_a_scale(write_scale: WriteScale, extra_dir: Path) -> None:
    path = write_scale()
    (extra_dir / "README.txt").write_text("ignored")
    catalogue = load_catalogue(extra_dir)
    assert catalogue.codes() == ["EQ-5D-5L", "HADS", "LOCAL-1", "MG-ADL", "MSIS-29", "MSWS-12", "PDQ-39"]
    local = catalogue.get("local-1")
    assert (local.origin, local.path, local.version) == ("extra", path, "1")
    assert local.item("d").choices == (0, 1, 3)
    assert local.item("d").answers_text == "0, 1, 3"
    assert load_catalogue(None).codes() == SHIPPED  # the shipped catalogue is untouched


def test_extra_dir_empty(extra_dir: Path) -> None:
    assert load_catalogue(extra_dir).codes() == SHIPPED


def test_extra_dir_is_reread_when_a_file_changes(write_scale: WriteScale, extra_dir: Path, valid_toml: str) -> None:
    write_scale()
    first = load_catalogue(extra_dir)
    assert load_catalogue(extra_dir) is first
    write_scale(valid_toml.replace('name = "Local test scale"', 'name = "Renamed local scale, longer"'))
    assert load_catalogue(extra_dir).get("LOCAL-1").name == "Renamed local scale, longer"


def test_items_as_array_of_tables_and_integer_ids(write_scale: WriteScale, extra_dir: Path) -> None:
    write_scale(
        'code = "NUM"\nname = "Numbered"\nversion = 3\nsource = "Invented."\n'
        "[[items]]\nid = 1\nmin = 0\nmax = 1\n[[items]]\nid = 2\nmin = 0\nmax = 1\n"
        '[[subscales]]\ncode = "both"\nname = "Both"\nitems = [1, 2]\n'
        '[scoring.both]\nrule = "sum"\nsubscale = "both"\n',
        "num.toml",
    )
    scale = load_catalogue(extra_dir).get("NUM")
    assert (scale.version, [i.id for i in scale.items], scale.subscales[0].items) == ("3", ["1", "2"], ("1", "2"))


def test_missing_extra_dir(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as exc:
        load_catalogue(tmp_path / "nope")
    assert str(exc.value) == (
        f"extra scale directory {tmp_path / 'nope'} does not exist (see [scales] extra_dir or PER_SCALES_DIR)"
    )


def test_extra_dir_that_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(ConfigError, match="is not a directory"):
        load_catalogue(tmp_path / "file")


def test_extra_file_may_not_reuse_a_shipped_code(write_scale: WriteScale, extra_dir: Path, valid_toml: str) -> None:
    path = write_scale(
        valid_toml.replace('"LOCAL-1"', '"msis-29"').replace('version = "1"', 'version = "3"'), "msis-29.toml"
    )
    with pytest.raises(ConfigError) as exc:
        load_catalogue(extra_dir)
    assert str(exc.value) == (
        f"{path}: code: msis-29 is already defined by the shipped MSIS-29; give a local variant its own code"
    )


def test_two_extra_files_with_one_code(write_scale: WriteScale, extra_dir: Path, valid_toml: str) -> None:
    first = write_scale(valid_toml, "LOCAL-1.toml")
    second = write_scale(valid_toml.replace('"LOCAL-1"', '"local-1"'), "local-1.toml")
    with pytest.raises(ConfigError) as exc:
        load_catalogue(extra_dir)
    assert str(exc.value) == f"{second}: code: local-1 is already defined by {first}; give a local variant its own code"


ITEMS = """\
items = [
  { id = "a", min = 0, max = 2 },
  { id = "b", min = 0, max = 2 },
  { id = "c", min = 0, max = 2 },
  { id = "d", values = [0, 1, 3] },
]"""

# One case per kind of invalid file: what to replace in the valid file (one string or a tuple of them), by
# what, and the expected message after the file name.
INVALID = [
    ("not toml", 'name = "Local test scale"', 'name = "unterminated', "not valid TOML: "),
    ("no code", 'code = "LOCAL-1"\n', "", "code: is required"),
    ("code not string", 'code = "LOCAL-1"', "code = 1", "code: must be a string"),
    (
        "code with comma",
        'code = "LOCAL-1"',
        'code = "LOCAL,1"',
        "code: 'LOCAL,1' must be letters, digits, '.', '_' or '-' (no spaces or commas)",
    ),
    (
        "code vs file name",
        'code = "LOCAL-1"',
        'code = "LOCAL-2"',
        "code: 'LOCAL-2' does not match the file name; name the file local-2.toml",
    ),
    (
        "unknown key",
        'version = "1"',
        'version = "1"\nauthor = "x"',
        "author: unknown key (expected one of code, name, version, source, copyright, notes, items, subscales, "
        "scoring)",
    ),
    ("no name", 'name = "Local test scale"\n', "", "name: is required"),
    ("empty name", 'name = "Local test scale"', 'name = "  "', "name: must not be empty"),
    ("no version", 'version = "1"\n', "", "version: is required"),
    ("float version", 'version = "1"', "version = 1.5", 'version: must be a string, e.g. "2"'),
    ("no source", 'source = "Invented for the tests."\n', "", "source: is required"),
    ("no items", ITEMS, "", "items: is required"),
    ("items not array", ITEMS, 'items = "abc"', "items: must be an array"),
    ("items empty", ITEMS, "items = []", "items: must not be empty"),
    ("item not table", '{ id = "a", min = 0, max = 2 }', '"a"', "items[0]: must be a table"),
    (
        "item max not integer",
        '{ id = "d", values = [0, 1, 3] }',
        '{ id = "d", min = 0, max = "3" }',
        "items[3].max: must be an integer",
    ),
    (
        "item min bool",
        '{ id = "a", min = 0, max = 2 }',
        '{ id = "a", min = true, max = 2 }',
        "items[0].min: must be an integer",
    ),
    (
        "item max missing",
        '{ id = "a", min = 0, max = 2 }',
        '{ id = "a", min = 0 }',
        "items[0].max: is required (or give values = [...])",
    ),
    (
        "item min above max",
        '{ id = "a", min = 0, max = 2 }',
        '{ id = "a", min = 3, max = 2 }',
        "items[0].max: 2 is below min 3",
    ),
    (
        "item values and range",
        '{ id = "d", values = [0, 1, 3] }',
        '{ id = "d", values = [0, 1], min = 0 }',
        "items[3].values: give either values or min and max, not both",
    ),
    (
        "item values twice",
        '{ id = "d", values = [0, 1, 3] }',
        '{ id = "d", values = [0, 1, 1] }',
        "items[3].values: lists a value twice",
    ),
    (
        "item values empty",
        '{ id = "d", values = [0, 1, 3] }',
        '{ id = "d", values = [] }',
        "items[3].values: must not be empty",
    ),
    (
        "item values not int",
        '{ id = "d", values = [0, 1, 3] }',
        '{ id = "d", values = [0, "1"] }',
        "items[3].values[1]: must be an integer",
    ),
    ("item without id", '{ id = "a", min = 0, max = 2 }', "{ min = 0, max = 2 }", "items[0].id: is required"),
    (
        "item bad id",
        '{ id = "a", min = 0, max = 2 }',
        '{ id = "a b", min = 0, max = 2 }',
        "items[0].id: 'a b' must be letters, digits, '.', '_' or '-'",
    ),
    (
        "item id twice",
        '{ id = "b", min = 0, max = 2 }',
        '{ id = "a", min = 0, max = 2 }',
        "items[1].id: 'a' is used by an earlier item",
    ),
    (
        "item text",
        '{ id = "a", min = 0, max = 2 }',
        '{ id = "a", min = 0, max = 2, text = "How are you?" }',
        "items[0].text: unknown key (expected one of id, label, min, max, values, missing_allowed, missing_score)",
    ),
    (
        "missing_allowed not bool",
        '{ id = "a", min = 0, max = 2 }',
        '{ id = "a", min = 0, max = 2, missing_allowed = "yes" }',
        "items[0].missing_allowed: must be true or false",
    ),
    (
        "missing_score alone",
        '{ id = "a", min = 0, max = 2 }',
        '{ id = "a", min = 0, max = 2, missing_score = 0 }',
        "items[0].missing_score: needs missing_allowed = true",
    ),
    ("subscale unknown item", 'items = ["a", "b"]', 'items = ["a", "z"]', "subscales[0].items[1]: unknown item 'z'"),
    (
        "subscale item twice",
        'items = ["a", "b"]',
        'items = ["a", "a"]',
        "subscales[0].items[1]: item 'a' is listed twice",
    ),
    ("subscale without items", 'items = ["a", "b"]', "", "subscales[0].items: is required"),
    (
        "subscale code case",
        'code = "first"',
        'code = "First"',
        "subscales[0].code: 'First' must be snake_case (a-z, 0-9, _)",
    ),
    (
        "subscale twice",
        "[scoring.total]",
        '[[subscales]]\ncode = "first"\nname = "Again"\nitems = ["c"]\n\n[scoring.total]',
        "subscales[1].code: 'first' is used by an earlier subscale",
    ),
    (
        "no scoring",
        '[scoring.total]\nrule = "sum"\n\n[scoring.first]\nrule = "sum_transformed_0_100"\nsubscale = "first"\n',
        "",
        "scoring: is required: at least one [scoring.KEY] table",
    ),
    (
        "scoring not tables",
        "[scoring.total]",
        "[scoring]\nround = 1\n[scoring.total]",
        "scoring.round: must be a table",
    ),
    (
        "score key case",
        "[scoring.total]",
        "[scoring.Total]",
        "scoring.Total: score key 'Total' must be snake_case (a-z, 0-9, _)",
    ),
    (
        "no rule",
        'rule = "sum"\n',
        "",
        "scoring.total.rule: is required (one of sum, sum_transformed_0_100, percent_of_max, mean_of_scores, "
        "profile, value)",
    ),
    (
        "unknown rule",
        'rule = "sum"',
        'rule = "avg"',
        "scoring.total.rule: unknown rule 'avg' (expected one of sum, sum_transformed_0_100, percent_of_max, "
        "mean_of_scores, profile, value)",
    ),
    (
        "unknown score key",
        'rule = "sum"',
        'rule = "sum"\nweight = 2',
        "scoring.total.weight: unknown key (expected one of rule, label, subscale, items, item, of, decimals, source)",
    ),
    (
        "unknown subscale",
        'subscale = "first"',
        'subscale = "second"',
        "scoring.first.subscale: unknown subscale 'second'",
    ),
    (
        "subscale and items",
        'subscale = "first"',
        'subscale = "first"\nitems = ["a"]',
        "scoring.first.items: give either subscale or items, not both",
    ),
    ("score unknown item", 'subscale = "first"', 'items = ["a", "q"]', "scoring.first.items[1]: unknown item 'q'"),
    (
        "key not for rule",
        'rule = "sum"',
        'rule = "sum"\nof = ["first"]',
        "scoring.total.of: does not apply to rule 'sum'",
    ),
    ("value without item", 'rule = "sum"', 'rule = "value"', "scoring.total.item: is required for rule 'value'"),
    ("value unknown item", 'rule = "sum"', 'rule = "value"\nitem = "q"', "scoring.total.item: unknown item 'q'"),
    (
        "mean without of",
        'rule = "sum"',
        'rule = "mean_of_scores"',
        "scoring.total.of: is required for rule 'mean_of_scores'",
    ),
    (
        "mean of later score",
        'rule = "sum"',
        'rule = "mean_of_scores"\nof = ["first"]',
        "scoring.total.of[0]: 'first' is not a score defined above this one",
    ),
    (
        "mean of profile",
        ('rule = "sum"', 'rule = "sum_transformed_0_100"\nsubscale = "first"'),
        ('rule = "profile"', 'rule = "mean_of_scores"\nof = ["total"]'),
        "scoring.first.of[0]: 'total' is not numeric",
    ),
    (
        "profile of two digits",
        ('rule = "sum"', '{ id = "c", min = 0, max = 2 }'),
        ('rule = "profile"', '{ id = "c", min = 0, max = 10 }'),
        "scoring.total: item 'c' allows answers outside 0-9; a profile needs one digit each",
    ),
    (
        "transform of a constant",
        ('{ id = "a", min = 0, max = 2 }', '{ id = "b", min = 0, max = 2 }'),
        ('{ id = "a", values = [1] }', '{ id = "b", min = 2, max = 2 }'),
        "scoring.first: the items' answers cannot vary, so there is nothing to transform",
    ),
    (
        "percent of a negative range",
        ('{ id = "a", min = 0, max = 2 }', 'rule = "sum_transformed_0_100"'),
        ('{ id = "a", min = -2, max = 2 }', 'rule = "percent_of_max"'),
        "scoring.first: percent_of_max needs answers of 0 or more and a positive maximum sum",
    ),
    (
        "decimals too many",
        'subscale = "first"',
        'subscale = "first"\ndecimals = 9',
        "scoring.first.decimals: must be between 0 and 6",
    ),
    (
        "decimals not int",
        'subscale = "first"',
        'subscale = "first"\ndecimals = "1"',
        "scoring.first.decimals: must be an integer",
    ),
    (
        "source not string",
        'subscale = "first"',
        'subscale = "first"\nsource = 1',
        "scoring.first.source: must be a string",
    ),
]


@pytest.mark.parametrize(("old", "new", "message"), [c[1:] for c in INVALID], ids=[c[0] for c in INVALID])
def test_invalid_extra_file(
    write_scale: WriteScale,
    extra_dir: Path,
    valid_toml: str,
    old: str | tuple[str, ...],
    new: str | tuple[str, ...],
    message: str,
) -> None:
    text = valid_toml
    for before, after in zip(*((old,), (new,)) if isinstance(old, str) else (old, new), strict=True):
        assert before in text
        text = text.replace(before, after, 1)
    path = write_scale(text)
    with pytest.raises(ConfigError) as exc:
        load_catalogue(extra_dir)
    assert str(exc.value).startswith(f"{path}: {message}")
    if not message.startswith("not valid TOML"):
        assert str(exc.value) == f"{path}: {message}"


def test_an_error_names_the_file_the_key_and_the_reason(
    write_scale: WriteScale, extra_dir: Path, valid_toml: str
) -> None:
    """FILE: items[3].max: must be an integer."""
    path = write_scale(valid_toml.replace('{ id = "d", values = [0, 1, 3] }', '{ id = "d", min = 0, max = 3.5 }'))
    with pytest.raises(ConfigError) as exc:
        load_catalogue(extra_dir)
    assert str(exc.value) == f"{path}: items[3].max: must be an integer"


def test_not_utf8(write_scale: WriteScale, extra_dir: Path) -> None:
    path = extra_dir / "local-1.toml"
    path.write_bytes(b'code = "LOCAL-1"\nname = "\xff"\n')
    with pytest.raises(ConfigError) as exc:
        load_catalogue(extra_dir)
    assert str(exc.value) == f"{path}: not UTF-8 text (byte 25)"


# --------------------------------------------------------------------------------------- where it comes from


class _App:
    def __init__(self, config: Config) -> None:
        self.config = config


def test_extra_dir_without_app_uses_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert extra_dir_for(None) is None
    monkeypatch.setenv("PER_SCALES_DIR", str(tmp_path))
    assert extra_dir_for(None) == tmp_path


def test_extra_dir_from_config_is_relative_to_the_config_file(tmp_path: Path) -> None:
    config = Config(data={"scales": {"extra_dir": "local-scales"}}, path=tmp_path / "per.toml", environ={})
    assert extra_dir_for(_App(config)) == tmp_path / "local-scales"
    absolute = Config(data={"scales": {"extra_dir": "/srv/scales"}}, path=tmp_path / "per.toml", environ={})
    assert extra_dir_for(_App(absolute)) == Path("/srv/scales")


def test_extra_dir_expands_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    config = Config(data={"scales": {"extra_dir": "~/scales"}}, path=None, environ={})
    assert extra_dir_for(_App(config)) == tmp_path / "scales"


def test_environment_wins_over_config_file(tmp_path: Path) -> None:
    config = Config(
        data={"scales": {"extra_dir": "from-file"}}, path=tmp_path / "per.toml", environ={"PER_SCALES_DIR": "rel"}
    )
    assert extra_dir_for(_App(config)) == Path("rel")  # relative to the working directory, like any env path


def test_no_extra_dir_configured(tmp_path: Path) -> None:
    assert extra_dir_for(_App(Config(data={}, path=tmp_path / "per.toml", environ={}))) is None


def test_extra_dir_must_be_a_string(tmp_path: Path) -> None:
    config = Config(data={"scales": {"extra_dir": 5}}, path=tmp_path / "per.toml", environ={})
    with pytest.raises(ConfigError) as exc:
        extra_dir_for(_App(config))
    assert str(exc.value) == f"{tmp_path / 'per.toml'}: [scales] extra_dir: must be a path (a string)"


def test_catalogue_for_app(write_scale: WriteScale, extra_dir: Path) -> None:
    write_scale()
    config = Config(data={"scales": {"extra_dir": str(extra_dir)}}, path=None, environ={})
    assert "LOCAL-1" in catalogue_for(_App(config))
    assert "LOCAL-1" not in catalogue_for(None)


def test_env_var_name_is_documented() -> None:
    readme = (SHIPPED_DIR.parent / "README.md").read_text(encoding="utf-8")
    assert "PER_SCALES_DIR" in readme and "extra_dir" in readme
