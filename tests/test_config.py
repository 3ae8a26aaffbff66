"""Configuration precedence: option > environment > config file > default (README, "Configuration")."""

from __future__ import annotations

from pathlib import Path

from tests.helpers.per import RunPer


def _db_of(per: RunPer, *args: str, extra_env: dict[str, str] | None = None) -> str:
    result = per(*args, "-vv", "unit", "list", extra_env=extra_env)
    assert result.exit_code == 0, result.stderr
    line = next(line for line in result.stderr.splitlines() if "database: " in line)
    return line.split("database: ", 1)[1]


def test_option_beats_environment_beats_file_beats_default(per: RunPer, tmp_path: Path, env: dict[str, str]) -> None:
    config = Path(env["PER_CONFIG"])
    for name in ("file", "env", "opt"):
        (tmp_path / f"{name}.db").touch(mode=0o600)
    file_db, env_db, opt_db = (f"sqlite:///{tmp_path / n}.db" for n in ("file", "env", "opt"))
    config.write_text(f'[database]\nurl = "{file_db}"\n')
    assert _db_of(per, extra_env={"PER_DATABASE_URL": ""}) == file_db
    assert _db_of(per, extra_env={"PER_DATABASE_URL": env_db}) == env_db
    assert _db_of(per, "--database", opt_db, extra_env={"PER_DATABASE_URL": env_db}) == opt_db
    config.write_text("")
    default = _db_of(per, extra_env={"PER_DATABASE_URL": ""})
    assert default == f"sqlite:///{env['XDG_DATA_HOME']}/per/per.db"


def test_config_found_in_the_user_config_dir(per: RunPer, tmp_path: Path, env: dict[str, str]) -> None:
    user_config = Path(env["XDG_CONFIG_HOME"]) / "per" / "config.toml"
    user_config.parent.mkdir(parents=True)
    user_config.write_text(f'[database]\nurl = "sqlite:///{tmp_path / "user.db"}"\n')
    (tmp_path / "user.db").touch(mode=0o600)
    assert _db_of(per, extra_env={"PER_CONFIG": "", "PER_DATABASE_URL": ""}) == f"sqlite:///{tmp_path / 'user.db'}"


def test_named_config_file_must_exist(per: RunPer, tmp_path: Path) -> None:
    result = per("--config", str(tmp_path / "missing.toml"), "unit", "list")
    assert (result.exit_code, result.stderr) == (
        1,
        f"Error: --config: no such file: {tmp_path / 'missing.toml'}; create it, or name the right file\n",
    )


def test_broken_toml_names_the_file(per: RunPer, env: dict[str, str]) -> None:
    Path(env["PER_CONFIG"]).write_text("[database\n")
    result = per("unit", "list")
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: {env['PER_CONFIG']}: not valid TOML: ")


def test_actor_from_option_environment_and_login_name(per: RunPer, tolvan: str, actor: str, backend: str) -> None:
    import getpass
    import json

    per("--actor", "anna", "patient", "show", tolvan)
    per("patient", "show", tolvan, extra_env={"PER_ACTOR": "bertil"})
    per("patient", "show", tolvan, extra_env={"PER_ACTOR": ""})
    events = json.loads(per("audit", "list", "--action", "patient.show", "--format", "json").stdout)
    events.reverse()  # `audit list` shows the newest first
    if backend == "sqlite":
        assert [e["actor"] for e in events] == ["anna", "bertil", getpass.getuser()]
    else:  # the login role acts; a name given is its claim, the OS login name is no claim at all
        assert [e["actor"] for e in events] == [actor] * 3
        assert [e["details"].get("claimed_actor") for e in events] == ["anna", "bertil", None]


def test_bad_database_url(per: RunPer) -> None:
    result = per("--database", "mysql://x@y/z", "unit", "list")
    assert (result.exit_code, result.stderr) == (
        1,
        "Error: --database: unsupported database 'mysql' (use sqlite or postgresql)\n",
    )
