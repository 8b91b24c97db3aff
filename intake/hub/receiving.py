"""How the hub takes a batch: check everything first, then store all of it or nothing.

The hub never opens an envelope; it checks what it can without a key: the
device is enrolled and not revoked, the batch (and in format v2 each record)
is signed by that device's key, every envelope is well formed and sealed to
at least one of this hub's coordinator keys. Only then does it store, once
per device and record UUID, with each record's signature.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import BinaryIO

from intake import db
from intake.batch import VERSION_1, BatchError, BatchReader, envelope_in_batch
from intake.envelope import EnvelopeError, utc_now

MAX_RECORDS_PER_BATCH = 20_000
# The same cap as an HTTP body: a batch carried by hand is no bigger.
MAX_BATCH_BYTES = 64 * 1024 * 1024


class BatchRefused(Exception):
    """The whole batch is refused; nothing of it was stored."""

    def __init__(self, reason: str, status: int = 400):
        super().__init__(reason)
        self.reason, self.status = reason, status


@dataclass
class Receipt:
    """The hub's answer, record by record."""

    batch_id: str
    device: str
    results: list[dict] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for r in self.results if r["status"] == status)

    def as_json(self) -> dict:
        return {
            "batch": self.batch_id,
            "stored": self.count("stored"),
            "duplicate": self.count("duplicate"),
            "rejected": self.count("rejected"),
            "results": self.results,
        }


def _check_device(database, header) -> dict:
    device = db.device(database, header.device)
    if device is None:
        raise BatchRefused(f"device {header.device} is not enrolled here", 403)
    if device["revoked"]:
        raise BatchRefused(f"device {header.device} was revoked on {device['revoked']}", 403)
    if device["public_key"] != header.signer.hex():
        raise BatchRefused("the batch is not signed with the key enrolled for this device", 403)
    return device


def _read_envelopes(reader: BatchReader, recipient_ids: set[str], device: str) -> list[tuple]:
    """Read and check every envelope and record signature (v2); the batch's after the last."""
    checked, total = [], 0
    for index, (data, signature) in enumerate(reader.records(), start=1):
        total += len(data)
        if total > MAX_BATCH_BYTES:
            raise BatchRefused(f"batch larger than {MAX_BATCH_BYTES // 2**20} MiB", 413)
        try:
            # The strict reader `intake open` uses too: canonical header, a
            # lower-case UUID, sealed by the device that signed the batch.
            header = envelope_in_batch(data, reader.header).header
        except EnvelopeError as e:
            raise BatchRefused(f"record {index}: {e}") from None
        record_id = header["id"]
        sealed_here = bool(recipient_ids & set(header["recipients"]))
        checked.append((record_id, header["kind"], header["created"], data, signature, sealed_here))
        if index > MAX_RECORDS_PER_BATCH:
            raise BatchRefused(f"more than {MAX_RECORDS_PER_BATCH} records in one batch", 413)
    return checked


def _v1_evidence(reader: BatchReader, checked: list[tuple]) -> dict | None:
    """What a v1 batch's one signature covers, kept so its origin can be checked again.

    A v1 record carries no signature of its own: only the whole batch, from
    the envelopes held, in this order, proves which device sealed it.
    """
    if reader.version != VERSION_1:
        return None
    ids = [record_id for record_id, *_rest in checked]
    return {"header": reader.header_bytes, "signature": reader.signature, "ids": ids}


def receive_batch(database, stream: BinaryIO, recipient_ids: set[str], source: str) -> Receipt:
    """Check a batch in full, then store its envelopes at most once each."""
    try:
        reader = BatchReader(stream)
        device = _check_device(database, reader.header)
        checked = _read_envelopes(reader, recipient_ids, device["id"])
    except BatchError as e:
        raise BatchRefused(str(e)) from None
    receipt = Receipt(reader.header.batch_id, device["id"])
    acceptable = [(i, k, c, d, s) for i, k, c, d, s, here in checked if here]
    batch = {
        "batch_id": reader.header.batch_id,
        "device": device["id"],
        "received": utc_now(),
        "count": len(checked),
        "rejected": len(checked) - len(acceptable),
        "source": source,
        "v1": _v1_evidence(reader, checked),
    }
    new, conflicts = db.store_batch(database, batch, acceptable)
    new = set(new)
    for record_id, _kind, _created, _data, _signature, here in checked:
        if not here:
            reason = "not sealed to any coordinator key of this hub"
            receipt.results.append({"id": record_id, "status": "rejected", "reason": reason})
        elif record_id in conflicts:
            # Never "already had" for different bytes: the sender would delete its copy.
            reason = "this device already sent another envelope with this id"
            receipt.results.append({"id": record_id, "status": "rejected", "reason": reason})
        else:
            status = "stored" if record_id in new else "duplicate"
            new.discard(record_id)  # a UUID twice in one batch: the second is a duplicate
            receipt.results.append({"id": record_id, "status": status})
    return receipt
