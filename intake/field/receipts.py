"""Taking a hub's receipt for a hand-carried batch: forget exactly what it holds.

The receipt is checked against the hub receipt key pinned at enrolment; a
receipt it did not sign, or one for another device, changes nothing. A
device enrolled before hubs had receipt keys can pin one from the hub's
`receipt.pub`, given by its administrator (`--hub-key`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from intake import crypto, db, instance
from intake.envelope import utc_now
from intake.receipt import ReceiptError, SignedReceipt, read_receipt

PIN_KEY = "hub_receipt_key"
NOT_PINNED = (
    "this device has no hub receipt key pinned (it enrolled before hubs signed receipts):"
    " enrol it again (intake enroll), or give the hub's receipt.pub with --hub-key FILE"
)


class AcknowledgeError(Exception):
    """The receipt was refused; nothing was changed."""


@dataclass
class AcknowledgeReport:
    """What a receipt said and what it changed here."""

    receipt: SignedReceipt
    cleared: int
    refused: int
    pending: int
    pinned_now: str | None = None  # key id, when --hub-key pinned a key


def _pinned(database):
    raw = db.get_sync_state(database, PIN_KEY)
    return crypto.receipt_public_key(bytes.fromhex(raw)) if raw else None


def _hub_key(database, offered_file: Path | None):
    """Return (key to check with, whether it is to be pinned once the receipt verifies)."""
    pinned = _pinned(database)
    if offered_file is None:
        if pinned is None:
            raise AcknowledgeError(NOT_PINNED)
        return pinned, False
    try:
        offered = crypto.load_receipt_public_key(offered_file)
    except crypto.KeyFileError as e:
        raise AcknowledgeError(f"{offered_file}: {e}") from None
    if pinned is not None and crypto.raw_public_bytes(pinned) != crypto.raw_public_bytes(offered):
        raise AcknowledgeError(
            f"{offered_file}: not the hub receipt key pinned at enrolment ({crypto.key_id(pinned)})"
        )
    return offered, pinned is None


def acknowledge_receipt(
    inst: instance.Instance, data: bytes, offered_file: Path | None = None
) -> AcknowledgeReport:
    """Check a receipt and forget the records the hub holds; refuse it whole otherwise."""
    database = db.open_database(inst.path)
    try:
        key, pin = _hub_key(database, offered_file)
        try:
            receipt = read_receipt(data, key, inst.device_id())
        except ReceiptError as e:
            raise AcknowledgeError(str(e)) from None
        if pin:
            db.set_sync_state(database, PIN_KEY, crypto.raw_public_bytes(key).hex())
        keep = float(inst.settings.get("retention_hours", 0)) > 0
        cleared, refused = db.record_hub_answers(database, list(receipt.results), utc_now(), keep)
        return AcknowledgeReport(
            receipt,
            cleared,
            refused,
            db.count_pending(database),
            crypto.key_id(key) if pin else None,
        )
    finally:
        database.close()
