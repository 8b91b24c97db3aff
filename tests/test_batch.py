"""Signed batches: written and read as a stream, refused when changed."""

from __future__ import annotations

import hashlib
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
    record_signature,
    verify_record_signature,
    write_batch,
)
from tests.forging import batch_raw, batch_raw_v2, compact, record_signature_raw, unsorted


@pytest.fixture(scope="module")
def device_key():
    return crypto.new_device_key()


@pytest.fixture(scope="module")
def envelopes(coordinator_key):
    return [envelope.seal_record({"i": i}, [coordinator_key.public_key()]).data for i in range(5)]


@pytest.fixture(scope="module", params=[1, 2], ids=["v1", "v2"])
def batch_bytes(request, envelopes, device_key):
    """A batch in each format version this program reads: v2 written today, v1 from old devices."""
    out = io.BytesIO()
    write_batch(out, envelopes, len(envelopes), device_key, version=request.param)
    return out.getvalue()


def read_all(data: bytes) -> list[bytes]:
    return list(BatchReader(io.BytesIO(data)).envelopes())


def test_batch_round_trip(batch_bytes, envelopes, device_key):
    reader = BatchReader(io.BytesIO(batch_bytes))
    assert reader.header.count == 5
    assert reader.header.device == crypto.key_id(device_key.public_key())
    assert list(reader.envelopes()) == envelopes


def test_every_single_byte_change_is_refused(batch_bytes):
    for i in range(len(batch_bytes)):
        changed = bytearray(batch_bytes)
        changed[i] ^= 0x01
        with pytest.raises(BatchError):
            read_all(bytes(changed))


def test_truncation_anywhere_is_refused(batch_bytes):
    for end in range(len(batch_bytes)):
        with pytest.raises(BatchError):
            read_all(batch_bytes[:end])


def test_trailing_bytes_are_refused(batch_bytes):
    with pytest.raises(MalformedBatchError, match="trailing"):
        read_all(batch_bytes + b"x")


@pytest.mark.parametrize("version", [1, 2])
def test_another_devices_signature_is_refused(envelopes, device_key, version):
    out = io.BytesIO()
    write_batch(out, envelopes, len(envelopes), device_key, version=version)
    data = bytearray(out.getvalue())
    other = crypto.sign(crypto.new_device_key(), b"anything")
    data[-64:] = other
    with pytest.raises(BadSignatureError):
        read_all(bytes(data))


def test_unknown_version_is_named(batch_bytes):
    for version in (0, 3, 9):
        data = bytearray(batch_bytes)
        data[7] = version
        with pytest.raises(UnknownBatchVersionError, match=f"version {version}"):
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


# -- format v2: a signature of the device after every envelope -------------


@pytest.fixture(scope="module")
def own_envelopes(coordinator_key, device_key):
    device = crypto.key_id(device_key.public_key())
    pub = [coordinator_key.public_key()]
    return [envelope.seal_record({"i": i}, pub, device=device).data for i in range(3)]


def _v2_header(device_key, count: int) -> bytes:
    return compact(_header(device_key, count=count))


def test_writers_write_v2_laid_out_as_documented(own_envelopes, device_key):
    """Version byte 2; after each envelope its 64-byte record signature; label intake-batch-v2."""
    out = io.BytesIO()
    header = write_batch(out, own_envelopes, 3, device_key)
    data = out.getvalue()
    assert data[:8] == b"INTAKEB\x02"
    length = int.from_bytes(data[8:10], "big")
    at = 10 + length
    public = device_key.public_key()
    for sealed in own_envelopes:
        assert int.from_bytes(data[at : at + 4], "big") == len(sealed)
        assert data[at + 4 : at + 4 + len(sealed)] == sealed
        at += 4 + len(sealed)
        # Ed25519 is deterministic: the same signature, made here by hand from the spec.
        assert data[at : at + 64] == record_signature_raw(device_key, sealed)
        public.verify(data[at : at + 64], b"intake-record-v1\x00" + hashlib.sha512(sealed).digest())
        at += 64
    assert len(data) == at + 64
    public.verify(data[at:], b"intake-batch-v2\x00" + hashlib.sha512(data[:at]).digest())
    assert header.count == 3


def test_v2_reading_yields_each_envelope_with_its_signature(own_envelopes, device_key):
    out = io.BytesIO()
    write_batch(out, own_envelopes, 3, device_key)
    reader = BatchReader(io.BytesIO(out.getvalue()))
    records = list(reader.records())
    assert reader.version == 2
    assert [data for data, _ in records] == own_envelopes
    raw = crypto.raw_public_key(device_key)
    for data, signature in records:
        verify_record_signature(raw, data, signature)


def test_v1_reading_yields_no_record_signature(own_envelopes, device_key):
    out = io.BytesIO()
    write_batch(out, own_envelopes, 3, device_key, version=1)
    reader = BatchReader(io.BytesIO(out.getvalue()))
    assert list(reader.records()) == [(data, None) for data in own_envelopes]
    assert reader.version == 1


@pytest.mark.parametrize("forgery", ["zeros", "other_device", "other_record", "swapped"])
def test_a_v2_batch_with_one_forged_record_signature_is_refused_whole(
    own_envelopes, device_key, forgery
):
    """The batch signature is valid; one record's signature is not: the whole batch is refused."""
    a, b, c = own_envelopes
    good = [(e, record_signature_raw(device_key, e)) for e in own_envelopes]
    header = _v2_header(device_key, 3)
    assert read_all(batch_raw_v2(header, good, device_key)) == own_envelopes
    forged = {
        "zeros": [good[0], (b, bytes(64)), good[2]],
        "other_device": [good[0], (b, record_signature_raw(crypto.new_device_key(), b)), good[2]],
        "other_record": [good[0], (b, good[2][1]), good[2]],
        "swapped": [(a, good[1][1]), (b, good[0][1]), good[2]],
    }[forgery]
    reader = BatchReader(io.BytesIO(batch_raw_v2(header, forged, device_key)))
    seen = []
    with pytest.raises(BadSignatureError, match="signature of record"):
        for data, _signature in reader.records():
            seen.append(data)
    assert len(seen) < 3  # refused as it was read, before the end of the batch


def test_a_record_signature_by_another_device_fails_verify(own_envelopes, device_key):
    sealed = own_envelopes[0]
    ours = record_signature(device_key, sealed)
    assert ours == record_signature_raw(device_key, sealed)
    verify_record_signature(crypto.raw_public_key(device_key), sealed, ours)
    other = crypto.new_device_key()
    theirs = record_signature(other, sealed)
    for raw, signature, data in (
        (crypto.raw_public_key(device_key), theirs, sealed),
        (crypto.raw_public_key(other), ours, sealed),
        (crypto.raw_public_key(device_key), ours, own_envelopes[1]),
        (crypto.raw_public_key(device_key), ours[:63], sealed),
        (bytes(31), ours, sealed),
    ):
        with pytest.raises(BadSignatureError):
            verify_record_signature(raw, data, signature)


def test_a_record_signature_is_not_a_batch_signature(device_key):
    """Labels keep signatures apart: a record signature over 64 bytes never passes for a batch's."""
    digest = hashlib.sha512(b"x").digest()
    signature = device_key.sign(b"intake-record-v1\x00" + digest)
    with pytest.raises(crypto.AuthenticationError):
        crypto.verify(device_key.public_key(), signature, b"intake-batch-v2\x00" + digest)


def test_a_v2_batch_is_read_twice_with_its_signatures(tmp_path, own_envelopes, device_key):
    path = tmp_path / "b.batch"
    with open(path, "wb") as out:
        write_batch(out, own_envelopes, 3, device_key)
    with open(path, "rb") as stream:
        first = BatchReader(stream)
        records = list(first.records())
        stream.seek(0)
        assert list(BatchReader(stream).records_again(first)) == records


def test_records_are_checked_side_by_side_yet_yielded_in_order(own_envelopes, device_key):
    """Many records (several runs of threads): order kept, the forged one named by position."""
    many = own_envelopes * 100  # 300 records, more than the window of records checked at once
    assert len(many) > batch_module.VERIFY_WINDOW
    pairs = [(e, record_signature_raw(device_key, e)) for e in many]
    header = _v2_header(device_key, len(many))
    assert read_all(batch_raw_v2(header, pairs, device_key)) == many
    pairs[250] = (pairs[250][0], pairs[251][1])
    seen = []
    with pytest.raises(BadSignatureError, match="signature of record 251 does not verify"):
        for data, _signature in BatchReader(
            io.BytesIO(batch_raw_v2(header, pairs, device_key))
        ).records():
            seen.append(data)
    assert seen == many[:250]


def test_the_first_reading_holds_a_few_mib_at_most(coordinator_key, device_key):
    pub = [coordinator_key.public_key()]
    device = crypto.key_id(device_key.public_key())
    sealed = envelope.seal_record({"t": "x" * 300_000}, pub, device=device).data
    count = 60  # 18 MB
    out = io.BytesIO()
    write_batch(out, [sealed] * count, count, device_key)
    stream = io.BytesIO(out.getvalue())
    records = BatchReader(stream).records()
    next(records)
    assert stream.tell() <= batch_module.CHECKPOINT_BYTES * 5 // 4 + 2 * (len(sealed) + 68) + 4096
    assert sum(1 for _ in records) == count - 1
