"""Origin, as the workspace checks it: which pinned device signed a record, if any.

The hub's word counts for nothing here. A device key is pinned the first
time the workspace sees it and shown to the coordinator; a hub that later
offers another key for the same device is refused, loudly. A record is a
case only if its device's pinned key verifies its record signature (or
the signature of the whole batch it was carried in).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass, field

from intake import crypto, db
from intake.batch import RECORD_SIGNATURE_LENGTH
from intake.envelope import EnvelopeError, is_key_id, is_utc_time, parse_envelope, utc_now

VERIFIED, UNVERIFIABLE, REFUSED = "verified", "unverifiable", "refused"
_PUBLIC_KEY = re.compile(r"[0-9a-f]{64}")


class DeviceListError(Exception):
    """The hub's device list is not well formed."""


@dataclass
class Pinning:
    """What one look at the hub's device list changed."""

    new: list[dict] = field(default_factory=list)
    key_changed: list[dict] = field(default_factory=list)  # (pinned, offered)
    revoked: list[dict] = field(default_factory=list)


# Shown to the coordinator, who pins a device by its name: no control
# character (Cc: an escape sequence could rewrite the terminal's screen), no
# format character (Cf: a bidi override or a zero-width joiner makes one name
# look like another), no line or paragraph separator (Zl, Zp), no lone
# surrogate (Cs: it cannot even be printed). Persian's zero-width non-joiner
# is a format character too: such a name is refused, the hub's administrator
# renames the device.
_NOT_IN_NAMES = frozenset(("Cc", "Cf", "Cs", "Zl", "Zp"))


def _is_name(value) -> bool:
    return (
        isinstance(value, str)
        and 0 < len(value) <= 200
        and not any(unicodedata.category(c) in _NOT_IN_NAMES for c in value)
    )


def check_device_list(devices) -> list[dict]:
    """Check the shape of a hub's device list (GET /api/v1/devices); return it."""
    if not isinstance(devices, list):
        raise DeviceListError("the hub's device list is not a list")
    for d in devices:
        ok = (
            isinstance(d, dict)
            and {"device", "name", "enrolled", "revoked", "public_key"} <= d.keys()
            and is_key_id(d["device"])
            and _is_name(d["name"])
            and is_utc_time(d["enrolled"])
            and (d["revoked"] is None or is_utc_time(d["revoked"]))
            and isinstance(d["public_key"], str)
            and _PUBLIC_KEY.fullmatch(d["public_key"]) is not None
        )
        if not ok:
            raise DeviceListError("the hub's device list has an entry of the wrong shape")
    return devices


def _key_of(offered: dict):
    """Return the device's public key if its id is the key id of that key, else None."""
    try:
        key = crypto.device_public_key(bytes.fromhex(offered["public_key"]))
    except (ValueError, crypto.AuthenticationError):
        return None
    return key if crypto.key_id(key) == offered["device"] else None


def pin_devices(database, offered_devices: list[dict]) -> Pinning:
    """Pin the devices not seen before; refuse another key for one already pinned."""
    pinned, result = db.pinned_devices(database), Pinning()
    for offered in offered_devices:
        known = pinned.get(offered["device"])
        key = _key_of(offered)
        if known is not None and (key is None or known["public_key"] != offered["public_key"]):
            # Never re-pinned on the hub's word: a hub taken over would
            # otherwise make its own key this device's, and forge its records.
            if known["state"] != "key-changed":
                db.pin_device(database, {**known, "state": "key-changed"})
            result.key_changed.append({**known, "offered": offered["public_key"]})
            continue
        if key is None:
            result.key_changed.append({**offered, "offered": offered["public_key"]})
            continue
        if known is None:
            row = {
                "device": offered["device"],
                "name": offered["name"],
                "enrolled": offered["enrolled"],
                "public_key": offered["public_key"],
                "fingerprint": crypto.fingerprint(key),
                "pinned_at": utc_now(),
                "revoked": offered["revoked"],
                "state": "pinned",
            }
            db.pin_device(database, row)
            result.new.append(row)
        elif offered["revoked"] and not known["revoked"]:
            # A revocation is taken from the hub; an "un-revocation" is not.
            db.pin_device(database, {**known, "revoked": offered["revoked"]})
            result.revoked.append({**known, "revoked": offered["revoked"]})
    return result


def check_record(
    device: str, envelope: bytes, signature: bytes | None, pinned: dict[str, dict]
) -> dict | None:
    """Judge one envelope's origin; return its row for the store, or None if it has no header."""
    try:
        header = parse_envelope(envelope).header
    except (EnvelopeError, ValueError, RecursionError, OverflowError):
        return None
    row = {
        "device": device,
        "id": header["id"],
        "kind": header["kind"],
        "created": header["created"],
        "envelope": envelope,
        "signature": signature,
    }
    origin, reason = _origin(device, header, envelope, signature, pinned.get(device))
    return {**row, "origin": origin, "reason": reason}


def _origin(device, header, envelope, signature, known) -> tuple[str, str | None]:
    if header["device"] != device:
        return REFUSED, f"sealed by device {header['device']}, handed out as {device}'s"
    if known is None:
        return REFUSED, "no device this workspace pinned has this id"
    if known["state"] != "pinned":
        return REFUSED, "the hub changed this device's key: not verified"
    if signature is None:
        return UNVERIFIABLE, "no record signature (sent in a version 1 batch)"
    if not _signed_by(known["public_key"], envelope, signature):
        return REFUSED, "the record signature does not verify with the device's pinned key"
    return after_revocation(header, known)


@functools.lru_cache(maxsize=1024)
def _pinned_key(public_key_hex: str):
    # Rebuilt once per device, not once per record: a pull checks thousands.
    return crypto.device_public_key(bytes.fromhex(public_key_hex))


def _signed_by(public_key_hex: str, envelope: bytes, signature: bytes) -> bool:
    """Tell whether the pinned key (raw, in hex) made this record signature."""
    if len(signature) != RECORD_SIGNATURE_LENGTH:
        return False
    try:
        crypto.verify_record(_pinned_key(public_key_hex), signature, envelope)
    except crypto.AuthenticationError:
        return False
    return True


def after_revocation(header: dict, known: dict) -> tuple[str, str | None]:
    """Refuse a record that its device says it sealed after the device was revoked.

    A revoked device's key may be in a thief's hands: whatever it signed
    after the revocation is not a case.
    """
    if known["revoked"] and header["created"] >= known["revoked"]:
        return REFUSED, f"sealed after its device was revoked on {known['revoked']}"
    return VERIFIED, None
