"""Signed batches: many envelopes from one device, written and read as a stream.

A batch travels by HTTPS or on a USB stick. The device signs it with its
Ed25519 key. Ed25519 needs the whole message at once, and a batch of
100,000 records must be read in constant memory, so the device signs a
SHA-512 digest of the batch's exact bytes (hash-then-sign, as minisign does)
under a label that names the format version. Layout: docs/envelope.md.

Format v2 adds a signature of the device after each envelope: a hub hands
records to a workspace one by one, not as the batches they came in, and a
record must still prove which device sealed it, not on the hub's word.
Version 1 batches are still read (devices carry old files); they are no
longer written.
"""

from __future__ import annotations

import hashlib
import os
import re
import struct
import uuid
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import BinaryIO

from intake import canonical, crypto
from intake.envelope import (
    MAGIC,
    MAX_RECORD_LENGTH,
    TYPE_BATCH,
    Envelope,
    EnvelopeError,
    canonical_json,
    is_key_id,
    is_utc_time,
    is_uuid,
    parse_envelope,
    utc_now,
)

# The batch format's version byte, and the label its signature is made under.
VERSION_1, VERSION_2 = 1, 2
WRITE_VERSION = VERSION_2
SIGNATURE_LABELS = {VERSION_1: b"intake-batch-v1\x00", VERSION_2: b"intake-batch-v2\x00"}
SIGNATURE_LENGTH = 64
RECORD_SIGNATURE_LENGTH = 64
MAX_HEADER_LENGTH = 4096
MAX_ENVELOPE_LENGTH = MAX_RECORD_LENGTH + 8192
MAX_COUNT = 10_000_000
HEADER_MEMBERS = frozenset({"batch", "count", "created", "device", "signer"})
# A second reading of a batch is compared with the first every few MiB.
CHECKPOINT_BYTES = 4 * 1024 * 1024
# Record signatures verified side by side, and how many records may wait
# (verified or not) ahead of the caller; their bytes stay under CHECKPOINT_BYTES.
VERIFY_THREADS = min(4, os.cpu_count() or 1)
VERIFY_RUN = 16
VERIFY_WINDOW = 128
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


def signed_message(digest: bytes, version: int = WRITE_VERSION) -> bytes:
    """Return what the device signs: the label of the batch's version and its digest."""
    return SIGNATURE_LABELS[version] + digest


def record_signature(device_key, envelope: bytes) -> bytes:
    """Return the device's signature of one envelope, which travels with it (format v2)."""
    return crypto.sign_record(device_key, envelope)


def verify_record_signature(device_public_raw: bytes, envelope: bytes, signature: bytes) -> None:
    """Check that the device whose raw Ed25519 key this is signed this envelope."""
    try:
        if len(signature) != RECORD_SIGNATURE_LENGTH:
            raise crypto.AuthenticationError("a record signature is 64 bytes")
        crypto.verify_record(crypto.device_public_key(device_public_raw), signature, envelope)
    except crypto.AuthenticationError:
        raise BadSignatureError("the record signature does not verify") from None


def write_batch(
    out: BinaryIO,
    envelopes: Iterable[bytes],
    count: int,
    device_key,
    version: int = WRITE_VERSION,
) -> BatchHeader:
    """Write `count` envelopes as one batch signed by the device key (v1 only for tests)."""
    if version not in SIGNATURE_LABELS:
        raise BatchError(f"unknown batch format version {version}")
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
    emit(_PREFIX.pack(MAGIC, TYPE_BATCH, version, len(header_bytes)) + header_bytes)
    written = 0
    if version == VERSION_2:
        pairs = ((data, None) for data in envelopes)
        signed = _side_by_side(pairs, lambda data, _: record_signature(device_key, data))
    else:
        signed = ((data, None) for data in envelopes)
    for data, signature in signed:
        emit(_LENGTH.pack(len(data)) + data)
        if signature is not None:
            emit(signature)
        written += 1
    if written != count:
        raise BatchError(f"batch promised {count} envelopes but got {written}")
    out.write(crypto.sign(device_key, signed_message(digest.digest(), version)))
    return header


def _side_by_side(pairs: Iterable[tuple[bytes, object]], work) -> Iterator[tuple[bytes, object]]:
    """Yield (data, work(data, extra)) for each (data, extra), in order, several at once.

    An Ed25519 signature or verification costs more than everything else
    done with a record on its way, and releases the GIL, so they run on a
    few threads, a run of records per task (a task per record costs as much
    as a signature). At most VERIFY_WINDOW records (and about
    CHECKPOINT_BYTES) wait ahead of the caller, so memory stays bounded. An
    AuthenticationError from `work` is yielded in place of its result.
    """

    def run(run_pairs: list) -> list:
        done = []
        for data, extra in run_pairs:
            try:
                done.append((data, work(data, extra)))
            except crypto.AuthenticationError as e:
                done.append((data, e))
        return done

    window: deque[tuple[Future, int, int]] = deque()  # a task, its records and bytes
    run_pairs: list = []
    run_bytes = records = held = 0
    with ThreadPoolExecutor(VERIFY_THREADS) as pool:
        for data, extra in pairs:
            run_pairs.append((data, extra))
            run_bytes += len(data)
            if len(run_pairs) == VERIFY_RUN or run_bytes >= CHECKPOINT_BYTES // 4:
                window.append((pool.submit(run, run_pairs), len(run_pairs), run_bytes))
                records, held = records + len(run_pairs), held + run_bytes
                run_pairs, run_bytes = [], 0
                while records > VERIFY_WINDOW or held > CHECKPOINT_BYTES:
                    future, n, size = window.popleft()
                    records, held = records - n, held - size
                    yield from future.result()
        if run_pairs:
            window.append((pool.submit(run, run_pairs), len(run_pairs), run_bytes))
        while window:
            yield from window.popleft()[0].result()


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
        raise MalformedBatchError("batch header members are not those of the batch format")
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
        raise MalformedBatchError("batch header fields are not those of the batch format")
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
    an envelope before `records()` is exhausted without error: the hub
    collects and then commits; the workspace reads the file once to verify
    and again (`records_again`) to open, so that memory stays constant and
    nothing of a forged or damaged batch is ever shown. In a v2 batch each
    record signature is checked as it is read; one that fails refuses the
    whole batch, like a failing batch signature.
    """

    def __init__(self, stream: BinaryIO):
        self.stream = stream
        self._digest = hashlib.sha512()
        self.checkpoints: list[bytes] = []
        self.version = VERSION_1
        self.header_bytes = b""  # the header's exact bytes, kept to re-verify a v1 batch later
        self.signature = b""  # the batch signature, once read
        self.header = self._read_header()

    def _take(self, n: int, what: str) -> bytes:
        data = _read_exactly(self.stream, n, what)
        self._digest.update(data)
        return data

    def _read_header(self) -> BatchHeader:
        magic, kind, version, length = _PREFIX.unpack(self._take(_PREFIX.size, "the prefix"))
        if magic != MAGIC or kind != TYPE_BATCH:
            raise MalformedBatchError("not an Intake batch")
        if version not in SIGNATURE_LABELS:
            raise UnknownBatchVersionError(f"unknown batch format version {version}")
        self.version = version
        if not 0 < length <= MAX_HEADER_LENGTH:
            raise MalformedBatchError("batch header length out of range")
        self.header_bytes = self._take(length, "the batch header")
        return parse_header(self.header_bytes)

    def _each(self) -> Iterator[tuple[bytes, bytes | None, bytes | None]]:
        """Yield each envelope and its record signature (None in v1), with the
        digest so far after every few MiB and after the last."""
        since = 0
        for index in range(self.header.count):
            (length,) = _LENGTH.unpack(self._take(_LENGTH.size, f"envelope {index + 1}"))
            if length > MAX_ENVELOPE_LENGTH:
                raise MalformedBatchError(f"envelope {index + 1} is too large")
            data = self._take(length, f"envelope {index + 1}")
            signature = None
            if self.version == VERSION_2:
                what = f"the signature of record {index + 1}"
                signature = self._take(RECORD_SIGNATURE_LENGTH, what)
            since += _LENGTH.size + length
            if since >= CHECKPOINT_BYTES or index + 1 == self.header.count:
                since = 0
                yield data, signature, self._digest.copy().digest()
            else:
                yield data, signature, None

    def records(self) -> Iterator[tuple[bytes, bytes | None]]:
        """Yield each envelope with its record signature (None in v1); raise at the end
        if the batch signature fails, and before yielding a record whose signature fails."""
        signer = crypto.device_public_key(self.header.signer)  # parse_header checked it

        # Checked a few at a time on threads (see _side_by_side); each record is
        # still yielded in order, and only once its own signature has verified.
        def read() -> Iterator[tuple[bytes, bytes | None]]:
            for data, signature, checkpoint in self._each():
                if checkpoint is not None:
                    self.checkpoints.append(checkpoint)
                yield data, signature

        def check(data: bytes, signature: bytes | None) -> bytes | None:
            if signature is not None:
                crypto.verify_record(signer, signature, data)
            return signature

        checked = _side_by_side(read(), check) if self.version == VERSION_2 else read()
        for index, (data, outcome) in enumerate(checked, start=1):
            if isinstance(outcome, crypto.AuthenticationError):
                raise BadSignatureError(f"the signature of record {index} does not verify")
            yield data, outcome
        self._check_signature()

    def envelopes(self) -> Iterator[bytes]:
        """Yield each envelope's bytes; raise if a signature fails (see `records`)."""
        for data, _signature in self.records():
            yield data

    def envelopes_again(self, first: BatchReader) -> Iterator[bytes]:
        """Yield the envelopes of a batch that `first` read and verified (see `records_again`)."""
        for data, _signature in self.records_again(first):
            yield data

    def records_again(self, first: BatchReader) -> Iterator[tuple[bytes, bytes | None]]:
        """Yield the envelopes of a batch that `first` read and verified, reading it again.

        Between two readings the file may change (a USB stick can answer a
        second read differently), so envelopes are held back a few MiB at a
        time until the digest so far matches the first reading's.
        """
        if self.header != first.header or self.version != first.version:
            raise BatchChangedError("the batch changed while it was being read")
        expected = iter(first.checkpoints)
        held: list[tuple[bytes, bytes | None]] = []
        # Record signatures are not checked again: the bytes are the first reading's.
        for data, signature, checkpoint in self._each():
            held.append((data, signature))
            if checkpoint is not None:
                if checkpoint != next(expected, None):
                    raise BatchChangedError("the batch changed while it was being read")
                yield from held
                held = []

    def _check_signature(self) -> None:
        signature = _read_exactly(self.stream, SIGNATURE_LENGTH, "the signature")
        self.signature = signature
        if self.stream.read(1):
            raise MalformedBatchError("trailing bytes after the signature")
        try:
            crypto.verify(
                crypto.device_public_key(self.header.signer),
                signature,
                signed_message(self._digest.digest(), self.version),
            )
        except crypto.AuthenticationError:
            raise BadSignatureError("the batch signature does not verify") from None
