"""The hub's storage: devices, enrolment codes, envelopes it cannot open, batches."""

from __future__ import annotations

import json

import sqlite_utils


def add_enrol_code(db, code_hash: str, name: str, created: str, expires: float) -> None:
    """Remember a one-time enrolment code (only its hash)."""
    with db.atomic():
        db["enrol_codes"].insert(
            {"code_hash": code_hash, "name": name, "created": created, "expires": expires}
        )


def use_enrol_code(db, code_hash: str, now: float, used: str) -> str | None:
    """Spend an unexpired, unused code; return the device name it was made for.

    One statement: two devices racing with one code cannot both spend it.
    """
    with db.atomic():
        row = db.execute(
            "UPDATE enrol_codes SET used = ? WHERE code_hash = ? AND used IS NULL AND expires > ?"
            " RETURNING name",
            [used, code_hash, now],
        ).fetchone()
    return row[0] if row else None


def enrol_device(db, device_id: str, name: str, public_key_hex: str, now: str) -> None:
    """Register a device's signing key (re-enrolling a revoked key is refused by the caller)."""
    with db.atomic():
        db["devices"].upsert(
            {"id": device_id, "name": name, "public_key": public_key_hex, "enrolled": now},
            pk="id",
        )


def device(db, device_id: str) -> dict | None:
    """Return a device by id."""
    rows = list(db["devices"].rows_where("id = ?", [device_id], limit=1))
    return rows[0] if rows else None


def list_devices(db) -> list[dict]:
    """Return every device, newest first."""
    return list(db["devices"].rows_where(order_by="enrolled desc"))


def revoke_device(db, device_id: str, now: str) -> bool:
    """Refuse a device's batches from now on; False if there is no such device."""
    with db.atomic():
        cursor = db.execute(
            "UPDATE devices SET revoked = ? WHERE id = ? AND revoked IS NULL", [now, device_id]
        )
    return cursor.rowcount > 0


def store_batch(db, batch: dict, envelopes: list[tuple]) -> tuple:
    """Store a verified batch's envelopes at most once each; return (new ids, conflicting ids).

    Each envelope is (id, kind, created, bytes, record signature or None).
    `batch["v1"]`, for a v1 batch, holds its header bytes, signature and ids.

    One transaction: a batch is stored whole or not at all, so a connection
    cut at any point leaves nothing half-written, and sending it again stores
    only what is missing. Ids are the batch's device's own: another device's
    envelope under the same id is another record, so no device can block
    another's records by sending their ids first. An id this device already
    sent with other bytes is a conflict, never a duplicate.
    """
    new, conflicts = [], set()
    with db.atomic():
        for record_id, kind, created, data, signature in envelopes:
            held = db.execute(
                "SELECT envelope, signature FROM envelopes WHERE device = ? AND id = ?",
                [batch["device"], record_id],
            ).fetchone()
            if held is not None:
                if held[0] != data:
                    conflicts.add(record_id)
                elif held[1] is None and signature is not None:
                    _add_signature(db, batch["device"], record_id, signature)
                continue
            db.execute(
                "INSERT INTO envelopes"
                " (id, kind, created, device, batch_id, received, envelope, signature)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    record_id,
                    kind,
                    created,
                    batch["device"],
                    batch["batch_id"],
                    batch["received"],
                    data,
                    signature,
                ],
            )
            new.append(record_id)
        if batch.get("v1"):
            _keep_v1_batch(db, batch)
        duplicates = len(envelopes) - len(new) - len(conflicts)
        # The first arrival of a batch is its record; a replay does not rewrite it.
        db.execute(
            "INSERT OR IGNORE INTO batches"
            " (batch_id, device, received, count, stored, duplicates, rejected, source)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                batch["batch_id"],
                batch["device"],
                batch["received"],
                batch["count"],
                len(new),
                duplicates,
                batch["rejected"] + len(conflicts),
                batch["source"],
            ],
        )
        db.execute(
            "UPDATE devices SET last_seen = ?, records_received = records_received + ?"
            " WHERE id = ?",
            [batch["received"], len(new), batch["device"]],
        )
    return new, conflicts


def _add_signature(db, device_id: str, record_id: str, signature: bytes) -> None:
    """Give a record first received in a v1 batch the signature a v2 batch brought for it.

    The batch reader verified it against the envelope's exact bytes, which
    are the ones held (checked by the caller).
    """
    db.execute(
        "UPDATE envelopes SET signature = ? WHERE device = ? AND id = ? AND signature IS NULL",
        [signature, device_id, record_id],
    )


def _keep_v1_batch(db, batch: dict) -> None:
    """Keep what it takes to verify a v1 batch's signature again, from the envelopes held."""
    v1 = batch["v1"]
    db.execute(
        "INSERT OR IGNORE INTO v1_batches (batch_id, device, header, signature, ids)"
        " VALUES (?, ?, ?, ?, ?)",
        [batch["batch_id"], batch["device"], v1["header"], v1["signature"], json.dumps(v1["ids"])],
    )


def envelope_page(db, after: int, limit: int) -> list[dict]:
    """Return up to `limit` envelopes received after sequence number `after`, oldest first.

    `seq` only grows, in the order the hub stored them, so a workspace that
    keeps the last one it saw resumes where it stopped and misses nothing
    stored meanwhile.
    """
    rows = db.execute(
        "SELECT seq, device, id, envelope, signature FROM envelopes"
        " WHERE seq > ? ORDER BY seq LIMIT ?",
        [after, limit],
    )
    keys = ("seq", "device", "id", "envelope", "signature")
    return [dict(zip(keys, row, strict=True)) for row in rows]


def v1_batch(db, device_id: str, batch_id: str) -> dict | None:
    """Return a v1 batch's header bytes, signature and record ids in order, or None."""
    row = db.execute(
        "SELECT header, signature, ids FROM v1_batches WHERE device = ? AND batch_id = ?",
        [device_id, batch_id],
    ).fetchone()
    if row is None:
        return None
    return {"header": row[0], "signature": row[1], "ids": json.loads(row[2])}


def count_envelopes(db: sqlite_utils.Database) -> int:
    """Count the envelopes the hub holds."""
    return db.execute("SELECT count(*) FROM envelopes").fetchone()[0]


def recent_batches(db, limit: int = 50) -> list[dict]:
    """Return the latest batches received."""
    return list(db["batches"].rows_where(order_by="received desc", limit=limit))


def envelope_ids(db, device: str | None = None) -> set[str]:
    """Return the ids of the envelopes held, all or one device's (for tests and audits)."""
    if device is None:
        return {row[0] for row in db.execute("SELECT id FROM envelopes")}
    return {row[0] for row in db.execute("SELECT id FROM envelopes WHERE device = ?", [device])}


# -- field: sync settings and state ---------------------------------------


def get_sync_state(db, key: str) -> str | None:
    row = db.execute("SELECT value FROM sync_state WHERE key = ?", [key]).fetchone()
    return row[0] if row else None


def set_sync_state(db, key: str, value: str) -> None:
    with db.atomic():
        db["sync_state"].upsert({"key": key, "value": value}, pk="key")
