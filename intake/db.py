"""Storage: the one module that talks to SQLite.

Field devices will carry old databases for years, so the schema only ever
changes through numbered migrations. Every table keeps sealed envelopes or
metadata, never an answer in the clear (DESIGN invariant 1).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import sqlite_utils
from sqlite_utils.migrations import Migrations

from intake.envelope import SealedRecord, utc_now

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


def connect(path: Path) -> sqlite_utils.Database:
    """Open the database in WAL mode, with temp tables kept out of temp files."""
    conn = sqlite3.connect(str(path), timeout=30, check_same_thread=False)
    db = sqlite_utils.Database(conn)
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


# -- outbox (field) -------------------------------------------------------


def add_to_outbox(db: sqlite_utils.Database, sealed: SealedRecord) -> bool:
    """Keep a sealed record until the hub acknowledges it; False if already kept."""
    with db.atomic():
        if db.execute("SELECT 1 FROM outbox WHERE id = ?", [sealed.record_id]).fetchone():
            return False
        _insert_outbox(db, sealed)
    return True


def _insert_outbox(db: sqlite_utils.Database, sealed: SealedRecord) -> None:
    db["outbox"].insert(
        {
            "id": sealed.record_id,
            "kind": sealed.kind,
            "created": sealed.created,
            "envelope": sealed.data,
            "state": "pending",
            "stored": utc_now(),
            "acknowledged": None,
        }
    )


def count_pending(db: sqlite_utils.Database) -> int:
    """Count records not yet acknowledged by the hub."""
    return db.execute("SELECT count(*) FROM outbox WHERE state = 'pending'").fetchone()[0]


def outbox_summary(db: sqlite_utils.Database) -> dict[str, int]:
    """Count outbox records by state."""
    rows = db.execute("SELECT state, count(*) FROM outbox GROUP BY state").fetchall()
    return {"pending": 0, "acknowledged": 0, **dict(rows)}


def pending_envelopes(db: sqlite_utils.Database) -> Iterator[bytes]:
    """Yield every unacknowledged envelope, oldest first, one row at a time."""
    cursor = db.execute("SELECT envelope FROM outbox WHERE state = 'pending' ORDER BY created, id")
    for (envelope,) in cursor:
        yield envelope


def record_export(db: sqlite_utils.Database, batch_id: str, created: str, count: int) -> None:
    """Remember that a batch file was written (it is not an acknowledgement)."""
    db["exports"].insert({"batch_id": batch_id, "created": created, "count": count})


def last_export(db: sqlite_utils.Database) -> dict | None:
    """Return the most recent export, if any."""
    rows = list(db["exports"].rows_where(order_by="created desc", limit=1))
    return rows[0] if rows else None


# -- users and sign-in (field) -------------------------------------------


class DuplicateUserError(Exception):
    """A user with that name exists already."""


def add_user(db: sqlite_utils.Database, user: dict) -> None:
    """Store a new user; DuplicateUserError if the name is taken."""
    try:
        with db.atomic():
            db["users"].insert(user)
    except sqlite3.IntegrityError:
        raise DuplicateUserError(user["username"]) from None


def user_by_name(db: sqlite_utils.Database, username: str) -> dict | None:
    """Return an enabled user by name."""
    rows = list(db["users"].rows_where("username = ? AND disabled = 0", [username], limit=1))
    return rows[0] if rows else None


def user_by_id(db: sqlite_utils.Database, user_id: str) -> dict | None:
    """Return an enabled user by id."""
    rows = list(db["users"].rows_where("id = ? AND disabled = 0", [user_id], limit=1))
    return rows[0] if rows else None


def list_users(db: sqlite_utils.Database) -> list[dict]:
    """Return every user's name, role and state (no secrets)."""
    return list(
        db["users"].rows_where(select="username, role, created, disabled", order_by="username")
    )


def set_user_disabled(db: sqlite_utils.Database, username: str, disabled: bool) -> bool:
    """Disable or enable a user; False if there is no such user."""
    with db.atomic():
        cursor = db.execute(
            "UPDATE users SET disabled = ? WHERE username = ?", [int(disabled), username]
        )
    return cursor.rowcount > 0


def sign_in_failures(db: sqlite_utils.Database, username: str) -> dict:
    """Return the failed sign-in count and lock of a user name."""
    row = db.execute(
        "SELECT failures, last_failure, locked_until FROM sign_in_failures WHERE username = ?",
        [username],
    ).fetchone()
    failures, last, locked = row or (0, 0.0, 0.0)
    return {"failures": failures, "last_failure": last, "locked_until": locked}


def record_sign_in_failure(db, username: str, now: float, locked_until: float) -> None:
    """Count one more failed sign-in for a user name."""
    with db.atomic():
        db.execute(
            "INSERT INTO sign_in_failures (username, failures, last_failure, locked_until)"
            " VALUES (?, 1, ?, ?) ON CONFLICT(username) DO UPDATE SET"
            " failures = failures + 1, last_failure = excluded.last_failure,"
            " locked_until = excluded.locked_until",
            [username, now, locked_until],
        )


def clear_sign_in_failures(db: sqlite_utils.Database, username: str) -> None:
    """Forget failed sign-ins after a success (or an administrator's unlock)."""
    with db.atomic():
        db.execute("DELETE FROM sign_in_failures WHERE username = ?", [username])


# -- drafts (field) -------------------------------------------------------


def save_draft(
    db, draft_id: str, user_id: str, questionnaire: str, created: str, expires: float, sealed: bytes
) -> None:
    """Store or replace an encrypted draft."""
    with db.atomic():
        db["drafts"].upsert(
            {
                "id": draft_id,
                "user_id": user_id,
                "questionnaire": questionnaire,
                "created": created,
                "expires": expires,
                "sealed": sealed,
            },
            pk="id",
        )


def draft_for_user(db, draft_id: str, user_id: str, now: float) -> dict | None:
    """Return an unexpired draft if it belongs to the user."""
    rows = db["drafts"].rows_where(
        "id = ? AND user_id = ? AND expires > ?", [draft_id, user_id, now], limit=1
    )
    return next(iter(rows), None)


def drafts_for_user(db, user_id: str, now: float) -> list[dict]:
    """Return a user's unexpired drafts, newest first, without their contents."""
    return list(
        db["drafts"].rows_where(
            "user_id = ? AND expires > ?",
            [user_id, now],
            select="id, questionnaire, created, expires",
            order_by="created desc",
        )
    )


def delete_draft(db, draft_id: str, user_id: str) -> bool:
    """Delete a user's draft; False if it was not there."""
    with db.atomic():
        cursor = db.execute("DELETE FROM drafts WHERE id = ? AND user_id = ?", [draft_id, user_id])
    return cursor.rowcount > 0


def purge_expired_drafts(db, now: float) -> int:
    """Delete drafts past their expiry; return how many."""
    with db.atomic():
        cursor = db.execute("DELETE FROM drafts WHERE expires <= ?", [now])
    return cursor.rowcount


def finish_draft(db, draft_id: str, user_id: str, sealed: SealedRecord) -> bool:
    """Move a finished interview into the outbox and drop its draft, atomically."""
    with db.atomic():
        cursor = db.execute("DELETE FROM drafts WHERE id = ? AND user_id = ?", [draft_id, user_id])
        if cursor.rowcount == 0:
            return False
        _insert_outbox(db, sealed)
    return True
