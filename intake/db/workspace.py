"""Storage of the coordinators' side: access tokens on the hub, pulled envelopes on a workspace.

A workspace keeps envelopes still sealed, as they came, with the origin it
checked itself; opened records are never written here.
"""

from __future__ import annotations

import json

# -- hub: coordinator access tokens (hashes only) -------------------------


def add_token(db, token_hash: str, name: str, created: str) -> bool:
    """Remember a new token's hash under a name; False if the name is taken."""
    with db.atomic():
        if db.execute("SELECT 1 FROM coordinator_tokens WHERE name = ?", [name]).fetchone():
            return False
        db["coordinator_tokens"].insert(
            {"token_hash": token_hash, "name": name, "created": created, "revoked": None}
        )
    return True


def list_tokens(db) -> list[dict]:
    """Return every token's name, creation and revocation (never a hash)."""
    return [
        {"name": r[0], "created": r[1], "revoked": r[2]}
        for r in db.execute("SELECT name, created, revoked FROM coordinator_tokens ORDER BY name")
    ]


def token_hashes(db) -> list[tuple[str, str | None]]:
    """Return every token's (hash, revoked) for a constant-time check."""
    return [tuple(r) for r in db.execute("SELECT token_hash, revoked FROM coordinator_tokens")]


def revoke_token(db, name: str, now: str) -> bool:
    """Refuse a token from now on; False if there is no such unrevoked token."""
    with db.atomic():
        cursor = db.execute(
            "UPDATE coordinator_tokens SET revoked = ? WHERE name = ? AND revoked IS NULL",
            [now, name],
        )
    return cursor.rowcount > 0


# -- workspace: pinned devices, pulled envelopes, pull state ---------------


def pinned_devices(db) -> dict[str, dict]:
    """Return the pinned devices by id."""
    return {r["device"]: r for r in db["workspace_devices"].rows_where(order_by="pinned_at")}


def pin_device(db, device: dict) -> None:
    """Pin a device's key (first sight), or update its name and revocation (same key)."""
    with db.atomic():
        db["workspace_devices"].upsert(device, pk="device")


def store_pulled(db, rows: list[dict], state: dict | None = None) -> list[dict]:
    """Store the envelopes not yet held, and the pull state with them; return the new rows.

    One transaction: a page and the cursor after it are stored together, so
    a pull cut anywhere resumes where it stopped and never stores twice. A
    verified envelope takes the place of a refused or unverifiable one held
    under the same device and id: a hub cannot block a record by handing out
    a forgery under its id first.
    """
    stored = [False] * len(rows)
    with db.atomic():
        # A page is mostly new records: those go in with one statement. A
        # record already held, or handed out twice on one page, takes the
        # careful way below, one by one and in order.
        held, fresh, again = _held(db, rows), [], []
        for index, row in enumerate(rows):
            key = (row["device"], row["id"])
            (again if key in held else fresh).append(index)
            held.add(key)
        db.conn.executemany(_INSERT, [[rows[i][c] for c in _PULLED_COLUMNS] for i in fresh])
        for index in fresh:
            stored[index] = True
        for index in again:
            values = [rows[index][c] for c in _PULLED_COLUMNS]
            stored[index] = db.execute(_UPSERT, values).rowcount > 0
        for key, value in (state or {}).items():
            db.execute(
                "INSERT INTO pull_state (key, value) VALUES (?, ?)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [key, value],
            )
    return [row for row, new in zip(rows, stored, strict=True) if new]


def _held(db, rows: list[dict]) -> set[tuple[str, str]]:
    """Return which of these rows' (device, id) the store already holds."""
    if not rows:
        return set()
    keys = json.dumps([[row["device"], row["id"]] for row in rows])
    return {
        (device, record_id)
        for device, record_id in db.execute(
            "SELECT p.device, p.id FROM json_each(?) AS k"
            " JOIN pulled AS p ON p.device = json_extract(k.value, '$[0]')"
            " AND p.id = json_extract(k.value, '$[1]')",
            [keys],
        )
    }


_PULLED_COLUMNS = (
    "device",
    "id",
    "kind",
    "created",
    "envelope",
    "signature",
    "source",
    "received",
    "origin",
    "reason",
)
_INSERT = (
    f"INSERT INTO pulled ({', '.join(_PULLED_COLUMNS)})"  # noqa: S608 - fixed names
    f" VALUES ({', '.join('?' * len(_PULLED_COLUMNS))})"
)
_UPSERT = (
    f"{_INSERT} ON CONFLICT (device, id) DO UPDATE SET"
    f" {', '.join(f'{c} = excluded.{c}' for c in _PULLED_COLUMNS[2:])}"
    " WHERE pulled.origin != 'verified' AND excluded.origin = 'verified'"
)


def get_pull_state(db, key: str) -> str | None:
    """Return a value of the workspace's pull state (hub address, pin, cursor)."""
    row = db.execute("SELECT value FROM pull_state WHERE key = ?", [key]).fetchone()
    return row[0] if row else None


def set_pull_state(db, key: str, value: str) -> None:
    """Set a value of the workspace's pull state."""
    store_pulled(db, [], {key: value})


def cases(db) -> list[dict]:
    """Return the verified envelopes' headers (device name, id, created, kind), oldest first."""
    return [
        dict(zip(("device", "name", "id", "created", "kind"), r, strict=True))
        for r in db.execute(
            "SELECT p.device, d.name, p.id, p.created, p.kind FROM pulled p"
            " LEFT JOIN workspace_devices d ON d.device = p.device"
            " WHERE p.origin = 'verified' ORDER BY p.created, p.device, p.id"
        )
    ]


def verified_envelopes(db):
    """Yield the envelope bytes of every verified record, oldest first."""
    for (data,) in db.execute(
        "SELECT envelope FROM pulled WHERE origin = 'verified' ORDER BY created, device, id"
    ):
        yield data


def not_cases(db) -> list[dict]:
    """Return the records held that are not cases: unverifiable or refused, with the reason."""
    return [
        dict(zip(("device", "id", "origin", "reason"), r, strict=True))
        for r in db.execute(
            "SELECT device, id, origin, reason FROM pulled WHERE origin != 'verified'"
            " ORDER BY device, id"
        )
    ]
