"""Signed checkpoints of the access log: evidence that holds against whoever holds the database itself.

The hash chain shows an edit only to someone who does not recompute it; the database owner (a superuser, the
owner of a SQLite file) can rewrite events, recompute every hash, or cut the newest events off. A checkpoint is
an Ed25519 signature, made with a key kept away from the database, over the chain's state at one moment: the last
event's id, its hash (the head), how many events the chain held and how many lawful prunes had removed, and the
time. ``per audit verify --checkpoint`` then refuses a chain that no longer ends in the signed head at that id
(rewritten and recomputed), that lacks events up to it (truncated or deleted), or a checkpoint whose signature
the public key does not confirm (forged or altered).

Only a verified chain is signed: the state is read and verified in one read-only snapshot, so writers are not
blocked meanwhile, and the checkpoint itself is then recorded as an ``audit.checkpoint`` event.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from per_cli.errors import Conflict, InvalidInput

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
    from sqlalchemy.orm import Session

    from per_cli.unit_of_work import UnitOfWork

FORMAT = "per-audit-checkpoint/1"
#: the signed fields, in the order the JSON file shows them
SIGNED = ("format", "last_id", "head", "head_at", "events", "pruned", "at", "key")


def _param_error(field: str, path: Path, reason: str) -> InvalidInput:
    return InvalidInput(f"{path}: {reason}", field=field)


def _write_new(path: Path, data: bytes, mode: int, field: str) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError:
        raise _param_error(field, path, "exists; keys are never overwritten, name a new file") from None
    except OSError as exc:
        raise _param_error(field, path, f"cannot create it ({exc.strerror or exc}); name a writable path") from None
    try:
        os.fchmod(fd, mode)
        os.write(fd, data)
    finally:
        os.close(fd)


def keygen(private_key: Path, public_key: Path) -> str:
    """Write a new Ed25519 key pair (private 0600, public 0644, neither overwritten); returns the fingerprint."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    if private_key.resolve() == public_key.resolve():
        raise _param_error("--public-key", public_key, "is the private key's file; name two files")
    for field, path in (("--private-key", private_key), ("--public-key", public_key)):
        if path.exists():
            raise _param_error(field, path, "exists; keys are never overwritten, name a new file")
    key = Ed25519PrivateKey.generate()
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    _write_new(private_key, private_pem, 0o600, "--private-key")
    try:
        _write_new(public_key, public_pem, 0o644, "--public-key")
    except InvalidInput:
        private_key.unlink()  # nothing half-written: no private key without its public half
        raise
    return fingerprint(key.public_key())


def fingerprint(public: Ed25519PublicKey) -> str:
    """``sha256:`` and the first 32 hex digits of the SHA-256 of the raw public key."""
    from cryptography.hazmat.primitives import serialization

    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "sha256:" + hashlib.sha256(raw).hexdigest()[:32]


def _read(path: Path, field: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise _param_error(field, path, "no such file; name an existing file") from None
    except OSError as exc:
        raise _param_error(field, path, f"cannot read it ({exc.strerror or exc})") from None


def load_private(path: Path) -> Ed25519PrivateKey:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    try:
        key = serialization.load_pem_private_key(_read(path, "--key"), password=None)
    except (ValueError, TypeError):
        raise _param_error(
            "--key", path, "is not an unencrypted PEM private key; make one with per audit keygen"
        ) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise _param_error("--key", path, "is not an Ed25519 key; make one with per audit keygen")
    return key


def load_public(path: Path) -> Ed25519PublicKey:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        key = serialization.load_pem_public_key(_read(path, "--public-key"))
    except (ValueError, TypeError):
        raise _param_error(
            "--public-key", path, "is not a PEM public key; use the one per audit keygen wrote"
        ) from None
    if not isinstance(key, Ed25519PublicKey):
        raise _param_error("--public-key", path, "is not an Ed25519 public key; use the one per audit keygen wrote")
    return key


def signed_bytes(checkpoint: dict[str, Any]) -> bytes:
    """The exact bytes the signature covers: the signed fields as compact, key-sorted JSON."""
    return json.dumps({k: checkpoint[k] for k in SIGNED}, sort_keys=True, separators=(",", ":")).encode()


@dataclass(frozen=True)
class ChainState:
    last_id: int | None
    head: str
    head_at: str | None
    events: int
    pruned: int


def _state(session: Session) -> ChainState:
    """The verified chain's state in ``session``'s snapshot; refuses to sign a broken chain."""
    from sqlalchemy import func, select

    from per_cli.audit.verify import verify_session
    from per_cli.db.models import AuditAnchor

    verified = verify_session(session)
    if not verified.intact:
        raise Conflict(
            f"the chain is broken at event {verified.broken_at} ({verified.reason}); "
            "a checkpoint must not sign it, investigate first",
            field="audit",
        )
    from per_cli.db.models import AuditEvent

    pruned = session.execute(select(func.coalesce(func.sum(AuditAnchor.removed), 0))).scalar_one()
    head_at = None
    if verified.last_id is not None:
        at = session.execute(select(AuditEvent.at).where(AuditEvent.id == verified.last_id)).scalar_one()
        head_at = _utc(at).isoformat(timespec="microseconds")
    return ChainState(verified.last_id, verified.head, head_at, verified.events, int(pruned))


def _utc(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def checkpoint(uow: UnitOfWork, key_path: Path) -> dict[str, Any]:
    """Sign the verified chain's current state and record the checkpoint as an ``audit.checkpoint`` event."""
    from per_cli.audit.events import Event, record

    key = load_private(key_path)
    with uow.transaction(read_only=True) as session:
        state = _state(session)
    if state.last_id is None:
        raise Conflict("the log has no events yet; there is nothing to sign", field="audit")
    made: dict[str, Any] = {
        "format": FORMAT,
        "last_id": state.last_id,
        "head": state.head,
        "head_at": state.head_at,
        "events": state.events,
        "pruned": state.pruned,
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "key": fingerprint(key.public_key()),
    }
    made["signature"] = base64.b64encode(key.sign(signed_bytes(made))).decode()
    details = {k: made[k] for k in ("last_id", "head", "events", "pruned", "key")}
    with uow.transaction() as session:
        record(session, Event(actor=uow.actor, action="audit.checkpoint", details=details))
    return made


def render(made: dict[str, Any]) -> str:
    return json.dumps(made, indent=2) + "\n"


# --- checking the log against a checkpoint ---

BAD_SIGNATURE = (
    "the checkpoint's signature does not match the public key (the checkpoint was altered or another key made it)"
)


@dataclass(frozen=True)
class CheckpointResult:
    """The outcome of ``per audit verify --checkpoint``; ``reason`` is None when the log holds."""

    last_id: int
    signed_at: str
    events: int
    reason: str | None = None
    note: str | None = None

    @property
    def holds(self) -> bool:
        return self.reason is None

    def line(self) -> str:
        if self.reason:
            return f"checkpoint of {self.signed_at} fails: {self.reason}"
        return (
            f"ok: {self.events} events, chain intact; the checkpoint of {self.signed_at} at event {self.last_id} holds"
            + (f" ({self.note})" if self.note else "")
        )

    def record(self) -> dict[str, Any]:
        return {
            "holds": self.holds,
            "events": self.events,
            "checkpoint_last_id": self.last_id,
            "checkpoint_at": self.signed_at,
            "reason": self.reason,
            "note": self.note,
        }


def load_checkpoint(path: Path) -> dict[str, Any]:
    try:
        made = json.loads(_read(path, "--checkpoint").decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        made = None
    fields = (*SIGNED, "signature")
    if not isinstance(made, dict) or made.get("format") != FORMAT or any(k not in made for k in fields):
        raise _param_error("--checkpoint", path, "is not a checkpoint written by per audit checkpoint")
    types_ok = (
        isinstance(made["last_id"], int)
        and isinstance(made["events"], int)
        and isinstance(made["pruned"], int)
        and all(isinstance(made[k], str) for k in ("head", "head_at", "at", "signature"))
    )
    if not types_ok:
        raise _param_error("--checkpoint", path, "is not a checkpoint written by per audit checkpoint")
    return dict(made)


def signature_holds(made: dict[str, Any], public: Ed25519PublicKey) -> bool:
    from cryptography.exceptions import InvalidSignature

    try:
        public.verify(base64.b64decode(made["signature"], validate=True), signed_bytes(made))
    except (InvalidSignature, ValueError):
        return False
    return True


def check(uow: UnitOfWork, checkpoint_path: Path, public_key: Path) -> CheckpointResult:
    """Is the log still the one the checkpoint signed, up to its last event, with nothing missing?"""
    made = load_checkpoint(checkpoint_path)
    public = load_public(public_key)
    result = CheckpointResult(made["last_id"], made["at"], 0)
    if not signature_holds(made, public):
        return _fails(result, BAD_SIGNATURE)
    with uow.transaction(read_only=True) as session:
        return _check(session, made, result)


def _fails(result: CheckpointResult, reason: str, events: int | None = None) -> CheckpointResult:
    return CheckpointResult(result.last_id, result.signed_at, result.events if events is None else events, reason)


def _check(session: Session, made: dict[str, Any], result: CheckpointResult) -> CheckpointResult:
    from sqlalchemy import func, select

    from per_cli.audit.prune import latest_cutoff
    from per_cli.audit.verify import verify_session
    from per_cli.db.models import AuditEvent

    verified = verify_session(session)
    if not verified.intact:
        return _fails(result, f"the chain is broken at event {verified.broken_at}: {verified.reason}", verified.events)
    last_id = made["last_id"]
    removed_since = 0
    prunes = select(AuditEvent.details).where(AuditEvent.action == "audit.prune", AuditEvent.id > last_id)
    for details in session.execute(prunes).scalars():
        info = json.loads(details)
        if date_of(info.get("before")) > latest_cutoff():
            return _fails(
                result, "a prune after the checkpoint removed events younger than five years", verified.events
            )
        removed_since += int(info.get("removed", 0))
    head = session.execute(select(AuditEvent.hash).where(AuditEvent.id == last_id)).scalar()
    if head is None:
        if verified.last_id is not None and verified.last_id > last_id and _lawfully_pruned(made["head_at"]):
            note = "its events have since been lawfully pruned"
            return CheckpointResult(last_id, made["at"], verified.events, None, note)
        return _fails(result, f"event {last_id}, the last one signed, is missing (the log was cut)", verified.events)
    if head != made["head"]:
        return _fails(
            result,
            f"event {last_id} no longer has the signed hash (events were rewritten and the chain recomputed)",
            verified.events,
        )
    kept = int(session.execute(select(func.count()).where(AuditEvent.id <= last_id)).scalar_one())
    missing = made["events"] - kept - removed_since
    if missing > 0:
        return _fails(result, f"{missing} events up to event {last_id} are missing", verified.events)
    if missing < 0:
        return _fails(
            result, f"{-missing} events up to event {last_id} were not there when it was signed", verified.events
        )
    return CheckpointResult(last_id, made["at"], verified.events)


def date_of(text: object) -> date:
    try:
        return date.fromisoformat(str(text))
    except ValueError:
        return date.max  # an unreadable prune date proves nothing lawful


def _lawfully_pruned(head_at: str) -> bool:
    """Could the signed head event have been pruned lawfully by now (older than the five-year floor)?"""
    from per_cli.audit.prune import latest_cutoff

    try:
        at = datetime.fromisoformat(head_at)
    except ValueError:
        return False
    return at.date() < latest_cutoff()


def write_checkpoint(path: Path, made: dict[str, Any]) -> None:
    """Write the checkpoint through a temporary file and a rename, so a reader never sees half of it."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(render(made), encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise _param_error("--output", path, f"cannot write it ({exc.strerror or exc}); name a writable file") from None
