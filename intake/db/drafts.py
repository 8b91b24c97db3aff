"""Encrypted drafts: interviews in progress."""

from __future__ import annotations

from intake.db.outbox import _insert_outbox
from intake.envelope import SealedRecord


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
    checkpoint(db)
    return cursor.rowcount > 0


def purge_expired_drafts(db, now: float) -> int:
    """Delete drafts past their expiry; return how many."""
    with db.atomic():
        cursor = db.execute("DELETE FROM drafts WHERE expires <= ?", [now])
    if cursor.rowcount:
        checkpoint(db)
    return cursor.rowcount


def finish_draft(db, draft_id: str, user_id: str, sealed: SealedRecord) -> bool:
    """Move a finished interview into the outbox and drop its draft, atomically."""
    with db.atomic():
        cursor = db.execute("DELETE FROM drafts WHERE id = ? AND user_id = ?", [draft_id, user_id])
        if cursor.rowcount == 0:
            return False
        _insert_outbox(db, sealed)
    checkpoint(db)
    return True


def checkpoint(db) -> None:
    """Fold the WAL into the database and truncate it.

    Every save of a draft leaves a frame in the WAL; until it is checkpointed
    an old draft (openable with its officer's password) outlives its finish,
    discard or expiry. Best effort: another reader may keep some frames alive
    a moment longer, and flash storage may keep erased blocks (residual risk).
    """
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
