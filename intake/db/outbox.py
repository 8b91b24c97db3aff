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


STORED, HELD, CONFLICT = "stored", "held", "conflict"


def take_envelope(db: sqlite_utils.Database, sealed: SealedRecord, user_id: str) -> str:
    """Keep an envelope sealed in the browser; end the user's draft of the same id, if any.

    Returns STORED, HELD (these very bytes are kept already) or CONFLICT
    (another envelope, or another user's open interview, holds the id), in
    one transaction, so two tabs sending the same envelope at once store it once.
    """
    with db.atomic():
        row = db.execute("SELECT envelope FROM outbox WHERE id = ?", [sealed.record_id]).fetchone()
        if row is not None:
            return HELD if row[0] == sealed.data else CONFLICT
        owner = db.execute("SELECT user_id FROM drafts WHERE id = ?", [sealed.record_id]).fetchone()
        if owner is not None and owner[0] != user_id:
            return CONFLICT
        # An interview begun on the node and finished in the browser: its draft ends here,
        # or finishing it on the node as well would seal a second record under the same id.
        dropped = db.execute("DELETE FROM drafts WHERE id = ?", [sealed.record_id]).rowcount
        _insert_outbox(db, sealed)
    if dropped:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # as drafts.checkpoint: no old draft kept
    return STORED


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
    """Count records not yet acknowledged by the hub (refused ones included: they wait too)."""
    return db.execute("SELECT count(*) FROM outbox WHERE state = 'pending'").fetchone()[0]


def outbox_summary(db: sqlite_utils.Database) -> dict[str, int]:
    """Count outbox records by state, and the pending ones the hub last refused."""
    rows = db.execute("SELECT state, count(*) FROM outbox GROUP BY state").fetchall()
    attention = db.execute(
        "SELECT count(*) FROM outbox WHERE state = 'pending' AND refused IS NOT NULL"
    ).fetchone()[0]
    return {"pending": 0, "acknowledged": 0, **dict(rows), "attention": attention}


def refused_records(db: sqlite_utils.Database, limit: int = 20) -> list[dict]:
    """Return pending records the hub last refused, with its reason, oldest first."""
    rows = db.execute(
        "SELECT id, refused_at, refused FROM outbox WHERE state = 'pending'"
        " AND refused IS NOT NULL ORDER BY created, id LIMIT ?",
        [limit],
    ).fetchall()
    return [{"id": i, "refused_at": at, "reason": reason} for i, at, reason in rows]


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


def pending_chunk(
    db: sqlite_utils.Database, limit: int, after: tuple[str, str] | None = None
) -> list[tuple[str, str, bytes]]:
    """Return up to `limit` unacknowledged (id, created, envelope), oldest first.

    `after` is the (created, id) of the last record already sent in this
    pass, so that records the hub refused are passed over until the next one.
    """
    created, record_id = after or ("", "")
    return db.execute(
        "SELECT id, created, envelope FROM outbox WHERE state = 'pending'"
        " AND (created, id) > (?, ?) ORDER BY created, id LIMIT ?",
        [created, record_id, limit],
    ).fetchall()


def _acknowledge_one(db, record_id: str, now: str, keep: bool) -> int:
    # Only a pending record: a receipt replayed later does not stretch the retention.
    if keep:
        cursor = db.execute(
            "UPDATE outbox SET state = 'acknowledged', acknowledged = ?, refused = NULL"
            " WHERE id = ? AND state = 'pending'",
            [now, record_id],
        )
    else:
        cursor = db.execute("DELETE FROM outbox WHERE id = ? AND state = 'pending'", [record_id])
    return cursor.rowcount


def acknowledge(db: sqlite_utils.Database, ids: list[str], now: str, keep: bool) -> int:
    """Mark records the hub holds; delete them at once unless they are to be kept a while."""
    with db.atomic():
        return sum(_acknowledge_one(db, record_id, now, keep) for record_id in ids)


def record_hub_answers(db, results: list[dict], now: str, keep: bool) -> tuple[int, int]:
    """Take the hub's per-record answers; return (records forgotten, records refused).

    Only "stored" and "duplicate" (already held) let the device forget a
    record. Any other answer, whatever its reason, leaves the record pending:
    it is sent and exported again, and shown as needing attention. A hub
    answer must never make a device drop a record the hub does not hold.
    """
    cleared = refused = 0
    with db.atomic():
        for result in results:
            if result["status"] in ("stored", "duplicate"):
                cleared += _acknowledge_one(db, result["id"], now, keep)
            else:
                reason = str(result.get("reason") or result["status"])[:200]
                refused += db.execute(
                    "UPDATE outbox SET refused = ?, refused_at = ?"
                    " WHERE id = ? AND state = 'pending'",
                    [reason, now, result["id"]],
                ).rowcount
    return cleared, refused


def purge_acknowledged(db: sqlite_utils.Database, before: str) -> int:
    """Delete acknowledged records older than the retention time; return how many."""
    with db.atomic():
        cursor = db.execute(
            "DELETE FROM outbox WHERE state = 'acknowledged' AND acknowledged < ?", [before]
        )
    return cursor.rowcount
