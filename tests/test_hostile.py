"""Hostile input, end to end: a table of values × fields × commands, each run as the installed ``per`` on SQLite
and PostgreSQL. Every case ends in the exit code it should, at most one line on stderr (``Error: …``, naming the
field), no traceback or "Exception ignored", no raw control character and no personnummer in the error, and
nothing half-written: the module ends by checking that no refused value reached the database.

One database per backend serves the whole module (the refusals leave it unchanged, which is the point).
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import stat
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy

from tests.conftest import PG_ENV, _pg_base
from tests.helpers.per import PER, TOLVAN
from tests.helpers.spreadsheets import row, xlsx_package

NEW = "198112289874"  # never enrolled by this module: every refused enrolment names it
UNIT = "NEURO-SU"
RAW_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")

HOSTILE = {
    "esc": ("\x1b[2J\x1b[31mröd", "U+001B"),
    "osc8": ("\x1b]8;;http://x.example\x1b\\klicka\x1b]8;;\x1b\\", "U+001B"),
    "tab": ("Åsa\tÖberg", "U+0009"),
    "newline": ("rad ett\nrad två", "U+000A"),
    "cr": ("rad\rny", "U+000D"),
    "bidi": ("abc\u202egnp.exe", "U+202E"),
    "isolate": ("x\u2066y", "U+2066"),
    "del": ("a\x7fb", "U+007F"),
    "c1": ("a\x9b31mb", "U+009B"),
}

#: a valid single enrolment of NEW; ``enrol(flag, value)`` replaces or adds one option
ENROL = {"--first-name": "Eva", "--last-name": "Ek", "--unit": UNIT}


def enrol(flag: str, value: str) -> list[str]:
    options = {**ENROL, flag: value}
    return ["patient", "enrol", NEW, *(x for pair in options.items() for x in pair)]


#: (name, argv with {} for the value, the flag the error names)
FIELDS = [
    ("enrol first name", enrol("--first-name", "{}"), "--first-name"),
    ("enrol last name", enrol("--last-name", "{}"), "--last-name"),
    ("enrol pal", enrol("--pal", "{}"), "--pal"),
    ("enrol comment", enrol("--comment", "{}"), "--comment"),
    ("edit comment", ["patient", "edit-profile", TOLVAN, "--comment", "{}"], "--comment"),
    ("edit pal", ["patient", "edit-profile", TOLVAN, "--pal", "{}"], "--pal"),
    ("edit last name", ["patient", "edit-profile", TOLVAN, "--last-name", "{}"], "--last-name"),
    ("exclusion reason", ["patient", "exclude", TOLVAN, "--reason", "{}"], "--reason"),
    ("unit name", ["unit", "add", "HOSTILE-1", "--name", "{}"], "--name"),
]


#: flags whose domain field has another name
DOMAIN = {"--reason": "exclusion_reason", "--on": "excluded_on"}


@dataclass
class World:
    backend: str
    env: dict[str, str]
    tmp: Path

    def run(self, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [PER, *args], input=input, capture_output=True, text=True, env=self.env, timeout=120, check=False
        )

    def refused(self, args: list[str], code: int = 1, flag: str | None = None) -> str:
        """Run a case that must be refused: one clean line, the exit code, the flag named."""
        result = self.run(*args)
        assert result.returncode == code, (args, result.stderr)
        assert result.stdout == ""
        clean(result.stderr)
        assert result.stderr.count("\n") == 1 and result.stderr.startswith("Error: "), result.stderr
        if flag:  # the flag as typed, or the domain field it sets
            names = {flag, flag[2:].replace("-", "_"), DOMAIN.get(flag, flag)}
            assert any(result.stderr.startswith(f"Error: {n}: ") for n in names), result.stderr
        return result.stderr


def clean(stderr: str) -> None:
    """No traceback, no "Exception ignored", no raw control character and no personnummer in what stderr got."""
    assert "Traceback" not in stderr and "Exception ignored" not in stderr, stderr
    assert RAW_CONTROL.search(stderr) is None, repr(stderr)
    for pnr in (NEW, "19811228-9874", "8112289874"):
        assert pnr not in stderr, stderr


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp(f"hostile-{request.param}")
    engine = None
    if request.param == "postgresql":
        if not os.environ.get(PG_ENV):
            pytest.skip(f"PostgreSQL tests need {PG_ENV}")
        schema = f"t_{uuid.uuid4().hex[:12]}"
        base = _pg_base()
        engine = sqlalchemy.create_engine(base, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        url = f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema}"
    else:
        url = f"sqlite:///{tmp / 'per.db'}"
    (tmp / "per.toml").write_text("")
    env = {**os.environ, "PER_DATABASE_URL": url, "PER_CONFIG": str(tmp / "per.toml"), "PER_ACTOR": "tester",
           "HOME": str(tmp)}  # fmt: skip
    w = World(request.param, env, tmp)
    assert w.run("db", "upgrade").returncode == 0  # a new SQLite path is created only by db upgrade
    assert w.run("unit", "add", UNIT, "--name", "Neurologi, Sahlgrenska").returncode == 0
    formula = '=HYPERLINK("http://x.example","klicka")'
    enrolled = w.run("patient", "enrol", TOLVAN, "--first-name", "Tolvan", "--last-name", "Tolvansson",
                     "--unit", UNIT, "--comment", formula, "--pal", "@SUM(1)")  # fmt: skip
    assert enrolled.returncode == 0, enrolled.stderr
    try:
        yield w
    finally:
        if engine is not None:
            with engine.connect() as conn:
                conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
            engine.dispose()


# --- 1. free text refuses control characters, naming the field and the character ---

NAMES = list(HOSTILE)
#: every field with two of the values (rotating), and the comment of an enrolment with all of them
CASES = [(*field, NAMES[(2 * i + k) % len(NAMES)]) for i, field in enumerate(FIELDS) for k in range(2)]
CASES += [(*FIELDS[3], v) for v in NAMES if (*FIELDS[3], v) not in CASES]


@pytest.mark.parametrize(("name", "args", "flag", "value"), CASES, ids=[f"{c[0]}-{c[3]}" for c in CASES])
def test_control_characters_are_refused(world: World, name: str, args: list[str], flag: str, value: str) -> None:
    text, code_point = HOSTILE[value]
    message = world.refused([a.replace("{}", text) for a in args], 1, flag)
    assert code_point in message


@pytest.mark.parametrize(
    ("args", "flag", "limit"),
    [
        (enrol("--first-name", "Å" * 201), "--first-name", 200),
        (["patient", "edit-profile", TOLVAN, "--comment", "ö" * 2001], "--comment", 2000),
        (["patient", "edit-profile", TOLVAN, "--pal", "p" * 201], "--pal", 200),
        (["unit", "add", "HOSTILE-2", "--name", "n" * 201], "--name", 200),
        (["unit", "add", "HOSTILE-3", "--name", "n" * 100_000], "--name", 200),
    ],
    ids=["first-name", "comment", "pal", "unit-name", "unit-name-100k"],
)  # fmt: skip
def test_lengths_are_limited_alike_on_both_backends(world: World, args: list[str], flag: str, limit: int) -> None:
    assert f"longer than {limit} characters" in world.refused(args, 1, flag)


def test_a_value_at_the_limit_is_stored_on_both_backends(world: World) -> None:
    result = world.run("unit", "add", "LONG-NAME", "--name", "å" * 200, "--format", "json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["name"] == "å" * 200


# --- 7. edge dates and periods: one line or a result, never a traceback ---


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (enrol("--registered-on", "0001-01-01"), "--registered-on"),
        (enrol("--registered-on", "1899-12-31"), "--registered-on"),
        (enrol("--registered-on", "9999-12-31"), "--registered-on"),
        (["patient", "exclude", TOLVAN, "--on", "0001-01-01"], "--on"),
        (["patient", "exclude", TOLVAN, "--on", "2999-01-01"], "--on"),
        (["audit", "list", "--since", "0001-01-01"], "--since"),
        (["audit", "list", "--until", "9999-12-31"], "--until"),
        (["audit", "list", "--since", "2026-02-30"], "--since"),
        (["audit", "list", "--since", "\x1b[2J"], "--since"),
        (["audit", "extract", TOLVAN, "--since", "0001-01-01"], "--since"),
        (["registration", "export", "--since", "0001-01-01"], "--since"),
        (["registration", "export", "--until", "99999-01-01"], "--until"),
    ],
    ids=["reg-0001", "reg-1899", "reg-9999", "excl-0001", "excl-2999", "since-0001", "until-9999", "since-feb30",
         "since-esc", "extract-0001", "export-0001", "export-99999"],
)  # fmt: skip
def test_edge_dates_are_one_line(world: World, args: list[str], flag: str) -> None:
    world.refused(args, 1, flag)


def test_wide_but_real_periods_work(world: World) -> None:
    result = world.run("audit", "list", "--since", "1900-01-01", "--until", "9000-12-31", "--format", "json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)


# --- 2, 3. output: spreadsheets neutralised, terminals escaped, JSON exact ---


def _legacy_control_data(world: World) -> None:
    """Data stored before these checks existed (or written around per): an ESC, a tab and a newline."""
    engine = sqlalchemy.create_engine(world.env["PER_DATABASE_URL"])
    with engine.begin() as conn:
        conn.execute(
            sqlalchemy.text("UPDATE patient SET last_name = :n WHERE personnummer = :p"),
            {"n": "Tolvansson\x1b[2J\tflik\nrad\u202e", "p": TOLVAN},
        )
    engine.dispose()


def test_outputs(world: World) -> None:
    _legacy_control_data(world)
    outputs = {f: world.run("patient", "list", "--format", f) for f in ("table", "plain", "tsv", "csv", "json")}
    for fmt, result in outputs.items():
        assert result.returncode == 0, result.stderr
        clean(result.stderr)
        if fmt in ("table", "plain"):  # for terminals; csv/tsv/json carry the data exactly (quoted, escaped)
            assert RAW_CONTROL.search(result.stdout) is None, (fmt, result.stdout)
    assert "Tolvansson\\x1b[2J\\tflik\\nrad\\u202e" in outputs["table"].stdout
    plain = outputs["plain"].stdout.splitlines()
    assert len(plain) == 1 and len(plain[0].split("\t")) == len(json.loads(outputs["json"].stdout)[0])
    (record,) = list(csv.DictReader(io.StringIO(outputs["csv"].stdout, newline="")))
    assert record["last_name"] == "Tolvansson\x1b[2J\tflik\nrad\u202e"  # CSV quotes; nothing is a formula
    (tsv,) = list(csv.DictReader(io.StringIO(outputs["tsv"].stdout, newline=""), delimiter="\t"))
    assert tsv == record
    exact = json.loads(outputs["json"].stdout)[0]
    assert exact["last_name"] == "Tolvansson\x1b[2J\tflik\nrad\u202e"
    shown = world.run("patient", "show", TOLVAN, "--format", "csv")
    (profile,) = list(csv.DictReader(io.StringIO(shown.stdout, newline="")))
    assert profile["comment"] == '\'=HYPERLINK("http://x.example","klicka")' and profile["pal"] == "'@SUM(1)"
    assert json.loads(world.run("patient", "show", TOLVAN, "--format", "json").stdout)["pal"] == "@SUM(1)"


@pytest.mark.parametrize("search", ["%", "_", "%%", "\\"])
def test_like_wildcards_are_literal(world: World, search: str) -> None:
    result = world.run("patient", "list", "--search", search, "--format", "json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []


# --- 1, 4, 5, 6. bulk files: a hostile row is a rejected row, the others are enrolled ---

BULK = [  # (personnummer, first name, last name, comment); the first and last are valid
    ("200808088801", "Märta", "Ängström", "=1+1"),
    ("197010632391", "Sam", "Ordning", "ring\x1b[2J"),
    ("195001011005", "Nul", "Byte", "a\x00b"),
    ("191212121212", "Tolvan", "Tolvansson", ""),
]


def test_bulk_text_file_with_hostile_rows(world: World) -> None:
    source = world.tmp / f"hostile-{uuid.uuid4().hex[:6]}.csv"
    source.write_bytes(
        ("personnummer,first_name,last_name,comment\n" + "".join(",".join(r) + "\n" for r in BULK)).encode()
    )
    rejects = world.tmp / "avvisade.csv"
    result = world.run("patient", "enrol", "--file", str(source), "--unit", UNIT, "--encoding", "utf-8",
                       "--on-existing", "skip", "--rejects", str(rejects), "--format", "json")  # fmt: skip
    assert result.returncode == 3, result.stderr
    clean(result.stderr)
    summary = json.loads(result.stdout)
    assert (summary["read"], summary["created"], summary["rejected"]) == (4, 1, 2)  # Tolvan: already there
    assert stat.S_IMODE(rejects.stat().st_mode) == 0o600
    text = rejects.read_text(encoding="utf-8-sig")
    assert "U+001B" in text and "comment" in text
    assert "=1+1" not in text  # the valid row is not there, and no formula is


def test_bulk_workbook_with_escapes_nul_and_a_long_cell(world: World) -> None:
    cells = ["197010632391", "Sam", "Ordning", "ring_x001B_[2J"], ["195001011005", "Nul", "Byte", "a_x0000_b"], \
        ["194007141007", "Lång", "Cell", "x" * 200_000]  # fmt: skip
    strings = ["personnummer", "first_name", "last_name", "comment"]
    body = row(1, *(f'<c r="{c}1" t="inlineStr"><is><t>{v}</t></is></c>' for c, v in zip("ABCD", strings, strict=True)))
    for n, values in enumerate(cells, start=2):
        body += row(
            n, *(f'<c r="{c}{n}" t="inlineStr"><is><t>{v}</t></is></c>' for c, v in zip("ABCD", values, strict=True))
        )
    source = xlsx_package(world.tmp / "hostile.xlsx", {"Blad1": body})
    result = world.run("patient", "enrol", "--file", str(source), "--unit", UNIT, "--dry-run")
    assert result.returncode == 3, result.stderr
    clean(result.stderr)
    lines = result.stderr.splitlines()
    assert any(line.startswith("line 2: comment: contains an escape character") for line in lines), lines
    assert any(line.startswith("line 3: comment: contains a NUL byte") for line in lines), lines
    assert any(line.startswith("line 4: ") and "131072" in line for line in lines), lines


# --- nothing half-written ---


def test_no_refused_value_reached_the_database(world: World) -> None:
    assert world.run("patient", "show", NEW).returncode == 1
    units = json.loads(world.run("unit", "list", "--format", "json").stdout)
    assert UNIT in {u["code"] for u in units} and not [u for u in units if u["code"].startswith("HOSTILE")]
    profile = json.loads(world.run("patient", "show", TOLVAN, "--format", "json").stdout)
    assert profile["comment"] == '=HYPERLINK("http://x.example","klicka")' and profile["excluded_on"] is None
    assert world.run("audit", "verify").returncode == 0
