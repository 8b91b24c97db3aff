"""Signed batches: many envelopes from one device, written and read as a stream.

A batch travels by HTTPS or on a USB stick. The device signs it with its
Ed25519 key. Ed25519 needs the whole message at once, and a batch of
100,000 records must be read in constant memory, so the device signs a
SHA-512 digest of the batch's exact bytes (hash-then-sign, as minisign does)
under a label that names the format version. Layout: docs/envelope.md.
"""

from __future__ import annotations

import hashlib
import re
import struct
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from intake import canonical, crypto
from intake.envelope import (
    MAGIC,
    MAX_RECORD_LENGTH,
    TYPE_BATCH,
    VERSION,
    Envelope,
    EnvelopeError,
    canonical_json,
    is_key_id,
    is_utc_time,
    is_uuid,
    parse_envelope,
    utc_now,
)

SIGNATURE_LABEL = b"intake-batch-v1\x00"
SIGNATURE_LENGTH = 64
MAX_HEADER_LENGTH = 4096
MAX_ENVELOPE_LENGTH = MAX_RECORD_LENGTH + 8192
MAX_COUNT = 10_000_000
HEADER_MEMBERS = frozenset({"batch", "count", "created", "device", "signer"})
# A second reading of a batch is compared with the first every few MiB.
CHECKPOINT_BYTES = 4 * 1024 * 1024
_SIGNER = re.compile(r"[0-9a-f]{64}")

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


class BatchChangedError(BatchError):
    """A batch file read twice did not hold the same bytes the second time."""


class ForeignEnvelopeError(EnvelopeError):
    """An envelope in a batch names another device than the one that signed the batch."""


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


def parse_header(raw: bytes) -> BatchHeader:
    """Parse a batch header strictly: canonical, exactly its members, device bound to signer."""
    try:
        fields = canonical.decode(raw)
    except canonical.CanonicalJSONError as e:
        raise MalformedBatchError(f"batch header is {e}") from None
    if not isinstance(fields, dict) or fields.keys() != HEADER_MEMBERS:
        raise MalformedBatchError("batch header members are not those of format v1")
    count = fields["count"]
    well_formed = (
        is_uuid(fields["batch"])
        and isinstance(count, int)
        and not isinstance(count, bool)
        and 0 <= count <= MAX_COUNT
        and is_utc_time(fields["created"])
        and is_key_id(fields["device"])
        and isinstance(fields["signer"], str)
        and _SIGNER.fullmatch(fields["signer"])
    )
    if not well_formed:
        raise MalformedBatchError("batch header fields are not those of format v1")
    signer = bytes.fromhex(fields["signer"])
    # The device id is the signer's key id: a batch cannot name one device and be signed by another.
    try:
        signer_id = crypto.key_id(crypto.device_public_key(signer))
    except crypto.AuthenticationError:
        raise MalformedBatchError("batch header signer is not an Ed25519 public key") from None
    if signer_id != fields["device"]:
        raise MalformedBatchError("batch header device is not the key id of its signer")
    return BatchHeader(fields["batch"], fields["device"], signer, fields["created"], count)


def envelope_in_batch(data: bytes, header: BatchHeader) -> Envelope:
    """Parse one envelope of a batch strictly and check that the batch's device sealed it.

    A device may only send what it sealed: no record in another device's name.
    """
    envelope = parse_envelope(data)
    if envelope.header["device"] != header.device:
        raise ForeignEnvelopeError(
            f"sealed by device {envelope.header['device']}, not by the device that signed the batch"
        )
    return envelope


def is_batch(first_bytes: bytes) -> bool:
    """Tell whether the first bytes of a file are those of a batch."""
    return first_bytes[:7] == MAGIC + bytes([TYPE_BATCH])


class BatchReader:
    """Read a batch as a stream: header first, then each envelope, then the signature.

    The signature is checked after the last envelope, so no caller acts on
    an envelope before `envelopes()` is exhausted without error: the hub
    collects and then commits; the workspace reads the file once to verify
    and again (`envelopes_again`) to open, so that memory stays constant and
    nothing of a forged or damaged batch is ever shown.
    """

    def __init__(self, stream: BinaryIO):
        self.stream = stream
        self._digest = hashlib.sha512()
        self.checkpoints: list[bytes] = []
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
        return parse_header(self._take(length, "the batch header"))

    def _each(self) -> Iterator[tuple[bytes, bytes | None]]:
        """Yield each envelope, with the digest so far after every few MiB and after the last."""
        since = 0
        for index in range(self.header.count):
            (length,) = _LENGTH.unpack(self._take(_LENGTH.size, f"envelope {index + 1}"))
            if length > MAX_ENVELOPE_LENGTH:
                raise MalformedBatchError(f"envelope {index + 1} is too large")
            data = self._take(length, f"envelope {index + 1}")
            since += _LENGTH.size + length
            if since >= CHECKPOINT_BYTES or index + 1 == self.header.count:
                since = 0
                yield data, self._digest.copy().digest()
            else:
                yield data, None

    def envelopes(self) -> Iterator[bytes]:
        """Yield each envelope's bytes; raise at the end if the signature fails."""
        for data, checkpoint in self._each():
            if checkpoint is not None:
                self.checkpoints.append(checkpoint)
            yield data
        self._check_signature()

    def envelopes_again(self, first: BatchReader) -> Iterator[bytes]:
        """Yield the envelopes of a batch that `first` read and verified, reading it again.

        Between two readings the file may change (a USB stick can answer a
        second read differently), so envelopes are held back a few MiB at a
        time until the digest so far matches the first reading's.
        """
        if self.header != first.header:
            raise BatchChangedError("the batch changed while it was being read")
        expected = iter(first.checkpoints)
        held: list[bytes] = []
        for data, checkpoint in self._each():
            held.append(data)
            if checkpoint is not None:
                if checkpoint != next(expected, None):
                    raise BatchChangedError("the batch changed while it was being read")
                yield from held
                held = []

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
