"""Signed batches: many envelopes from one device, written and read as a stream.

A batch travels by HTTPS or on a USB stick. The device signs it with its
Ed25519 key. Ed25519 needs the whole message at once, and a batch of
100,000 records must be read in constant memory, so the device signs a
SHA-512 digest of the batch's exact bytes (hash-then-sign, as minisign does)
under a label that names the format version. Layout: docs/envelope.md.
"""

from __future__ import annotations

import hashlib
import struct
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from intake import crypto
from intake.envelope import (
    MAGIC,
    MAX_RECORD_LENGTH,
    TYPE_BATCH,
    VERSION,
    canonical_json,
    strict_json,
    utc_now,
)

SIGNATURE_LABEL = b"intake-batch-v1\x00"
SIGNATURE_LENGTH = 64
MAX_HEADER_LENGTH = 4096
MAX_ENVELOPE_LENGTH = MAX_RECORD_LENGTH + 8192
MAX_COUNT = 10_000_000

_PREFIX = struct.Struct(">6sBBH")  # magic, type, version, header length
_LENGTH = struct.Struct(">I")


class BatchError(Exception):
    """Base of the reasons a batch is refused."""


class MalformedBatchError(BatchError):
    """The file is not a well-formed batch: truncated, mangled or not a batch."""


class UnknownBatchVersionError(BatchError):
    """The batch is in a format version this program does not know."""


class BadSignatureError(BatchError):
    """The batch's signature does not verify: changed after the device signed it."""


@dataclass(frozen=True)
class BatchHeader:
    """Who sent a batch, when, and how many envelopes it holds."""

    batch_id: str
    device: str
    signer: bytes
    created: str
    count: int


def signed_message(digest: bytes) -> bytes:
    """Return what the device signs: the label and the batch digest."""
    return SIGNATURE_LABEL + digest


def write_batch(out: BinaryIO, envelopes: Iterable[bytes], count: int, device_key) -> BatchHeader:
    """Write `count` envelopes as one batch signed by the device key."""
    signer = crypto.raw_public_key(device_key)
    header = BatchHeader(
        str(uuid.uuid4()),
        crypto.key_id(device_key.public_key()),
        signer,
        utc_now(),
        count,
    )
    digest = hashlib.sha512()

    def emit(chunk: bytes) -> None:
        digest.update(chunk)
        out.write(chunk)

    header_bytes = canonical_json(
        {
            "batch": header.batch_id,
            "count": count,
            "created": header.created,
            "device": header.device,
            "signer": signer.hex(),
        }
    )
    emit(_PREFIX.pack(MAGIC, TYPE_BATCH, VERSION, len(header_bytes)) + header_bytes)
    written = 0
    for data in envelopes:
        emit(_LENGTH.pack(len(data)) + data)
        written += 1
    if written != count:
        raise BatchError(f"batch promised {count} envelopes but got {written}")
    out.write(crypto.sign(device_key, signed_message(digest.digest())))
    return header


def _read_exactly(stream: BinaryIO, n: int, what: str) -> bytes:
    data = stream.read(n)
    if len(data) != n:
        raise MalformedBatchError(f"truncated in {what}")
    return data


def _parse_header(raw: bytes) -> BatchHeader:
    try:
        fields = strict_json(raw)
        count = fields["count"]
        if not isinstance(count, int) or isinstance(count, bool) or not 0 <= count <= MAX_COUNT:
            raise ValueError("count")
        if not all(isinstance(fields[k], str) for k in ("batch", "device", "signer", "created")):
            raise ValueError("types")
        header = BatchHeader(
            str(uuid.UUID(fields["batch"])),
            fields["device"][:64],
            bytes.fromhex(fields["signer"]),
            fields["created"][:64],
            count,
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        raise MalformedBatchError("batch header is not valid") from None
    if len(header.signer) != 32:
        raise MalformedBatchError("batch header is not valid")
    return header


def is_batch(first_bytes: bytes) -> bool:
    """Tell whether the first bytes of a file are those of a batch."""
    return first_bytes[:7] == MAGIC + bytes([TYPE_BATCH])


class BatchReader:
    """Read a batch as a stream: header first, then each envelope, then the signature.

    The signature is checked after the last envelope, so a caller that must
    not act on unsigned data (the hub) collects first and commits after
    `envelopes()` is exhausted without error; the workspace can open each
    envelope as it comes, since every envelope authenticates on its own.
    """

    def __init__(self, stream: BinaryIO):
        self.stream = stream
        self._digest = hashlib.sha512()
        self.header = self._read_header()

    def _take(self, n: int, what: str) -> bytes:
        data = _read_exactly(self.stream, n, what)
        self._digest.update(data)
        return data

    def _read_header(self) -> BatchHeader:
        magic, kind, version, length = _PREFIX.unpack(self._take(_PREFIX.size, "the prefix"))
        if magic != MAGIC or kind != TYPE_BATCH:
            raise MalformedBatchError("not an Intake batch")
        if version != VERSION:
            raise UnknownBatchVersionError(f"unknown batch format version {version}")
        if not 0 < length <= MAX_HEADER_LENGTH:
            raise MalformedBatchError("batch header length out of range")
        return _parse_header(self._take(length, "the batch header"))

    def envelopes(self) -> Iterator[bytes]:
        """Yield each envelope's bytes; raise at the end if the signature fails."""
        for index in range(self.header.count):
            (length,) = _LENGTH.unpack(self._take(_LENGTH.size, f"envelope {index + 1}"))
            if length > MAX_ENVELOPE_LENGTH:
                raise MalformedBatchError(f"envelope {index + 1} is too large")
            yield self._take(length, f"envelope {index + 1}")
        self._check_signature()

    def _check_signature(self) -> None:
        signature = _read_exactly(self.stream, SIGNATURE_LENGTH, "the signature")
        if self.stream.read(1):
            raise MalformedBatchError("trailing bytes after the signature")
        try:
            crypto.verify(
                crypto.device_public_key(self.header.signer),
                signature,
                signed_message(self._digest.digest()),
            )
        except crypto.AuthenticationError:
            raise BadSignatureError("the batch signature does not verify") from None
