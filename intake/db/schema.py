"""The connection and the numbered schema migrations."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import sqlite_utils
from sqlite_utils.migrations import Migrations

DATABASE_NAME = "intake.sqlite3"
# How long a writer waits for its turn. Transactions here last milliseconds;
# thirty seconds of waiting means something is wrong, not busy.
BUSY_TIMEOUT_SECONDS = 30

migrations = Migrations("intake")


@migrations(name="0001_outbox")
def _m0001_outbox(db: sqlite_utils.Database) -> None:
    db["outbox"].create(
        {
            "id": str,  # the record's UUID, made on the device when the record is born
            "kind": str,
            "created": str,
            "envelope": bytes,
            "state": str,  # pending | acknowledged
            "stored": str,
            "acknowledged": str,
        },
        pk="id",
        not_null={"kind", "created", "envelope", "state", "stored"},
    )
    db["outbox"].create_index(["state", "created"])
    db["exports"].create(
        {"batch_id": str, "created": str, "count": int},
        pk="batch_id",
    )


@migrations(name="0002_accounts_and_drafts")
def _m0002_accounts_and_drafts(db: sqlite_utils.Database) -> None:
    db["users"].create(
        {
            "id": str,
            "username": str,
            "role": str,
            "password": str,  # Argon2id PHC string: parameters, salt, hash
            "draft_kdf": str,  # JSON: salt and Argon2id parameters of the draft key
            "created": str,
            "disabled": int,
        },
        pk="id",
        not_null={"username", "role", "password", "draft_kdf", "created"},
        defaults={"disabled": 0},
    )
    db["users"].create_index(["username"], unique=True)
    db["sign_in_failures"].create(
        {"username": str, "failures": int, "last_failure": float, "locked_until": float},
        pk="username",
    )
    # A draft is an interview in progress: only its owner's key opens it.
    db["drafts"].create(
        {
            "id": str,  # becomes the record's UUID when the interview is finished
            "user_id": str,
            "questionnaire": str,
            "created": str,
            "expires": float,
            "sealed": bytes,  # nonce || AES-256-GCM ciphertext
        },
        pk="id",
        not_null={"user_id", "questionnaire", "created", "expires", "sealed"},
        foreign_keys=[("user_id", "users", "id")],
    )
    db["drafts"].create_index(["user_id"])
    db["drafts"].create_index(["expires"])


@migrations(name="0003_hub_and_sync")
def _m0003_hub_and_sync(db: sqlite_utils.Database) -> None:
    # Hub: enrolled devices, one-time enrolment codes (hashed), envelopes it
    # cannot open, and the batches they came in.
    db["devices"].create(
        {
            "id": str,  # the device id: key id of its Ed25519 public key
            "name": str,
            "public_key": str,  # raw Ed25519 public key, hex
            "enrolled": str,
            "last_seen": str,
            "records_received": int,
            "revoked": str,
        },
        pk="id",
        not_null={"name", "public_key", "enrolled"},
        defaults={"records_received": 0},
    )
    db["enrol_codes"].create(
        {"code_hash": str, "name": str, "created": str, "expires": float, "used": str},
        pk="code_hash",
        not_null={"name", "created", "expires"},
    )
    db["envelopes"].create(
        {
            "id": str,  # the record's UUID: stored at most once, however often sent
            "kind": str,
            "created": str,
            "device": str,
            "batch_id": str,
            "received": str,
            "envelope": bytes,
        },
        pk="id",
        not_null={"kind", "created", "device", "batch_id", "received", "envelope"},
    )
    db["envelopes"].create_index(["received"])
    db["batches"].create(
        {
            "batch_id": str,
            "device": str,
            "received": str,
            "count": int,
            "stored": int,
            "duplicates": int,
            "rejected": int,
            "source": str,  # http | file
        },
        pk="batch_id",
    )
    db["batches"].create_index(["received"])
    # Field: where this device syncs to, and how the last attempt went.
    db["sync_state"].create(
        {"key": str, "value": str},
        pk="key",
    )


@migrations(name="0004_envelopes_per_device")
def _m0004_envelopes_per_device(db: sqlite_utils.Database) -> None:
    # Hub. Keyed by record id alone, one device could store decoys under
    # another's ids (readable in any batch it saw) and make the hub refuse
    # the real records as conflicts. Each device now has its own id space;
    # every row keeps the device it came from.
    db.execute("ALTER TABLE envelopes RENAME TO envelopes_0003")
    db.execute("DROP INDEX IF EXISTS idx_envelopes_received")
    db["envelopes"].create(
        {
            "device": str,  # the device that sealed and signed it
            "id": str,  # the record's UUID: stored at most once per device
            "kind": str,
            "created": str,
            "batch_id": str,
            "received": str,
            "envelope": bytes,
        },
        pk=("device", "id"),
        not_null={"kind", "created", "batch_id", "received", "envelope"},
    )
    db.execute(
        "INSERT INTO envelopes (device, id, kind, created, batch_id, received, envelope)"
        " SELECT device, id, kind, created, batch_id, received, envelope FROM envelopes_0003"
    )
    db.execute("DROP TABLE envelopes_0003")
    db["envelopes"].create_index(["received"])


@migrations(name="0005_outbox_refusals")
def _m0005_outbox_refusals(db: sqlite_utils.Database) -> None:
    # Field. A record the hub refused used to be set aside for good (state
    # 'rejected'): never sent again, never exported. It now stays pending and
    # keeps the hub's last reason, so that it is retried and shown as needing
    # attention; records set aside before this version are pending again.
    db["outbox"].add_column("refused", str)  # the hub's last reason for refusing it
    db["outbox"].add_column("refused_at", str)
    db.execute(
        "UPDATE outbox SET state = 'pending', refused = ?, refused_at = NULL"
        " WHERE state = 'rejected'",
        ["refused by the hub before this version; sent again"],
    )


@migrations(name="0006_envelope_signatures")
def _m0006_envelope_signatures(db: sqlite_utils.Database) -> None:
    # Hub. Workspaces pull envelopes one by one, in the order the hub took
    # them: `seq` is that order, an explicit key so that VACUUM cannot
    # renumber it, AUTOINCREMENT so that no number is ever used twice. Each
    # record of a v2 batch keeps its device's signature (null for records
    # that came in v1 batches), so a workspace can check its origin itself.
    db.execute("ALTER TABLE envelopes RENAME TO envelopes_0005")
    db.execute("DROP INDEX IF EXISTS idx_envelopes_received")
    db.execute(
        "CREATE TABLE envelopes ("
        " seq INTEGER PRIMARY KEY AUTOINCREMENT,"
        " device TEXT NOT NULL,"  # the device that sealed and signed it
        " id TEXT NOT NULL,"  # the record's UUID: stored at most once per device
        " kind TEXT NOT NULL, created TEXT NOT NULL, batch_id TEXT NOT NULL,"
        " received TEXT NOT NULL, envelope BLOB NOT NULL,"
        " signature BLOB,"  # the device's record signature (batch v2); null if from v1
        " UNIQUE (device, id))"
    )
    db.execute(
        "INSERT INTO envelopes (device, id, kind, created, batch_id, received, envelope)"
        " SELECT device, id, kind, created, batch_id, received, envelope FROM envelopes_0005"
        " ORDER BY rowid"
    )
    db.execute("DROP TABLE envelopes_0005")
    db["envelopes"].create_index(["received"])
    # A v1 batch has one signature for all its records: to check it again
    # later, keep its exact header, its signature and the order of its ids.
    db["v1_batches"].create(
        {
            "batch_id": str,
            "device": str,
            "header": bytes,
            "signature": bytes,
            "ids": str,  # JSON array of the record ids, in batch order
        },
        pk=("device", "batch_id"),  # batch ids are the devices' own, like record ids
        not_null={"header", "signature", "ids"},
    )


@migrations(name="0007_coordinator_tokens_and_workspace")
def _m0007_coordinator_tokens_and_workspace(db: sqlite_utils.Database) -> None:
    # Hub: the coordinators' access tokens, kept only as SHA-256 hashes (a
    # copy of the database hands nobody a token).
    db["coordinator_tokens"].create(
        {"token_hash": str, "name": str, "created": str, "revoked": str},
        pk="token_hash",
        not_null={"name", "created"},
    )
    db["coordinator_tokens"].create_index(["name"], unique=True)
    # Workspace: the device keys it pinned (named apart from the hub's
    # `devices`: every migration runs on every role's database) ...
    db["workspace_devices"].create(
        {
            "device": str,
            "name": str,
            "enrolled": str,
            "public_key": str,  # 64 hex digits, raw Ed25519
            "fingerprint": str,
            "pinned_at": str,
            "revoked": str,  # as the hub last said
            "state": str,  # pinned | key-changed (the hub offered another key)
        },
        pk="device",
        not_null={"name", "public_key", "fingerprint", "pinned_at", "state"},
    )
    # ... and the envelopes it holds, still sealed, each with its origin as
    # the workspace itself checked it: only 'verified' ones are cases.
    db["pulled"].create(
        {
            "device": str,
            "id": str,
            "kind": str,
            "created": str,
            "envelope": bytes,
            "signature": bytes,
            "source": str,  # hub | file
            "received": str,
            "origin": str,  # verified | unverifiable | refused
            "reason": str,
        },
        pk=("device", "id"),
        not_null={"kind", "created", "envelope", "source", "received", "origin"},
    )
    db["pulled"].create_index(["origin", "created"])
    db["pull_state"].create({"key": str, "value": str}, pk="key")


@migrations(name="0008_case_store")
def _m0008_case_store(db: sqlite_utils.Database) -> None:
    # Workspace: what its coordinator's key opened. Nothing here is readable
    # without that key: the store key is sealed to it (store_meta), and the
    # case summaries the list, filters and search need are kept in chunks
    # encrypted under the store key. A case's workflow status (new, in
    # review, referred, closed) is not an answer and stays in the clear, so
    # that it can change without rewriting a chunk.
    db["store_meta"].create({"key": str, "value": bytes}, pk="key", not_null={"value"})
    db["case_chunks"].create(
        {"chunk": int, "nonce": bytes, "data": bytes, "cases": int, "written": str},
        pk="chunk",
        not_null={"nonce", "data", "cases", "written"},
    )
    db["cases"].create(
        {
            "device": str,
            "id": str,
            "chunk": int,  # the index chunk that holds its summary (null: not opened)
            "state": str,  # opened | not_for_key | unopenable
            "reason": str,
            "status": str,  # new | in_review | referred | closed
            "status_changed": str,
            "status_by": str,
        },
        pk=("device", "id"),
        not_null={"state", "status"},
    )


class Database(sqlite_utils.Database):
    """sqlite-utils' Database whose write transactions wait their turn, never fail.

    sqlite-utils' `atomic()` opens a plain (deferred) `BEGIN`: the transaction
    reads first (the table's schema, or a row to check), and when it then
    writes, SQLite cannot wait for the writer lock without breaking the
    snapshot it read, so it answers SQLITE_BUSY at once, busy timeout or not
    ("database is locked"). `BEGIN IMMEDIATE` takes the writer lock before
    the first read, waiting up to the busy timeout for it. Writers of one
    process also queue on a lock of their own, so they are served in turn
    instead of polling SQLite's lock.
    """

    def __init__(self, conn: sqlite3.Connection, path: Path):
        super().__init__(conn)
        self.write_lock = _write_lock(path)

    @contextlib.contextmanager
    def atomic(self) -> Iterator[Database]:
        """Run the block in one write transaction (a savepoint when nested)."""
        if self.conn.in_transaction:
            with super().atomic():
                yield self
            return
        if not self.write_lock.acquire(timeout=BUSY_TIMEOUT_SECONDS):
            raise sqlite3.OperationalError("database is locked (no turn to write in time)")
        try:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self
            except BaseException:
                self.rollback()
                raise
            try:
                self.conn.execute("COMMIT")
            except BaseException:
                self.rollback()
                raise
        finally:
            self.write_lock.release()


_write_locks: dict[str, threading.Lock] = {}
_write_locks_guard = threading.Lock()


def _write_lock(path: Path) -> threading.Lock:
    """Return this process's lock for writing to the database file at `path`."""
    key = os.path.realpath(path)
    with _write_locks_guard:
        return _write_locks.setdefault(key, threading.Lock())


def connect(path: Path) -> Database:
    """Open the database in WAL mode, with temp tables kept out of temp files."""
    conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_SECONDS, check_same_thread=False)
    # A write outside atomic() (one statement) also takes the writer lock first.
    conn.isolation_level = "IMMEDIATE"
    db = Database(conn, path)
    # WAL is a property of the file: switch once. Switching takes a lock that a
    # busy timeout does not cover, so asking on every open could fail needlessly.
    if db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
        db.execute("PRAGMA journal_mode=WAL")
    # FULL: a sealed record is on disk before the officer is told it is saved.
    db.execute("PRAGMA synchronous=FULL")
    # No spill of sort or temp data to files: nothing here is readable anyway,
    # but a temp file is one more place a canary scan would have to trust.
    db.execute("PRAGMA temp_store=MEMORY")
    db.execute("PRAGMA foreign_keys=ON")
    # Overwrite deleted rows (finished or expired drafts): sealed anyway, but
    # an old draft's ciphertext should not outlive the draft.
    db.execute("PRAGMA secure_delete=ON")
    return db


def open_database(instance_dir: Path) -> sqlite_utils.Database:
    """Open an instance's database and bring its schema up to date."""
    db = connect(Path(instance_dir) / DATABASE_NAME)
    if migrations.pending(db):
        # Checked again inside one write transaction: two processes opening a
        # new database at once cannot both run a step.
        with db.atomic():
            migrations.apply(db)
    return db
