"""Storage of the workspace's case store: the sealed store key, encrypted summary chunks, statuses.

Only ciphertext and workflow metadata pass through here; the crypto and the
meaning of a chunk live in `intake.workspace.casestore`.
"""

from __future__ import annotations

STATUSES = ("new", "in_review", "referred", "closed")


def get_meta(db, key: str) -> bytes | None:
    """Return a value of the case store's metadata (the sealed store key)."""
    row = db.execute("SELECT value FROM store_meta WHERE key = ?", [key]).fetchone()
    return row[0] if row else None


def set_meta_once(db, key: str, value: bytes) -> bytes:
    """Store a value unless one is there already; return the one that is kept.

    Two coordinators unlocking at once must end up with one store key, not
    each with a key the other's chunks do not open.
    """
    with db.atomic():
        db.execute("INSERT OR IGNORE INTO store_meta (key, value) VALUES (?, ?)", [key, value])
        return db.execute("SELECT value FROM store_meta WHERE key = ?", [key]).fetchone()[0]


def unopened(db, limit: int):
    """Return up to `limit` verified envelopes not yet in the case store: (device, id, envelope)."""
    if count_unopened(db) == 0:
        return []
    return db.execute(
        "SELECT p.device, p.id, p.envelope FROM pulled p"
        " LEFT JOIN cases c ON c.device = p.device AND c.id = p.id"
        " WHERE p.origin = 'verified' AND c.id IS NULL"
        " ORDER BY p.created, p.device, p.id LIMIT ?",
        [limit],
    ).fetchall()


def count_unopened(db) -> int:
    """Count the verified envelopes not yet in the case store.

    Every row of `cases` is a verified envelope (one never loses that
    origin), so the difference of two indexed counts is the answer, without
    a join over every envelope.
    """
    verified = db.execute("SELECT count(*) FROM pulled WHERE origin = 'verified'").fetchone()[0]
    return verified - db.execute("SELECT count(*) FROM cases").fetchone()[0]


def next_chunk(db) -> int:
    """Return the number the next chunk will take (call inside the write transaction)."""
    return db.execute("SELECT coalesce(max(chunk), 0) + 1 FROM case_chunks").fetchone()[0]


def store_chunk(
    db, chunk: int, nonce: bytes, data: bytes, written: str, opened, failed
) -> int | None:
    """Store one encrypted chunk of summaries and its cases in one transaction.

    `opened` are the (device, id) the chunk summarises; `failed` are
    (device, id, state, reason) of envelopes this key could not open. An
    envelope already stored (another unlock got there first) is left alone.
    Return the chunk's number, or None if there was nothing new to store.
    """
    with db.atomic():
        fresh = [
            key
            for key in opened
            if not db.execute(
                "SELECT 1 FROM cases WHERE device = ? AND id = ?", list(key)
            ).fetchone()
        ]
        stored = None
        if fresh:
            if len(fresh) != len(opened) or next_chunk(db) != chunk:
                return None  # raced: another unlock's chunk holds these; this one is dropped
            stored = chunk
            db.execute(
                "INSERT INTO case_chunks (chunk, nonce, data, cases, written)"
                " VALUES (?, ?, ?, ?, ?)",
                [chunk, nonce, data, len(fresh), written],
            )
            db.conn.executemany(
                "INSERT INTO cases (device, id, chunk, state, status)"
                " VALUES (?, ?, ?, 'opened', 'new')",
                [(d, i, chunk) for d, i in fresh],
            )
        db.conn.executemany(
            "INSERT OR IGNORE INTO cases (device, id, state, reason, status)"
            " VALUES (?, ?, ?, ?, 'new')",
            list(failed),
        )
    return stored


def count_opened(db) -> int:
    """Count the cases whose summary a chunk holds."""
    return db.execute("SELECT count(*) FROM cases WHERE state = 'opened'").fetchone()[0]


def forget_store(db) -> list[tuple]:
    """Empty the case store (chunks, cases, key check); return the statuses ever changed."""
    with db.atomic():
        kept = db.execute(
            "SELECT device, id, status, status_changed, status_by FROM cases"
            " WHERE status_changed IS NOT NULL"
        ).fetchall()
        db.execute("DELETE FROM case_chunks")
        db.execute("DELETE FROM cases")
        db.execute("DELETE FROM store_meta")
    return [tuple(r) for r in kept]


def restore_statuses(db, kept: list[tuple]) -> None:
    """Put back the statuses `forget_store` returned, on the cases opened again."""
    with db.atomic():
        db.conn.executemany(
            "UPDATE cases SET status = ?, status_changed = ?, status_by = ?"
            " WHERE device = ? AND id = ? AND state = 'opened'",
            [(s, when, by, d, i) for d, i, s, when, by in kept],
        )


def chunks(db, after: int = 0):
    """Yield every encrypted chunk after a number: (chunk, nonce, data), in order."""
    yield from db.execute(
        "SELECT chunk, nonce, data FROM case_chunks WHERE chunk > ? ORDER BY chunk", [after]
    )


def statuses(db) -> dict[tuple[str, str], tuple[str, str | None]]:
    """Return (status, when it last changed) by (device, id) of every case ever moved.

    A case not here is "new" and never changed: most of them, so they are not read.
    """
    return {
        (r[0], r[1]): (r[2], r[3])
        for r in db.execute(
            "SELECT device, id, status, status_changed FROM cases"
            " WHERE state = 'opened' AND status_changed IS NOT NULL"
        )
    }


def set_status(db, device: str, record_id: str, status: str, by: str, now: str) -> str | None:
    """Change a case's status; return the status it had, or None if there is no such case."""
    if status not in STATUSES:
        raise ValueError(f"unknown status {status!r}")
    with db.atomic():
        row = db.execute(
            "SELECT status FROM cases WHERE device = ? AND id = ? AND state = 'opened'",
            [device, record_id],
        ).fetchone()
        if row is None:
            return None
        db.execute(
            "UPDATE cases SET status = ?, status_changed = ?, status_by = ?"
            " WHERE device = ? AND id = ?",
            [status, now, by, device, record_id],
        )
    return row[0]


def not_opened(db) -> list[dict]:
    """Return the verified records this workspace's key could not open, with the reason."""
    return [
        dict(zip(("device", "id", "state", "reason"), r, strict=True))
        for r in db.execute(
            "SELECT device, id, state, reason FROM cases WHERE state != 'opened'"
            " ORDER BY device, id"
        )
    ]


def verified_envelope(db, device: str, record_id: str) -> tuple[bytes, bytes | None] | None:
    """Return one verified envelope's bytes and its record signature, or None."""
    row = db.execute(
        "SELECT envelope, signature FROM pulled"
        " WHERE device = ? AND id = ? AND origin = 'verified'",
        [device, record_id],
    ).fetchone()
    return (row[0], row[1]) if row else None
