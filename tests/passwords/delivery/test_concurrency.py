"""Two staff send a password to the same patient at once: both send, the last pending password stored wins, and
the pending hash, recipients and time always belong to one and the same send."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from per_cli.cli.app import App
from per_cli.config import load_config
from per_cli.credentials.passwords import verify_password
from tests.helpers.per import TOLVAN, RunPer
from tests.helpers.world import EMAIL, MOBILE, World


def test_two_sends_at_once_store_one_consistent_send(desk: World, per_proc: RunPer) -> None:
    desk.enrol()
    for _ in range(2):
        with ThreadPoolExecutor(2) as pool:
            runs = list(pool.map(lambda flags: per_proc("password", "send", TOLVAN, *flags),
                                 [("--sms", "--email"), ("--sms",)]))  # fmt: skip
        assert [r.exit_code for r in runs] == [0, 0], [r.stderr for r in runs]
        credential = desk.credential()
        by_file = {d.provider_id: d for d in desk.deliveries()}
        winners = [m for m in desk.messages() if verify_password(credential.pending_hash, desk.password_in(m))]
        assert winners, "the stored hash matches none of the passwords sent"
        # every message carrying the stored password came from the send that stored it: same time, same recipients
        sent_with_it = {by_file[Path(m["file"]).stem].batch_id for m in winners}
        assert len(sent_with_it) == 1
        batch = [d for d in by_file.values() if d.batch_id in sent_with_it]
        assert {d.sent_at for d in batch} == {credential.last_sent_at}
        assert credential.last_sent_to == ", ".join(d.recipient for d in sorted(batch, key=lambda d: d.channel))
        assert credential.last_sent_to in (f"{EMAIL}, {MOBILE}", MOBILE)
    assert [e["outcome"] for e in desk.audit("password.send")] == ["ok"] * 4


def _app(desk: World) -> App:
    return App(config=load_config(desk.env["PER_CONFIG"]), actor="desk", database_url=desk.db_url)
