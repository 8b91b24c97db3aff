"""The field device's outbox of sealed records."""

from __future__ import annotations

from collections.abc import Iterator

import sqlite_utils

from intake.envelope import SealedRecord, utc_now


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
    return {"pending": 0, "acknowledged": 0, "rejected": 0, **dict(rows)}


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


def pending_chunk(db: sqlite_utils.Database, limit: int) -> list[tuple[str, bytes]]:
    """Return up to `limit` unacknowledged (id, envelope) pairs, oldest first."""
    return db.execute(
        "SELECT id, envelope FROM outbox WHERE state = 'pending' ORDER BY created, id LIMIT ?",
        [limit],
    ).fetchall()


def acknowledge(db: sqlite_utils.Database, ids: list[str], now: str, keep: bool) -> None:
    """Mark records the hub holds; delete them at once unless they are to be kept a while."""
    with db.atomic():
        for record_id in ids:
            if keep:
                db.execute(
                    "UPDATE outbox SET state = 'acknowledged', acknowledged = ? WHERE id = ?",
                    [now, record_id],
                )
            else:
                db.execute("DELETE FROM outbox WHERE id = ?", [record_id])


def mark_rejected(db: sqlite_utils.Database, record_id: str) -> None:
    """Set aside a record the hub refused, so that it is not sent again and again."""
    with db.atomic():
        db.execute("UPDATE outbox SET state = 'rejected' WHERE id = ?", [record_id])


def purge_acknowledged(db: sqlite_utils.Database, before: str) -> int:
    """Delete acknowledged records older than the retention time; return how many."""
    with db.atomic():
        cursor = db.execute(
            "DELETE FROM outbox WHERE state = 'acknowledged' AND acknowledged < ?", [before]
        )
    return cursor.rowcount
