"""Signed checkpoints (`per audit keygen|checkpoint`, `verify --checkpoint`): whoever holds the database can
rewrite events and recompute the chain so that plain `verify` passes; the checkpoint still catches it."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from sqlalchemy import Engine

from per_cli.audit.events import Event
from tests.helpers.audit import ids, recompute, remove, set_columns, write
from tests.helpers.per import RunPer
from tests.helpers.staff import Staff


@pytest.fixture
def keys(per: RunPer, tmp_path: Path) -> tuple[Path, Path]:
    private, public = tmp_path / "audit.key", tmp_path / "audit-public.pem"
    result = per("audit", "keygen", "--private-key", str(private), "--public-key", str(public))
    assert result.exit_code == 0, result.stderr
    return private, public


@pytest.fixture
def signed(per: RunPer, engine: Engine, keys: tuple[Path, Path], tmp_path: Path) -> Path:
    """Eight events, then a checkpoint of them written to a file."""
    write(engine, [Event(actor="anna", action="patient.show", patient_id=i, unit_code="NEURO-SU") for i in range(8)])
    out = tmp_path / "checkpoint.json"
    result = per("audit", "checkpoint", "--key", str(keys[0]), "--output", str(out))
    assert result.exit_code == 0, result.stderr
    return out


def check(per: RunPer, checkpoint: Path, public: Path) -> tuple[int, str]:
    result = per("audit", "verify", "--checkpoint", str(checkpoint), "--public-key", str(public))
    assert result.stderr == ""
    return result.exit_code, result.stdout


def test_keygen_writes_a_private_key_only_its_owner_reads_and_never_overwrites(
    per_proc: RunPer, tmp_path: Path
) -> None:
    private, public = tmp_path / "k", tmp_path / "k.pub"
    old = os.umask(0)
    try:
        made = per_proc("audit", "keygen", "--private-key", str(private), "--public-key", str(public))
    finally:
        os.umask(old)
    assert made.exit_code == 0, made.stderr
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert private.read_text().startswith("-----BEGIN PRIVATE KEY-----")
    assert public.read_text().startswith("-----BEGIN PUBLIC KEY-----")
    before = private.read_bytes()
    again = per_proc("audit", "keygen", "--private-key", str(private), "--public-key", str(tmp_path / "other"))
    assert again.exit_code == 1
    assert again.stderr == f"Error: --private-key: {private}: exists; keys are never overwritten, name a new file\n"
    assert private.read_bytes() == before and not (tmp_path / "other").exists()


def test_a_checkpoint_signs_the_verified_chain_and_is_itself_logged(
    per: RunPer, engine: Engine, keys: tuple[Path, Path], signed: Path
) -> None:
    made = json.loads(signed.read_text())
    events = ids(engine)
    assert (made["last_id"], made["events"], made["pruned"]) == (events[-2], 8, 0)
    assert len(made["head"]) == 64 and made["key"].startswith("sha256:")
    logged = json.loads(per("audit", "list", "--action", "audit.checkpoint", "--format", "json").stdout)
    assert [e["action"] for e in logged] == ["audit.checkpoint"]
    events_now = len(ids(engine))
    assert check(per, signed, keys[1]) == (
        0,
        f"ok: {events_now} events, chain intact; the checkpoint of {made['at']} at event {made['last_id']} holds\n",
    )
    printed = per("audit", "checkpoint", "--key", str(keys[0]))
    assert json.loads(printed.stdout)["last_id"] == ids(engine)[-2]


def test_a_changed_actor_with_the_chain_recomputed_is_caught(
    per: RunPer, engine: Engine, keys: tuple[Path, Path], signed: Path
) -> None:
    set_columns(engine, ids(engine)[3], actor="mallory")
    recompute(engine)
    assert per("audit", "verify").exit_code == 0  # the chain alone cannot tell
    last = json.loads(signed.read_text())["last_id"]
    code, line = check(per, signed, keys[1])
    assert code == 1
    assert line.endswith(
        f"fails: event {last} no longer has the signed hash (events were rewritten and the chain recomputed)\n"
    )


def test_a_deleted_event_with_the_chain_recomputed_is_caught(
    per: RunPer, engine: Engine, keys: tuple[Path, Path], signed: Path
) -> None:
    remove(engine, ids(engine)[2])
    recompute(engine)
    assert per("audit", "verify").exit_code == 0
    code, line = check(per, signed, keys[1])
    assert code == 1 and "no longer has the signed hash" in line


def test_cutting_off_the_newest_events_is_caught(
    per: RunPer, engine: Engine, keys: tuple[Path, Path], signed: Path
) -> None:
    last = json.loads(signed.read_text())["last_id"]
    for event_id in ids(engine)[-4:]:
        remove(engine, event_id)
    assert per("audit", "verify").exit_code == 0  # deleting the newest needs no recomputation
    code, line = check(per, signed, keys[1])
    assert code == 1 and line.endswith(f"fails: event {last}, the last one signed, is missing (the log was cut)\n")


def test_events_after_the_checkpoint_do_not_matter(
    per: RunPer, engine: Engine, keys: tuple[Path, Path], signed: Path
) -> None:
    write(engine, [Event(actor="anna", action="patient.show", patient_id=99)])
    assert check(per, signed, keys[1])[0] == 0


def test_an_altered_checkpoint_or_another_key_fails_the_signature(
    per: RunPer, engine: Engine, keys: tuple[Path, Path], signed: Path, tmp_path: Path
) -> None:
    made = json.loads(signed.read_text())
    altered = tmp_path / "altered.json"
    altered.write_text(json.dumps({**made, "events": made["events"] - 1}))
    code, line = check(per, altered, keys[1])
    assert code == 1 and line.endswith(
        "fails: the checkpoint's signature does not match the public key "
        "(the checkpoint was altered or another key made it)\n"
    )
    other_private, other_public = tmp_path / "o.key", tmp_path / "o.pem"
    assert per("audit", "keygen", "--private-key", str(other_private), "--public-key", str(other_public)).exit_code == 0
    assert check(per, signed, other_public)[0] == 1


def test_a_checkpoint_is_not_made_of_a_broken_chain(
    per: RunPer, engine: Engine, keys: tuple[Path, Path], tmp_path: Path
) -> None:
    write(engine, [Event(actor="anna", action="patient.show", patient_id=i) for i in range(3)])
    set_columns(engine, ids(engine)[1], actor="mallory")
    result = per("audit", "checkpoint", "--key", str(keys[0]), "--output", str(tmp_path / "c.json"))
    assert result.exit_code == 1 and not (tmp_path / "c.json").exists()
    assert result.stderr.startswith(f"Error: audit: the chain is broken at event {ids(engine)[1]} (content changed)")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--checkpoint", "{cp}"], "Error: --checkpoint and --public-key go together: name both files"),
        (["--checkpoint", "{tmp}/none.json", "--public-key", "{pub}"], "Error: --checkpoint: {tmp}/none.json: no such"),
        (["--checkpoint", "{pub}", "--public-key", "{pub}"], "Error: --checkpoint: {pub}: is not a checkpoint"),
        (["--checkpoint", "{cp}", "--public-key", "{cp}"], "Error: --public-key: {cp}: is not a PEM public key"),
    ],
)
def test_unusable_files_are_one_line(
    per: RunPer, keys: tuple[Path, Path], signed: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    names = {"cp": str(signed), "pub": str(keys[1]), "tmp": str(tmp_path)}
    result = per("audit", "verify", *(a.format(**names) for a in args))
    assert result.exit_code in (1, 2)
    assert (
        result.stderr.splitlines()[-1].startswith(message.format(**names)) or message.format(**names) in result.stderr
    )
    assert len([line for line in result.stderr.splitlines() if line.startswith("Error")]) == 1


@pytest.fixture
def pg(backend: str) -> None:
    if backend != "postgresql":
        pytest.skip("login roles are PostgreSQL's")


def test_an_auditor_login_signs_and_checks_and_the_checkpoint_names_it(
    per: RunPer, engine: Engine, keys: tuple[Path, Path], pg: None, staff: Staff, tmp_path: Path
) -> None:
    write(engine, [Event(actor="anna", action="patient.show", patient_id=i) for i in range(3)])
    eva = staff.name("eva")
    assert per("staff", "add", eva, "--role", "auditor").exit_code == 0
    as_eva = {"PER_DATABASE_URL": staff.url(eva)}
    out = tmp_path / "by-auditor.json"
    made = per("audit", "checkpoint", "--key", str(keys[0]), "--output", str(out), extra_env=as_eva)
    assert made.exit_code == 0, made.stderr
    held = per("audit", "verify", "--checkpoint", str(out), "--public-key", str(keys[1]), extra_env=as_eva)
    assert held.exit_code == 0 and "holds" in held.stdout
    logged = json.loads(per("audit", "list", "--action", "audit.checkpoint", "--format", "json").stdout)
    assert [e["actor"] for e in logged] == [eva]


def _old_and_new(engine: Engine, old: int, new: int) -> None:
    from datetime import UTC, datetime

    from tests.helpers.audit import frozen_clock

    moment = datetime(2015, 3, 1, 12, tzinfo=UTC)
    with pytest.MonkeyPatch.context() as patch, frozen_clock(patch, *[moment] * old):
        write(engine, [Event(actor="anna", action="patient.show", patient_id=i) for i in range(old)])
    write(engine, [Event(actor="anna", action="patient.show", patient_id=i) for i in range(new)])


def test_a_lawful_prune_after_the_checkpoint_is_accounted_for(
    per: RunPer, engine: Engine, keys: tuple[Path, Path], tmp_path: Path
) -> None:
    _old_and_new(engine, 3, 2)
    out = tmp_path / "c.json"
    assert per("audit", "checkpoint", "--key", str(keys[0]), "--output", str(out)).exit_code == 0
    assert per("audit", "prune", "--before", "2016-01-01").stdout.startswith("removed 3 events")
    code, line = check(per, out, keys[1])
    assert code == 0 and line.startswith("ok: ") and "holds" in line
    remove(engine, ids(engine)[0])  # one more, without a prune
    recompute(engine)
    assert check(per, out, keys[1])[0] == 1


def test_a_checkpoint_whose_events_were_all_lawfully_pruned_still_holds(
    per: RunPer, engine: Engine, keys: tuple[Path, Path], tmp_path: Path
) -> None:
    _old_and_new(engine, 3, 0)
    out = tmp_path / "c.json"
    made = json.loads(per("audit", "checkpoint", "--key", str(keys[0])).stdout)
    out.write_text(json.dumps(made))
    assert per("audit", "prune", "--before", "2016-01-01").stdout.startswith("removed 3 events")
    code, line = check(per, out, keys[1])
    assert (code, line.endswith("(its events have since been lawfully pruned)\n")) == (0, True)
