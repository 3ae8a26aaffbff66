"""``per password send --file FILE --sms --email``: a result per patient, a summary, exit 3 on any failure."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from per_cli.credentials.passwords import verify_password
from tests.helpers.per import SAMORDNING, TOLVAN
from tests.helpers.servers import Cert, Gateway, SmtpServer
from tests.helpers.world import EMAIL, MOBILE, World

OTHERS = ["195001011005", "195001021004", "195001031003"]  # valid, enrolled with their own contacts


def contacts(i: int) -> tuple[str, str]:
    return f"+4670174061{i}", f"patient{i}@example.se"


def enrol_others(desk: World) -> None:
    for i, pnr in enumerate(OTHERS):
        mobile, address = contacts(i)
        desk.enrol(pnr, mobile=mobile, email=address)


def test_a_mixed_list_gives_a_result_per_row_and_exit_3(desk: World, tmp_path: Path) -> None:
    desk.enrol()
    enrol_others(desk)
    desk.enrol(SAMORDNING, mobile="08-465 004 00", email=None)
    listing = tmp_path / "lista.txt"
    lines = [TOLVAN, "1212121213", OTHERS[0], "199001019802", SAMORDNING, "121212-1212", "", OTHERS[1], "1,91212E+11"]
    listing.write_text("\n".join(lines) + "\n")
    result = desk.send("--file", str(listing), "--sms", "--email", "--format", "json")
    assert result.exit_code == 3, result.stderr
    rows = {r["line"]: r for r in json.loads(result.stdout)}
    statuses = {line: (r["status"], r["personnummer"]) for line, r in rows.items()}
    assert statuses == {
        1: ("sent", "19121212-1212"),
        2: ("rejected", "1212121213"),
        3: ("sent", "19500101-1005"),
        4: ("rejected", "199001019802"),
        5: ("rejected", "19701063-2391"),
        6: ("rejected", "19121212-1212"),
        8: ("sent", "19500102-1004"),
        9: ("rejected", "1,91212E+11"),
    }
    assert "check digit" in rows[2]["error"]
    assert rows[4]["error"] == "personnummer: no patient with this personnummer is enrolled"
    assert (
        rows[5]["error"].startswith("--email: the patient has no e-mail address") and "fixed line" in rows[5]["error"]
    )
    assert rows[6]["error"] == "duplicate of line 1"
    assert "spreadsheet" in rows[9]["error"]
    assert [c["channel"] for c in rows[1]["channels"]] == ["email", "sms"]
    assert "Summary: 8 patients: 3 sent, 0 partly sent, 0 failed, 5 rejected, 0 skipped" in result.stderr
    assert "Error: 5 of 8 patients did not get a password on every channel" in result.stderr
    assert "line 4: 199001019802: rejected: personnummer: no patient" in result.stderr

    messages = desk.messages()
    assert len(messages) == 6
    owner = {EMAIL: TOLVAN, MOBILE: TOLVAN} | {c: pnr for i, pnr in enumerate(OTHERS) for c in contacts(i)}
    for message in messages:  # each patient's password is the one stored for them
        pnr = owner[message["to"]]
        assert verify_password(desk.credential(pnr).password_hash, desk.password_in(message))
    assert desk.credential(SAMORDNING) is None
    outcomes = sorted(e["outcome"] for e in desk.audit("password.send"))
    assert outcomes == ["ok", "ok", "ok", "refused"]
    assert len({e["details"].get("batch_id") for e in desk.audit("password.send") if e["outcome"] == "ok"}) == 1


def test_a_csv_with_a_personnummer_column_and_csv_results(desk: World, tmp_path: Path) -> None:
    enrol_others(desk)
    listing = tmp_path / "patienter.csv"
    listing.write_text("Förnamn;Personnummer;Kommentar\nA;19500101-1005;x\nB;195001021004;y\n", encoding="utf-8")
    result = desk.send("--file", str(listing), "--sms", "--format", "csv")
    assert result.exit_code == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [(r["line"], r["personnummer"], r["status"], r["sms_status"], r["email_status"]) for r in rows] == [
        ("2", "19500101-1005", "sent", "sent", ""),
        ("3", "19500102-1004", "sent", "sent", ""),
    ]
    assert all(r["sms_provider_id"] for r in rows)


def test_an_xlsx_workbook(desk: World, tmp_path: Path) -> None:
    from openpyxl import Workbook  # type: ignore[import-untyped]

    enrol_others(desk)
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Personnummer", "Namn"])
    sheet.append(["19500101-1005", "A"])
    sheet.append(["195001031003", "C"])
    book.save(tmp_path / "lista.xlsx")
    result = desk.send("--file", str(tmp_path / "lista.xlsx"), "--email")
    assert result.exit_code == 0, result.stderr
    header, *rows = result.stdout.splitlines()
    assert header.split() == ["line", "personnummer", "status", "sent_to", "sent_at", "error"]
    assert len(rows) == 3 and "patient2@example.se" in rows[-1]


def test_jsonl_streams_from_stdin(desk: World) -> None:
    enrol_others(desk)
    result = desk.per("password", "send", "--file", "-", "--email", "--format", "jsonl", input="\n".join(OTHERS))
    assert result.exit_code == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert sorted(r["line"] for r in records) == [1, 2, 3] and {r["status"] for r in records} == {"sent"}


def test_one_smtp_connection_and_one_gateway_for_the_whole_run(
    desk: World, smtp_starttls: SmtpServer, tls_cert: Cert, elks_gateway: Gateway, tmp_path: Path
) -> None:
    desk.configure(email=smtp_starttls.url(cafile=str(tls_cert.cert)), sms=elks_gateway.url(**{"from": "Neuroreg"}))
    desk.enrol()
    enrol_others(desk)
    (tmp_path / "alla.txt").write_text("\n".join([TOLVAN, *OTHERS]))
    result = desk.send("--file", str(tmp_path / "alla.txt"), "--sms", "--email", "--workers", "2")
    assert result.exit_code == 0, result.stderr
    assert len(smtp_starttls.handler.messages) == 4 and len(smtp_starttls.handler.sessions) == 1
    assert all(m.tls and m.authenticated for m in smtp_starttls.handler.messages)
    assert len(elks_gateway.requests) == 4
    assert "Summary: 4 patients: 4 sent, 0 partly sent, 0 failed, 0 rejected, 0 skipped" in result.stderr


def test_one_failing_channel_is_partial_for_everyone(desk: World, closed_port: int, tmp_path: Path) -> None:
    desk.configure(sms=f"elks://u:p@127.0.0.1:{closed_port}?tls=off")
    enrol_others(desk)
    (tmp_path / "lista.txt").write_text("\n".join(OTHERS))
    result = desk.send("--file", str(tmp_path / "lista.txt"), "--sms", "--email", "--format", "json")
    assert result.exit_code == 3
    records = json.loads(result.stdout)
    assert {r["status"] for r in records} == {"partial"}
    assert all(f"connection refused by 127.0.0.1:{closed_port}" in r["error"] for r in records)
    assert all(desk.credential(pnr).last_sent_to.endswith("@example.se") for pnr in OTHERS)


def test_a_dead_transport_stops_the_run_and_nothing_changes(desk: World, closed_port: int, tmp_path: Path) -> None:
    dead = f"elks://u:p@127.0.0.1:{closed_port}?tls=off"
    desk.configure(sms=dead)
    numbers = []
    for i in range(14):
        pnr = f"1950{(i // 9) + 1:02d}{(i % 9) + 1:02d}1000"
        numbers.append(_with_check_digit(pnr))
        desk.enrol(numbers[-1], mobile=f"+467017406{i:02d}", email=None)
    (tmp_path / "lista.txt").write_text("\n".join(numbers))
    result = desk.send("--file", str(tmp_path / "lista.txt"), "--sms", "--format", "json")
    assert result.exit_code == 1, result.stderr
    records = json.loads(result.stdout)
    counts = {s: sum(r["status"] == s for r in records) for s in ("failed", "skipped")}
    assert counts["failed"] >= 10 and counts["failed"] + counts["skipped"] == 14
    assert "Warning: the run stopped after 10 sms failures in a row (last: connection refused" in result.stderr
    assert "Error: no password was sent to any of the 14 patients in the list" in result.stderr
    assert desk.sql("SELECT count(*) FROM patient_credential")[0][0] == 0


def _with_check_digit(pnr12: str) -> str:
    digits = pnr12[2:11]
    total = sum(d - 9 if d > 9 else d for d in (int(c) * (2 - k % 2) for k, c in enumerate(digits)))
    return pnr12[:11] + str((10 - total % 10) % 10)


def test_an_interrupted_run_stores_exactly_what_was_sent(desk: World, tmp_path: Path) -> None:
    from per_cli.cli.app import App
    from per_cli.config import load_config
    from per_cli.passwords.delivery.bulk import BulkOptions, RowResult, send_file

    numbers = []
    for i in range(12):
        numbers.append(_with_check_digit(f"1960{(i // 9) + 1:02d}{(i % 9) + 1:02d}1000"))
        desk.enrol(numbers[-1], mobile=f"+467017407{i:02d}", email=None)
    (tmp_path / "lista.txt").write_text("\n".join(numbers))
    seen: list[RowResult] = []

    def interrupt(result: RowResult) -> None:
        seen.append(result)
        if len(seen) == 3:
            raise KeyboardInterrupt

    app = App(config=load_config(desk.env["PER_CONFIG"]), actor="desk", database_url=desk.db_url)
    options = BulkOptions(file=str(tmp_path / "lista.txt"), channels=("sms",), chunk_size=1, flush_seconds=0)
    try:
        summary, error = send_file(app, options, on_result=interrupt)
    finally:
        app.close()
    assert isinstance(error, KeyboardInterrupt)
    assert summary.rows == 12 and summary.campaign is not None  # every line still has its result
    assert "resume with `per password send --resume " in summary.stop_text()
    sent = {m["to"]: desk.password_in(m) for m in desk.messages()}
    assert len(sent) >= 3
    for i, pnr in enumerate(numbers):
        credential = desk.credential(pnr)
        mobile = f"+467017407{i:02d}"
        if mobile in sent:
            assert credential is not None and verify_password(credential.pending_hash, sent[mobile])
        else:
            assert credential is None
