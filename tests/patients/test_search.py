"""Finding patients as Swedes write them, and listing them in Swedish order, on both backends."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import sqlalchemy as sa

from per_cli.db import schema
from per_cli.db.engine import make_engine
from per_cli.patients.search import search_columns, search_terms, sort_key
from tests.helpers.enrolment_rows import personnummer
from tests.helpers.per import RunPer

#: (first name, last name), in the Swedish order of last name, then first name
PEOPLE = [
    ("Anna", "Andersson"),
    ("Bo", "Berg"),
    ("Björn", "Berg-Larsson"),
    ("Renée", "Éklund"),
    ("Jürgen", "Müller"),
    ("Olle", "Olsson"),
    ("Ylva", "Yngve"),
    ("Zoltan", "Zetterberg"),
    ("Åsa", "Åström"),
    ("Ärla", "Ängström"),
    ("Östen", "Öberg"),
]
PNRS = [personnummer(random.Random(i)) for i in range(len(PEOPLE))]
OSTEN = PNRS[-1]
OSTEN_MOBILE = "070-174 06 05"


@pytest.fixture
def people(per: RunPer, unit: str, tmp_path: Path) -> None:
    """The people above, by bulk enrolment in shuffled order; Östen with a mobile and e-mail, Anna an e-mail."""
    lines = ["personnummer;förnamn;efternamn;mobiltelefon;e-post"]
    order = list(range(len(PEOPLE)))
    random.Random(7).shuffle(order)
    for i in order:
        first, last = PEOPLE[i]
        mobile, email = (OSTEN_MOBILE, "Kontakt.OB@Example.se") if PNRS[i] == OSTEN else ("", "")
        lines.append(f"{PNRS[i]};{first};{last};{mobile};{email or ('anna_a@example.se' if i == 0 else '')}")
    path = tmp_path / "people.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = per("patient", "enrol", "--file", str(path), "--unit", unit)
    assert result.exit_code == 0, result.stderr


def _names(per: RunPer, *args: str) -> list[str]:
    result = per("patient", "list", *args, "--format", "json")
    assert result.exit_code == 0, result.stderr
    return [f"{r['first_name']} {r['last_name']}" for r in json.loads(result.stdout)]


def test_listed_in_swedish_order(per: RunPer, people: None) -> None:
    assert _names(per) == [f"{f} {s}" for f, s in PEOPLE]


@pytest.mark.parametrize(
    ("query", "found"),
    [
        ("Östen", ["Östen Öberg"]),
        ("östen", ["Östen Öberg"]),
        ("ÖSTEN", ["Östen Öberg"]),
        ("osten", []),  # å, ä, ö are letters of their own
        ("åström", ["Åsa Åström"]),
        ("Åsa", ["Åsa Åström"]),
        ("öberg", ["Östen Öberg"]),
        ("berg", ["Bo Berg", "Björn Berg-Larsson", "Zoltan Zetterberg", "Östen Öberg"]),
        ("åsa åström", ["Åsa Åström"]),  # every word must match
        ("åsa öberg", []),
        ("renee", ["Renée Éklund"]),  # other accents may be left out …
        ("RENÉE", ["Renée Éklund"]),
        ("muller", ["Jürgen Müller"]),
        ("KONTAKT.ob@example", ["Östen Öberg"]),
        ("0701740605", ["Östen Öberg"]),  # … and a number is its digits however it is written
        ("070-174 06 05", ["Östen Öberg"]),
        ("+46 70 174 06 05", ["Östen Öberg"]),
        ("+46701740605", ["Östen Öberg"]),
        ("0046 70 174", ["Östen Öberg"]),
        ("174 06", ["Östen Öberg"]),
        (f"{OSTEN[2:8]}-{OSTEN[8:]}", ["Östen Öberg"]),
        (OSTEN[:8], ["Östen Öberg"]),
        ("%", []),  # LIKE's wildcards match only themselves
        ("_", ["Anna Andersson"]),  # the one e-mail address with one
        ("a_a", ["Anna Andersson"]),
    ],
)
def test_search(per: RunPer, people: None, query: str, found: list[str]) -> None:
    assert _names(per, "--search", query) == found


def test_showing_n_of_m_and_no_match(per: RunPer, people: None) -> None:
    cut = per("patient", "list", "--limit", "3")
    assert cut.exit_code == 0
    assert cut.stderr == "showing 3 of 11 (--limit 11 shows all)\n"
    assert [line.split()[1] for line in cut.stdout.splitlines()[2:]] == ["Anna", "Bo", "Björn"]
    assert per("patient", "list", "--search", "berg", "--limit", "1").stderr == "showing 1 of 4 (--limit 4 shows all)\n"
    assert per("patient", "list", "--limit", "11").stderr == ""
    none = per("patient", "list", "--search", "Östen Åsa", "--format", "csv")
    assert (none.exit_code, none.stderr) == (0, "no patients match\n")


def test_every_writer_keeps_the_search_current(per: RunPer, people: None, unit: str, tmp_path: Path) -> None:
    olle = PNRS[PEOPLE.index(("Olle", "Olsson"))]
    edited = per("patient", "edit-profile", olle, "--last-name", "Ödman", "--mobile", "+46 73 123 45 67")
    assert edited.exit_code == 0, edited.stderr
    assert _names(per, "--search", "ödman") == ["Olle Ödman"]
    assert _names(per, "--search", "olsson") == []
    assert _names(per, "--search", "073-123 45 67") == ["Olle Ödman"]
    assert _names(per)[-2:] == ["Östen Öberg", "Olle Ödman"]  # Öb before Öd, after Å and Ä
    path = tmp_path / "update.csv"
    path.write_text(f"personnummer;förnamn;efternamn;e-post\n{olle};Olle;Åman;olle@example.se\n", encoding="utf-8")
    updated = per("patient", "enrol", "--file", str(path), "--on-existing", "update", "--unit", unit)
    assert updated.exit_code == 0, updated.stderr
    assert _names(per, "--search", "olle@example") == ["Olle Åman"]
    assert _names(per, "--search", "ödman") == []
    assert _names(per, "--search", "0731234567") == ["Olle Åman"]  # the mobile the file left empty is kept
    enrolled = per("patient", "enrol", "191212121212", "--first-name", "Tolvan", "--last-name", "Tolvansson")
    assert enrolled.exit_code == 2  # no unit: nothing written
    single = per("patient", "enrol", "191212121212", "--first-name", "Tolvan", "--last-name", "Ängel", "--unit", unit)
    assert single.exit_code == 0, single.stderr
    assert _names(per, "--search", "1212121212") == ["Tolvan Ängel"]
    assert _names(per, "--search", "ängel tolv") == ["Tolvan Ängel"]


def test_sort_key_orders_as_a_swedish_dictionary() -> None:
    names = ["Öberg", "Zorn", "Åberg", "Aberg", "Ängel", "Ødegaard", "Æbelø", "Wahl", "Vik", "Über", "Yxa", "Ébel"]
    ordered = sorted(names, key=lambda last: sort_key("X", last))
    assert ordered == [
        "Aberg",
        "Ébel",
        "Vik",
        "Wahl",
        "Über",
        "Yxa",
        "Zorn",
        "Åberg",
        "Æbelø",
        "Ängel",
        "Öberg",
        "Ødegaard",
    ]
    assert sort_key("Bo", "Berg") < sort_key("Anna", "Berg-Larsson") < sort_key("Anna", "Bergman")
    assert len(sort_key("ß" * 200, "Ö" * 200)) == 251  # bounded, for any index


def test_search_columns_and_terms() -> None:
    columns = search_columns(
        personnummer="191212121212", first_name="Renée", last_name="Öberg", email="R@Ex.se", mobile="+46701740605"
    )
    assert columns["search_text"].split("\x1f") == [
        "renée öberg",
        "renee öberg",
        "r@ex.se",
        "46701740605",
        "0701740605",
        "191212121212",
    ]
    assert search_terms("  Åsa   ÖBERG ") == [("åsa",), ("öberg",)]
    assert search_terms("070-174 06 05") == [("0701740605",)]
    assert search_terms("0046 70 174") == [("004670174", "4670174")]
    assert search_terms("121212+1212") == [("1212121212",)]
    assert search_terms("\x1b[31m") == [("[31m",)]
    assert search_terms("   ") == []


@pytest.mark.empty_db
def test_migration_fills_the_columns_of_patients_already_there(db_url: str) -> None:
    from alembic import command

    engine = make_engine(db_url)
    before = _revision_before_i16a()
    schema.upgrade(engine, before)
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO care_unit (code, name, created_at) VALUES ('X', 'X', CURRENT_TIMESTAMP)"))
        conn.execute(
            sa.text(
                "INSERT INTO patient (personnummer, first_name, last_name, unit_id, mobile, email, contact_person, "
                "registered_on, created_at, updated_at) VALUES ('191212121212', 'Åsa', 'Öberg', 1, '+46701740605', "
                "'asa@example.se', 'patient', '2020-01-01', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            )
        )
    schema.upgrade(engine)
    with engine.connect() as conn:
        row = conn.execute(sa.text("SELECT search_text, sort_key FROM patient")).one()
        indexes = {i["name"]: i["column_names"] for i in sa.inspect(conn).get_indexes("patient")}
    expected = search_columns(
        personnummer="191212121212", first_name="Åsa", last_name="Öberg", email="asa@example.se", mobile="+46701740605"
    )
    assert tuple(row) == (expected["search_text"], expected["sort_key"])
    assert indexes["ix_patient_sort_key"] == ["sort_key", "personnummer"]
    with engine.begin() as conn:
        cfg = schema._alembic_config()
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, before)
    with engine.connect() as conn:
        columns = {c["name"] for c in sa.inspect(conn).get_columns("patient")}
        assert conn.execute(sa.text("SELECT first_name FROM patient")).scalars().all() == ["Åsa"]
    assert not {"search_text", "sort_key"} & columns
    engine.dispose()


def _revision_before_i16a() -> str:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(schema._alembic_config())
    revision = script.get_revision("i16a")
    assert revision is not None and isinstance(revision.down_revision, str)
    return revision.down_revision
