"""Enrolment: a one-time code lets a field device register its signing key.

The administrator reads the code to the officer (or hands it over on
paper); the device proves nothing else, so the code is short-lived (24
hours), used once, and stored only as a hash.
"""

from __future__ import annotations

import hashlib
import secrets
import time

from intake import crypto, db
from intake.envelope import utc_now

CODE_HOURS = 24
# Crockford base32 without look-alikes (no I, L, O, U): easy to read aloud.
# Codes have always used this alphabet, so every code already handed out
# reads the same after normalisation and stays valid.
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
# What people type for what is on the paper (Crockford's decoding rules):
# O is 0, I and L are 1. None of them is ever in a code.
_LOOKALIKES = str.maketrans({"O": "0", "I": "1", "L": "1"})
_SEPARATORS = str.maketrans("", "", "-\u2010\u2011\u2012\u2013\u2014")


class EnrolmentError(Exception):
    """The code is wrong, used or expired, or the key is not acceptable."""


def normalise_code(code: str) -> str:
    """Return a code as issued, however typed: any case, spaces, hyphens, O for 0, I or L for 1."""
    return "".join(code.split()).translate(_SEPARATORS).upper().translate(_LOOKALIKES)


def _hash(code: str) -> str:
    return hashlib.sha256(normalise_code(code).encode()).hexdigest()


def new_code(database, name: str) -> str:
    """Create a one-time enrolment code for a device to be called `name`."""
    code = "".join(secrets.choice(_ALPHABET) for _ in range(16))
    db.add_enrol_code(database, _hash(code), name, utc_now(), time.time() + CODE_HOURS * 3600)
    return "-".join(code[i : i + 4] for i in range(0, 16, 4))


def enrol(database, code: str, public_key_hex: str) -> tuple[str, str]:
    """Spend a code to register a device key; return (device id, device name)."""
    try:
        public_key = crypto.device_public_key(bytes.fromhex(public_key_hex))
    except (ValueError, crypto.AuthenticationError):
        raise EnrolmentError("not an Ed25519 public key") from None
    device_id = crypto.key_id(public_key)
    existing = db.device(database, device_id)
    if existing and existing["revoked"]:
        raise EnrolmentError("this device key was revoked; make the device a new key")
    name = db.use_enrol_code(database, _hash(code), time.time(), utc_now())
    if name is None:
        raise EnrolmentError("the code is wrong, used already, or expired")
    # Stored in the one form batches carry (lower-case hex of the raw key).
    db.enrol_device(database, device_id, name, crypto.raw_public_bytes(public_key).hex(), utc_now())
    return device_id, name
