"""Receipts: the hub's signed word on what it holds from a hand-carried batch.

A post with no network carries a batch to the hub on a USB stick; the
receipt comes back the same way. The field forgets a record only on the
word of the hub it enrolled with, so a receipt is signed with the hub's
Ed25519 receipt key, whose public half the device pinned at enrolment.
Anyone can carry, copy or replay a receipt; nobody but the hub can make or
change one. Layout: docs/envelope.md, "Receipts".
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from intake import crypto, signed_text
from intake.envelope import canonical_json, strict_json, utc_now

MAGIC_LINE = b"INTAKE-RECEIPT 1\n"
MAGIC_PREFIX = b"INTAKE-RECEIPT "
MAX_RECEIPT_LENGTH = 4 * 1024 * 1024  # 20,000 records (a batch's limit) take about 1.4 MiB
MAX_REASON_LENGTH = 200
HELD = ("stored", "duplicate")  # what lets a device forget a record
STATUSES = (*HELD, "rejected")

_CREATED = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")
_KEY_ID = re.compile(r"[0-9a-f]{16}")
_MEMBERS = {"batch", "created", "device", "hub_key", "results"}


class ReceiptError(Exception):
    """Base of the reasons a receipt is refused."""


class MalformedReceiptError(ReceiptError):
    """Not a well-formed receipt: truncated, mangled, or not a receipt at all."""


class ReceiptSignatureError(ReceiptError):
    """The receipt is not signed by the hub key this device pinned."""


class WrongDeviceError(ReceiptError):
    """The receipt answers another device's batch."""


@dataclass(frozen=True)
class SignedReceipt:
    """A verified receipt: which batch, for which device, and each record's fate."""

    batch_id: str
    created: str
    device: str
    hub_key: str
    results: tuple[dict, ...]

    def held_ids(self) -> list[str]:
        """Return the ids the hub says it holds (stored now, or already)."""
        return [r["id"] for r in self.results if r["status"] in HELD]


def _result(result: dict) -> dict:
    if result["status"] == "rejected":
        reason = result["reason"][:MAX_REASON_LENGTH]
        return {"id": result["id"], "reason": reason, "status": "rejected"}
    return {"id": result["id"], "status": result["status"]}


def write_receipt(hub_key, batch_id: str, device: str, results: list[dict]) -> bytes:
    """Return a receipt for one batch, signed with the hub's receipt key."""
    body = canonical_json(
        {
            "batch": batch_id,
            "created": utc_now(),
            "device": device,
            "hub_key": crypto.key_id(hub_key.public_key()),
            "results": [_result(r) for r in results],
        }
    )
    return signed_text.frame(MAGIC_LINE, body, crypto.sign_receipt(hub_key, body))


def _split(data: bytes) -> tuple[bytes, bytes]:
    """Cut a receipt into its body and signature, refusing any other shape."""
    return signed_text.split(
        data,
        magic_line=MAGIC_LINE,
        magic_prefix=MAGIC_PREFIX,
        max_length=MAX_RECEIPT_LENGTH,
        noun="receipt",
        error=MalformedReceiptError,
    )


def _canonical_uuid(value) -> bool:
    try:
        return isinstance(value, str) and str(uuid.UUID(value)) == value
    except ValueError:
        return False


def _valid_result(result) -> bool:
    if not isinstance(result, dict) or not _canonical_uuid(result.get("id")):
        return False
    if result.get("status") == "rejected":
        reason = result.get("reason")
        return (
            set(result) == {"id", "reason", "status"}
            and isinstance(reason, str)
            and len(reason) <= MAX_REASON_LENGTH
        )
    return set(result) == {"id", "status"} and result["status"] in HELD


def _parse_body(body: bytes) -> SignedReceipt:
    try:
        fields = strict_json(body)
    except ValueError:
        raise MalformedReceiptError("receipt body is not valid JSON") from None
    if (
        not isinstance(fields, dict)
        or set(fields) != _MEMBERS
        or canonical_json(fields) != body
        or not _canonical_uuid(fields["batch"])
        or not (isinstance(fields["created"], str) and _CREATED.fullmatch(fields["created"]))
        or not all(
            isinstance(fields[k], str) and _KEY_ID.fullmatch(fields[k])
            for k in ("device", "hub_key")
        )
        or not isinstance(fields["results"], list)
        or not all(_valid_result(r) for r in fields["results"])
    ):
        raise MalformedReceiptError("receipt body is not valid")
    return SignedReceipt(
        fields["batch"],
        fields["created"],
        fields["device"],
        fields["hub_key"],
        tuple(fields["results"]),
    )


def read_receipt(data: bytes, hub_public_key, device_id: str) -> SignedReceipt:
    """Check a receipt's shape, its signature by the pinned hub key, and its device.

    The signature is checked before the body is parsed: nothing the hub did
    not sign is looked into.
    """
    body, signature = _split(data)
    try:
        crypto.verify_receipt(hub_public_key, signature, body)
    except crypto.AuthenticationError as e:
        raise ReceiptSignatureError(str(e)) from None
    receipt = _parse_body(body)
    if receipt.hub_key != crypto.key_id(hub_public_key):
        raise MalformedReceiptError("receipt names another hub key than the one that signed it")
    if receipt.device != device_id:
        raise WrongDeviceError(
            f"this receipt is for device {receipt.device}, not this device ({device_id})"
        )
    return receipt
