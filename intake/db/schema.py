"""The connection and the numbered schema migrations."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import sqlite_utils
from sqlite_utils.migrations import Migrations

DATABASE_NAME = "intake.sqlite3"

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


def connect(path: Path) -> sqlite_utils.Database:
    """Open the database in WAL mode, with temp tables kept out of temp files."""
    conn = sqlite3.connect(str(path), timeout=30, check_same_thread=False)
    db = sqlite_utils.Database(conn)
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
    migrations.apply(db)
    return db
