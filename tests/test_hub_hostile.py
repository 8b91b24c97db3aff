"""Invariant 8 at the hub: thousands of hostile batches, never a 500, nothing stored."""

from __future__ import annotations

import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from intake import db
from tests.hubs import batch_bytes, enrol_field, make_hub, post_batch, sealed_records

EXAMPLES = 700  # per strategy; three strategies: over 2,000 hostile batches


@pytest.fixture(scope="module")
def hub(tmp_path_factory, coordinator_key):
    from intake import instance

    tmp = tmp_path_factory.mktemp("hostile")
    hub_inst, app = make_hub(tmp, coordinator_key)
    field = instance.create(tmp / "field", "field", [coordinator_key.public_key()])
    enrol_field(hub_inst, field)
    records = sealed_records(field.recipient_keys(), 3, field.device_id())
    good = batch_bytes(records, field.device_key())
    return hub_inst, app.test_client(), good


def _stored(hub_inst) -> int:
    database = db.open_database(hub_inst.path)
    try:
        return db.count_envelopes(database)
    finally:
        database.close()


def _assert_refused(hub, data: bytes, content_type="application/octet-stream") -> None:
    hub_inst, client, _good = hub
    response = post_batch(client, data, content_type)
    assert response.status_code < 500, response.data[:200]
    assert response.status_code >= 400, "a hostile batch was accepted"
    assert _stored(hub_inst) == 0


def _mutate(good: bytes, kind: str, at: float, value: int, blob: bytes) -> bytes:
    i = int(at * len(good))
    if kind == "flip":
        return good[:i] + bytes([good[i] ^ (value or 1)]) + good[i + 1 :]
    if kind == "truncate":
        return good[:i]
    if kind == "insert":
        return good[:i] + (blob or b"\x00") + good[i:]
    if kind == "append":
        return good + (blob or b"\x00")
    if kind == "overwrite":
        piece = blob or b"\xff"
        return (
            good[:i] + piece + good[i + len(piece) :]
            if good[i : i + len(piece)] != piece
            else good[:i]
        )
    if kind == "huge_length":
        # Point an envelope length (or the header length) at 4 GB.
        header_end = 10 + struct.unpack(">H", good[8:10])[0]
        return good[:header_end] + b"\xff\xff\xff\xff" + good[header_end + 4 :]
    raise AssertionError(kind)


slow = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    database=None,
)


@slow
@given(
    kind=st.sampled_from(["flip", "truncate", "insert", "append", "overwrite", "huge_length"]),
    at=st.floats(0, 1, exclude_max=True),
    value=st.integers(0, 255),
    blob=st.binary(max_size=64),
)
def test_mutated_batches_are_refused(hub, kind, at, value, blob):
    _assert_refused(hub, _mutate(hub[2], kind, at, value, blob))


@slow
@given(data=st.binary(max_size=4096))
def test_random_bytes_are_refused(hub, data):
    _assert_refused(hub, data)


@slow
@given(
    prefix=st.sampled_from([b"INTAKEB\x01", b"INTAKEB\x02", b"INTAKEE\x01", b"", b"INTAKE"]),
    header=st.one_of(
        st.binary(max_size=200),
        st.dictionaries(
            st.sampled_from(["batch", "count", "created", "device", "signer", "x"]),
            st.one_of(st.integers(-5, 2**40), st.text(max_size=70), st.none()),
        ).map(lambda d: __import__("json").dumps(d).encode()),
    ),
    rest=st.binary(max_size=300),
    content_type=st.sampled_from(["application/octet-stream", "application/json", "text/plain"]),
)
def test_forged_headers_are_refused(hub, prefix, header, rest, content_type):
    data = prefix + struct.pack(">H", len(header)) + header + rest
    _assert_refused(hub, data, content_type)


def test_the_good_batch_itself_is_accepted(hub):
    """The control: the batch the mutations start from is a valid one."""
    hub_inst, client, good = hub
    assert post_batch(client, good).status_code == 200
    database = db.open_database(hub_inst.path)
    database.execute("DELETE FROM envelopes")
    database.conn.commit()
    database.close()
