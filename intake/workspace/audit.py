"""The workspace's audit log: who unlocked, viewed, changed and exported what, hash-chained.

`audit.log` in the instance folder holds one entry a line, each a canonical
JSON object (docs/audit.md states the format):

    {"action":…,"actor":…,"detail":…,"hash":…,"prev":…,"seq":…,"subject":…,"time":…}

`hash` is SHA-256 over "intake-audit-v1\\n" and the entry's canonical JSON
without `hash`; `prev` is the hash of the entry before (64 zeros for the
first). Changing any byte of an entry changes its hash or breaks its form, so
`verify` names that entry. The chain alone cannot show that its last entries
were cut off, so the database keeps the head (the last entry's number and
hash) and `verify` compares the file's end with it.

Threat note: a chain without a secret shows changes, it does not prevent
them. Whoever can write both this file and the database can write a whole
new history; only a copy of the head kept elsewhere (docs/audit.md) catches
that. What the log never holds: answers, names of people screened, or text a
coordinator typed (a search); `detail` takes only a few short words and counts.
"""

from __future__ import annotations

import contextlib
import fcntl
import getpass
import hashlib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from intake import canonical, db
from intake.envelope import utc_now

LOG_NAME = "audit.log"
# Appends lock this file, not the log: `restart` moves the log aside, and a
# writer waiting on a lock of the old file would append to the moved one.
LOCK_NAME = "audit.lock"
HEAD_KEY = "audit_head"
HASH_PREFIX = b"intake-audit-v1\n"
GENESIS = "0" * 64
NO_HEAD = ""  # the head after a restart, before the new chain's first entry

ACTIONS = (
    "unlock",
    "unlock_refused",
    "lock",
    "pull",
    "import",
    "case_view",
    "status_change",
    "export",
    "device_pinned",
    "device_key_changed",
    "audit_verified",
    "audit_restarted",
    "store_rebuilt",
)
FIELDS = ("action", "actor", "detail", "hash", "prev", "seq", "subject", "time")

# Small on purpose: an entry says who did what to which record, never its content.
MAX_ACTOR = 100
MAX_SUBJECT = 200
MAX_DETAIL_KEYS = 12
MAX_DETAIL_VALUE = 200
MAX_LINE = 4096  # bytes; far above any entry append() writes
_DETAIL_KEY = re.compile(r"[a-z][a-z0-9_]{0,39}\Z")
_HEX64 = re.compile(r"[0-9a-f]{64}\Z")
_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\Z")


class AuditError(Exception):
    """An entry cannot be appended: it is malformed, or the log is not where it should be."""


@dataclass(frozen=True)
class Verdict:
    """What `verify` found. Entry n is on line n, so `broken_seq` is also the line number."""

    ok: bool
    entries: int  # intact entries before the first broken one (all of them when ok)
    broken_seq: int | None = None
    reason: str | None = None
    last: dict | None = None  # the last intact entry

    @property
    def line(self) -> int | None:
        return self.broken_seq


def cli_actor() -> str:
    """Name whoever runs a command: "cli:" and the operating system's user."""
    try:
        return f"cli:{getpass.getuser()}"[:MAX_ACTOR]
    except (KeyError, OSError):  # no user name in the environment nor in the password file
        return f"cli:uid {os.getuid()}"


class AuditLog:
    """The audit log of one workspace folder.

    `database` is the connection to keep the head in (one thread's, as a
    request's `g.db` is); without one, each call opens the instance's
    database and closes it again. A caller already in a write transaction
    must pass its own connection (another one would wait for its lock).
    """

    def __init__(self, instance_path: str | os.PathLike, database=None):
        self.folder = Path(instance_path)
        self.path = self.folder / LOG_NAME
        self._database = database

    def append(self, actor: str, action: str, subject: str | None = None, detail=None) -> dict:
        """Append one entry, on disk (fsync) before this returns; return the entry.

        `subject` names a record ("device/record-id") or a device; `detail`
        holds words the program chose and counts ({"format": "csv", "cases":
        12}), never an answer nor anything a person typed (a search).
        Raises AuditError when the entry is malformed or the log does not end
        where the database says it does: an action that must be logged must
        then not happen. Inside a caller's transaction the head is stored with
        it, so call this last in the transaction.
        """
        with self._writing() as database:
            return self._append(database, actor, action, subject, detail)

    def restart(self, actor: str) -> tuple[Path, Verdict, dict]:
        """Move a broken log aside, kept as evidence, and begin a new chain that names it.

        Refuses an intact log. Returns the moved file, the verdict on it and
        the new chain's first entry.
        """
        with self._writing() as database:
            verdict = verify(self.folder, database)
            if verdict.ok:
                raise AuditError("the audit log is intact: there is nothing to restart")
            kept = self.folder / f"audit-broken-{utc_now().replace(':', '')}.log"
            if kept.exists():
                raise AuditError(f"{kept.name} exists already: try again in a second")
            if self.path.exists():
                os.rename(self.path, kept)
            db.set_pull_state(database, HEAD_KEY, NO_HEAD)
            detail = {"broken_log": kept.name, "entries": verdict.entries}
            if verdict.broken_seq is not None:
                detail["broken_at"] = verdict.broken_seq
            first = self._append(database, actor, "audit_restarted", None, detail)
        return kept, verdict, first

    def _append(self, database, actor, action, subject, detail) -> dict:
        last = _last_entry(self.path, _head(database))
        entry = {
            "action": action,
            "actor": actor,
            "detail": detail,
            "prev": last["hash"] if last else GENESIS,
            "seq": last["seq"] + 1 if last else 1,
            "subject": subject,
            "time": utc_now(),
        }
        problem = _problem(entry, with_hash=False)
        if problem:
            raise AuditError(f"cannot log this entry: {problem}")
        entry["hash"] = entry_hash(entry)
        _write_line(self.path, canonical.encode(entry) + b"\n")
        _set_head(database, entry)
        return entry

    @contextlib.contextmanager
    def _writing(self):
        """Hold the database's write transaction, then the log's lock; yield the database."""
        with self._open_database() as database, database.atomic(), _locked(self.folder):
            yield database

    @contextlib.contextmanager
    def _open_database(self):
        if self._database is not None:
            yield self._database
            return
        database = db.open_database(self.folder)
        try:
            yield database
        finally:
            database.close()


def entry_hash(entry: dict) -> str:
    """Return the hash of an entry: SHA-256 of the prefix and its canonical JSON without `hash`."""
    body = {k: v for k, v in entry.items() if k != "hash"}
    return hashlib.sha256(HASH_PREFIX + canonical.encode(body)).hexdigest()


def verify(instance_path: str | os.PathLike, database=None) -> Verdict:
    """Check every entry of the log, and its end against the head in the database."""
    log = AuditLog(instance_path, database)
    with log._open_database() as opened, contextlib.ExitStack() as stack:
        # Appends write the file and then the head in one write transaction:
        # holding the writer's lock, the file's length and the head agree.
        with opened.atomic():
            try:  # opened here: a restart moving the log aside cannot swap it under us
                file = stack.enter_context(open(log.path, "rb"))
            except FileNotFoundError:
                file = None
            size = os.fstat(file.fileno()).st_size if file else 0
            head = _head(opened)
        return _check_file(file, size, head)


def _check_file(file, size: int, head: dict | str | None) -> Verdict:
    """Check the first `size` bytes of the log, entry by entry, then its end against the head."""
    if isinstance(head, str):
        return Verdict(False, 0, None, head)
    entries, last, at_head = 0, None, None
    for raw in _lines(file, size):
        entry, problem = _read_line(raw, entries + 1, last)
        if problem:
            return Verdict(False, entries, entries + 1, problem, last)
        entries, last = entries + 1, entry
        if head and entry["seq"] == head["seq"]:
            at_head = entry["hash"]
    return _check_head(entries, last, head, at_head)


def _lines(file, size: int) -> Iterator[bytes]:
    """Yield the lines in the first `size` bytes of a file; one longer than MAX_LINE is cut."""
    done = 0
    while done < size:
        raw = file.readline(min(MAX_LINE + 1, size - done))
        yield raw
        if not raw:  # shorter than it was a moment ago: the check of b"" ends it
            return
        done += len(raw)


def _check_head(entries: int, last: dict | None, head: dict | None, at_head) -> Verdict:
    """Compare the end of an intact chain with the head the database records."""
    head_seq = head["seq"] if head else 0
    if entries < head_seq:
        reason = (
            f"the log ends at entry #{entries} but the database records #{head_seq}:"
            " entries were cut off, or the file was replaced by an older copy"
        )
        return Verdict(False, entries, entries + 1, reason, last)
    if head and at_head != head["hash"]:
        reason = "it is not the entry the database records as the log's head (its hash differs)"
        return Verdict(False, head_seq - 1, head_seq, reason)
    if entries > head_seq:
        recorded = f"entry #{head_seq} as the last" if head else "no entry at all"
        reason = (
            f"the database records {recorded}: this entry was added outside Intake,"
            " or the machine stopped between writing it and recording it"
        )
        return Verdict(False, head_seq, head_seq + 1, reason)
    return Verdict(True, entries, None, None, last)


def _read_line(raw: bytes, seq: int, before: dict | None) -> tuple[dict | None, str | None]:
    """Read line `seq` of the log, given the entry before it: (entry, None) or (None, problem)."""
    if not raw.endswith(b"\n"):
        if len(raw) > MAX_LINE:
            return None, f"the line is longer than {MAX_LINE} bytes"
        return None, "the line has no newline at its end: a write was cut off, or bytes changed"
    try:
        entry = canonical.decode(raw[:-1])
    except canonical.CanonicalJSONError as e:
        return None, f"the line is not an entry ({e})"
    problem = _problem(entry, with_hash=True)
    if problem:
        return None, problem
    if entry["seq"] != seq:
        return None, f"its number is {entry['seq']}, expected {seq}"
    if entry["prev"] != (before["hash"] if before else GENESIS):
        previous = f"entry #{seq - 1}" if before else "the start of the log"
        return None, f"it does not follow {previous} (prev is not that entry's hash)"
    if entry["hash"] != entry_hash(entry):
        return None, "its hash does not match its content"
    return entry, None


def _problem(entry, *, with_hash: bool) -> str | None:
    """Say what is wrong with an entry's form (keys, types, sizes), or None."""
    if not isinstance(entry, dict):
        return "the line is not a JSON object"
    expected = set(FIELDS) if with_hash else set(FIELDS) - {"hash"}
    if set(entry) != expected:
        return f"its fields are {', '.join(sorted(entry))}; expected {', '.join(sorted(expected))}"
    if type(entry["seq"]) is not int or entry["seq"] < 1:
        return "seq is not a positive whole number"
    if not isinstance(entry["time"], str) or not _TIME.match(entry["time"]):
        return "time is not a UTC time like 2026-01-31T12:00:00Z"
    if not _short_text(entry["actor"], MAX_ACTOR):
        return f"actor is not a name of 1 to {MAX_ACTOR} characters"
    if entry["action"] not in ACTIONS:
        return f"action {str(entry['action'])[:40]!r} is not one of {', '.join(ACTIONS)}"
    if entry["subject"] is not None and not _short_text(entry["subject"], MAX_SUBJECT):
        return f"subject is neither null nor a text of 1 to {MAX_SUBJECT} characters"
    if entry["detail"] is not None and not _small_detail(entry["detail"]):
        return (
            f"detail is neither null nor an object of at most {MAX_DETAIL_KEYS} short keys"
            f" (a-z, 0-9, _) whose values are whole numbers or texts of at most"
            f" {MAX_DETAIL_VALUE} characters"
        )
    hashes = ("prev", "hash") if with_hash else ("prev",)
    if any(not isinstance(entry[k], str) or not _HEX64.match(entry[k]) for k in hashes):
        return "prev or hash is not 64 lower-case hex digits"
    return None


def _short_text(value, limit: int) -> bool:
    return isinstance(value, str) and 0 < len(value) <= limit


def _small_detail(detail) -> bool:
    return (
        isinstance(detail, dict)
        and len(detail) <= MAX_DETAIL_KEYS
        and all(isinstance(k, str) and _DETAIL_KEY.match(k) for k in detail)
        and all(
            (type(v) is int and abs(v) <= canonical.MAX_SAFE_INTEGER)
            or (isinstance(v, str) and len(v) <= MAX_DETAIL_VALUE)
            for v in detail.values()
        )
    )


# -- the head in the database, the file on disk ----------------------------


def _head(database) -> dict | str | None:
    """Return the head the database records ({seq, hash}), None, or why it is unreadable."""
    value = db.get_pull_state(database, HEAD_KEY)
    if value is None or value == NO_HEAD:
        return None
    try:
        head = canonical.decode(value.encode("utf-8"))
    except canonical.CanonicalJSONError:
        head = None
    if (
        not isinstance(head, dict)
        or set(head) != {"seq", "hash"}
        or type(head["seq"]) is not int
        or head["seq"] < 1
        or not isinstance(head["hash"], str)
        or not _HEX64.match(head["hash"])
    ):
        return "the head of the log recorded in the database is unreadable"
    return head


def _set_head(database, entry: dict) -> None:
    head = {"hash": entry["hash"], "seq": entry["seq"]}
    db.set_pull_state(database, HEAD_KEY, canonical.encode(head).decode("utf-8"))


def _last_entry(path: Path, head: dict | str | None) -> dict | None:
    """Return the log's last entry, checking that it is the head the database records.

    One disagreement is taken as it is: the file holds one valid entry past
    the head, chained to it. That is what a power cut between writing an
    entry and recording it leaves, or a caller's transaction that failed
    after the append; refusing it would stop the workspace for a log that is
    intact. (`verify` still reports it until the next append.)
    """
    if isinstance(head, str):
        raise AuditError(f"{head}: run intake audit verify")
    last = _tail(path)
    head_seq, head_hash = (head["seq"], head["hash"]) if head else (0, GENESIS)
    if last is None and head is None:
        return None
    if last is not None and (last["seq"], last["hash"]) == (head_seq, head_hash):
        return last
    if last is not None and (last["seq"], last["prev"]) == (head_seq + 1, head_hash):
        return last
    raise AuditError(
        "the audit log does not end with the entry the database records: run intake audit verify"
    )


def _tail(path: Path) -> dict | None:
    """Return the log's last entry, checked on its own; None for an empty or missing log."""
    try:
        with open(path, "rb") as f:
            size = f.seek(0, os.SEEK_END)
            start = f.seek(max(0, size - MAX_LINE - 2))
            data = f.read()
    except FileNotFoundError:
        return None
    if not data:
        return None
    if not data.endswith(b"\n"):
        raise AuditError("the audit log's last line is cut off: run intake audit verify")
    raw = data[:-1].rsplit(b"\n", 1)
    if len(raw) == 1 and start > 0:  # no line break in the tail: a line longer than MAX_LINE
        raise AuditError("the audit log's last entry is damaged: run intake audit verify")
    try:
        entry = canonical.decode(raw[-1])
    except canonical.CanonicalJSONError:
        entry = None
    if _problem(entry, with_hash=True) or entry["hash"] != entry_hash(entry):
        raise AuditError("the audit log's last entry is damaged: run intake audit verify")
    return entry


def _write_line(path: Path, line: bytes) -> None:
    """Append a line and wait until it is on disk: an audit entry must survive a power cut."""
    created = not path.exists()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        written = 0
        while written < len(line):
            written += os.write(fd, line[written:])
        os.fsync(fd)
    finally:
        os.close(fd)
    if created:  # the new file's name must survive a power cut as well
        _fsync_folder(path.parent)


def _fsync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """Hold the log's lock: one writer at a time, across threads and processes.

    Taken after the database's write transaction, never before it, so that
    every writer takes the two in the same order.
    """
    fd = os.open(folder / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock
