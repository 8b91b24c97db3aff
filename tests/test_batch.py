"""Signed batches: written and read as a stream, refused when changed."""

from __future__ import annotations

import io
import json

import pytest

from intake import batch as batch_module
from intake import crypto, envelope
from intake.batch import (
    BadSignatureError,
    BatchChangedError,
    BatchError,
    BatchReader,
    ForeignEnvelopeError,
    MalformedBatchError,
    UnknownBatchVersionError,
    envelope_in_batch,
    parse_header,
    write_batch,
)
from tests.forging import batch_raw, compact, unsorted


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


# -- strict batch headers, the signer's own envelopes, and reading twice -----


def _header(device_key, count: int = 0, **changes) -> dict:
    header = {
        "batch": "3ae99ef4-d4c7-4db4-b919-2a7fcacda624",
        "count": count,
        "created": "2026-11-30T12:00:00Z",
        "device": crypto.key_id(device_key.public_key()),
        "signer": crypto.raw_public_key(device_key).hex(),
    }
    header.update(changes)
    return header


@pytest.mark.parametrize(
    "change",
    [
        {"extra": 1},
        {"batch": "3AE99EF4-D4C7-4DB4-B919-2A7FCACDA624"},
        {"count": -1},
        {"count": True},
        {"count": 1.5},
        {"created": "yesterday"},
        {"device": "0123456789abcdef"},
        {"signer": "00" * 31},
        {"signer": "AB" * 32},
    ],
    ids=lambda c: next(iter(c)) + "=" + str(next(iter(c.values())))[:12],
)
def test_batch_header_rules(change, device_key):
    raw = compact(_header(device_key, **change))
    with pytest.raises(MalformedBatchError, match="batch header"):
        parse_header(raw)
    with pytest.raises(MalformedBatchError, match="batch header"):
        read_all(batch_raw(raw, [], device_key))


def test_batch_header_must_be_canonical(device_key):
    assert parse_header(compact(_header(device_key))).count == 0
    for raw in (
        json.dumps(_header(device_key), sort_keys=True).encode(),
        unsorted(_header(device_key)),
        compact(_header(device_key)) + b"\n",
    ):
        with pytest.raises(MalformedBatchError, match="not canonical"):
            parse_header(raw)


def test_batch_device_must_be_its_signers_key_id(device_key):
    other = crypto.new_device_key()
    raw = compact(_header(device_key, device=crypto.key_id(other.public_key())))
    with pytest.raises(MalformedBatchError, match="device is not the key id of its signer"):
        read_all(batch_raw(raw, [], device_key))


def test_an_envelope_naming_another_device_is_refused(coordinator_key, device_key):
    pub = [coordinator_key.public_key()]
    ours = envelope.seal_record({}, pub, device=crypto.key_id(device_key.public_key())).data
    theirs = envelope.seal_record({}, pub, device="0123456789abcdef").data
    unnamed = envelope.seal_record({}, pub).data
    header = parse_header(compact(_header(device_key)))
    assert envelope_in_batch(ours, header).header["id"]
    for data in (theirs, unnamed):
        with pytest.raises(ForeignEnvelopeError):
            envelope_in_batch(data, header)


def test_a_second_reading_yields_only_what_matches_the_first(
    tmp_path, monkeypatch, coordinator_key, device_key
):
    monkeypatch.setattr(batch_module, "CHECKPOINT_BYTES", 1)  # a checkpoint after each envelope
    pub = [coordinator_key.public_key()]
    device = crypto.key_id(device_key.public_key())
    sealed = [envelope.seal_record({"i": i}, pub, device=device).data for i in range(4)]
    path = tmp_path / "b.batch"
    with open(path, "wb") as out:
        write_batch(out, sealed, 4, device_key)
    with open(path, "rb") as stream:
        first = BatchReader(stream)
        assert list(first.envelopes()) == sealed
        assert len(first.checkpoints) == 4
        stream.seek(0)
        assert list(BatchReader(stream).envelopes_again(first)) == sealed
    # The file changes between the readings: what follows the change is never yielded.
    data = path.read_bytes()
    at = data.index(sealed[2]) + 100
    path.write_bytes(data[:at] + bytes([data[at] ^ 1]) + data[at + 1 :])
    with open(path, "rb") as stream:
        again = BatchReader(stream).envelopes_again(first)
        assert [next(again), next(again)] == sealed[:2]
        with pytest.raises(BatchChangedError):
            next(again)


def test_a_second_reading_holds_back_a_few_mib_at_most(coordinator_key, device_key):
    """Memory stays bounded: envelopes are released every CHECKPOINT_BYTES, not at the end."""
    pub = [coordinator_key.public_key()]
    device = crypto.key_id(device_key.public_key())
    sealed = envelope.seal_record({"t": "x" * 300_000}, pub, device=device).data
    count = 40  # 12 MB: checkpoints every 4 MiB
    out = io.BytesIO()
    write_batch(out, [sealed] * count, count, device_key)
    first = BatchReader(io.BytesIO(out.getvalue()))
    assert sum(1 for _ in first.envelopes()) == count
    assert len(first.checkpoints) == 3
    stream = io.BytesIO(out.getvalue())
    again = BatchReader(stream).envelopes_again(first)
    next(again)
    assert stream.tell() <= batch_module.CHECKPOINT_BYTES + len(sealed) + 4 + 4096
    assert sum(1 for _ in again) == count - 1
