"""Users and failed sign-ins."""

from __future__ import annotations

import sqlite3

import sqlite_utils


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
