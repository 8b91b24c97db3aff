"""Signed batches: written and read as a stream, refused when changed."""

from __future__ import annotations

import io

import pytest

from intake import crypto, envelope
from intake.batch import (
    BadSignatureError,
    BatchError,
    BatchReader,
    MalformedBatchError,
    UnknownBatchVersionError,
    write_batch,
)


@pytest.fixture(scope="module")
def device_key():
    return crypto.new_device_key()


@pytest.fixture(scope="module")
def envelopes(coordinator_key):
    return [envelope.seal_record({"i": i}, [coordinator_key.public_key()]).data for i in range(5)]


@pytest.fixture(scope="module")
def batch_bytes(envelopes, device_key):
    out = io.BytesIO()
    write_batch(out, envelopes, len(envelopes), device_key)
    return out.getvalue()


def read_all(data: bytes) -> list[bytes]:
    return list(BatchReader(io.BytesIO(data)).envelopes())


def test_batch_round_trip(batch_bytes, envelopes, device_key):
    reader = BatchReader(io.BytesIO(batch_bytes))
    assert reader.header.count == 5
    assert reader.header.device == crypto.key_id(device_key.public_key())
    assert list(reader.envelopes()) == envelopes


def test_every_single_byte_change_is_refused(batch_bytes):
    for i in range(0, len(batch_bytes), 7):
        changed = bytearray(batch_bytes)
        changed[i] ^= 0x01
        with pytest.raises(BatchError):
            read_all(bytes(changed))


def test_truncation_anywhere_is_refused(batch_bytes):
    for end in range(0, len(batch_bytes), 11):
        with pytest.raises(BatchError):
            read_all(batch_bytes[:end])


def test_trailing_bytes_are_refused(batch_bytes):
    with pytest.raises(MalformedBatchError, match="trailing"):
        read_all(batch_bytes + b"x")


def test_another_devices_signature_is_refused(envelopes, device_key):
    out = io.BytesIO()
    write_batch(out, envelopes, len(envelopes), device_key)
    data = bytearray(out.getvalue())
    other = crypto.sign(crypto.new_device_key(), b"anything")
    data[-64:] = other
    with pytest.raises(BadSignatureError):
        read_all(bytes(data))


def test_unknown_version_is_named(batch_bytes):
    data = bytearray(batch_bytes)
    data[7] = 9
    with pytest.raises(UnknownBatchVersionError, match="version 9"):
        read_all(bytes(data))


def test_count_must_match(envelopes, device_key):
    with pytest.raises(BatchError):
        write_batch(io.BytesIO(), envelopes, len(envelopes) + 1, device_key)


def test_empty_batch_is_valid(device_key):
    out = io.BytesIO()
    write_batch(out, [], 0, device_key)
    assert read_all(out.getvalue()) == []
