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
    return True


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
