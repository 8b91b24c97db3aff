"""Envelope v1: round trips, recipients, and refusal of every change (DESIGN invariant 4)."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from intake import crypto, envelope
from intake.envelope import (
    MalformedEnvelopeError,
    NotRecipientError,
    RecordError,
    TamperedError,
    UnknownVersionError,
)
from intake.workspace.opening import open_record
from tests.forging import compact, seal_raw, unsorted

RECORD = {"ar": "هل أنت في أمان الآن؟", "ti": "ሕጂ ብሰላም ዲኻ፧", "n": 7, "ok": True}


@pytest.fixture(scope="module")
def sealed(coordinator_key, second_key):
    return envelope.seal_record(
        RECORD,
        [coordinator_key.public_key(), second_key.public_key()],
        kind="screening",
        device="0123456789abcdef",
        questionnaire="screening-full@1",
    )


def test_round_trip_keeps_arabic_and_tigrinya_bytes(sealed, coordinator_key):
    header, record = open_record(sealed.data, coordinator_key)
    assert record == envelope.canonical_json(RECORD)
    for text in (RECORD["ar"], RECORD["ti"]):
        assert text.encode("utf-8") in record
    assert header["id"] == sealed.record_id
    assert header["kind"] == "screening"
    assert header["questionnaire"] == "screening-full@1"


def test_second_recipient_opens(sealed, second_key):
    assert open_record(sealed.data, second_key)[1] == envelope.canonical_json(RECORD)


def test_a_key_that_is_not_a_recipient_cannot_open(sealed):
    with pytest.raises(NotRecipientError):
        open_record(sealed.data, crypto.new_recipient_key())


def test_a_key_posing_under_a_recipients_key_id_cannot_open(sealed, coordinator_key):
    from intake.workspace.opening import Opener

    impostor = Opener(crypto.new_recipient_key(), crypto.key_id(coordinator_key.public_key()))
    with pytest.raises(TamperedError):
        impostor.open(sealed.data)


def test_every_single_byte_change_is_refused(sealed, coordinator_key):
    data = sealed.data
    for i in range(len(data)):
        for flip in (0x01, 0x80):
            changed = bytearray(data)
            changed[i] ^= flip
            with pytest.raises(envelope.EnvelopeError):
                open_record(bytes(changed), coordinator_key)


def test_every_truncation_and_any_extension_is_refused(sealed, coordinator_key):
    data = sealed.data
    for end in range(len(data)):
        with pytest.raises(envelope.EnvelopeError):
            open_record(data[:end], coordinator_key)
    with pytest.raises(MalformedEnvelopeError):
        open_record(data + b"\x00", coordinator_key)


def test_unknown_version_and_suite_are_named(sealed, coordinator_key):
    newer = bytearray(sealed.data)
    newer[7] = 2
    with pytest.raises(UnknownVersionError, match="version 2"):
        open_record(bytes(newer), coordinator_key)
    other_suite = bytearray(sealed.data)
    other_suite[9] = 0x20  # X25519's KEM id
    with pytest.raises(UnknownVersionError, match="suite"):
        open_record(bytes(other_suite), coordinator_key)


def test_header_swap_between_envelopes_is_refused(coordinator_key):
    """Metadata from one envelope cannot be grafted onto another's body."""
    pub = [coordinator_key.public_key()]
    a = envelope.parse_envelope(envelope.seal_record({"a": 1}, pub).data)
    b = envelope.seal_record({"b": 2}, pub).data
    parsed_b = envelope.parse_envelope(b)
    grafted = a.associated_data + b[len(parsed_b.associated_data) :]
    with pytest.raises(envelope.EnvelopeError):
        open_record(grafted, coordinator_key)


@pytest.mark.parametrize("size", [0, 1, 509, 510, 511, 512, 513, 1500, 5000])
def test_padding_hides_length_to_a_512_byte_block(size, coordinator_key):
    sealed = envelope.seal_record({"t": "y" * size}, [coordinator_key.public_key()])
    ciphertext = envelope.parse_envelope(sealed.data).ciphertext
    assert (len(ciphertext) - crypto.TAG_LENGTH) % envelope.PAD_BLOCK == 0
    assert open_record(sealed.data, coordinator_key)[1] == envelope.canonical_json(
        {"t": "y" * size}
    )


def test_records_of_similar_length_have_the_same_envelope_length(coordinator_key):
    pub = [coordinator_key.public_key()]
    short = envelope.seal_record({"answer": "no"}, pub, record_id=envelope.record_uuid({}))
    longer = envelope.seal_record({"answer": "yes, for three years"}, pub)
    assert len(short.data) == len(longer.data)


def test_record_must_be_an_object_and_kind_well_formed(coordinator_key):
    pub = [coordinator_key.public_key()]
    with pytest.raises(RecordError):
        envelope.seal_record(["not", "an", "object"], pub)
    with pytest.raises(RecordError):
        envelope.seal_record({}, pub, kind="Bad Kind!")
    with pytest.raises(RecordError):
        envelope.seal_record({}, [])


def test_record_keeps_its_own_uuid(coordinator_key):
    given_id = "6f1c2c4e-8f0a-4f43-9b55-2d7f6c1c0e11"
    sealed = envelope.seal_record({"id": given_id}, [coordinator_key.public_key()])
    assert sealed.record_id == given_id
    other = envelope.seal_record({"id": "not-a-uuid"}, [coordinator_key.public_key()])
    assert other.record_id != "not-a-uuid"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
records = st.dictionaries(st.text(max_size=12), json_values, max_size=6)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(record=records)
def test_property_every_record_round_trips(record, coordinator_key):
    sealed = envelope.seal_record(record, [coordinator_key.public_key()])
    assert open_record(sealed.data, coordinator_key)[1] == envelope.canonical_json(record)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(record=records, position=st.floats(0, 1, exclude_max=True), flip=st.integers(1, 255))
def test_property_every_single_byte_change_is_refused(record, position, flip, coordinator_key):
    data = bytearray(envelope.seal_record(record, [coordinator_key.public_key()]).data)
    data[int(position * len(data))] ^= flip
    with pytest.raises(envelope.EnvelopeError):
        open_record(bytes(data), coordinator_key)


# -- the strict reader: header, record and padding rules of docs/envelope.md --


def _header(public_key, **changes) -> dict:
    header = {
        "created": "2026-11-30T12:00:00Z",
        "device": "0123456789abcdef",
        "id": "6f1c2c4e-8f0a-4f43-9b55-2d7f6c1c0e11",
        "kind": "screening",
        "questionnaire": None,
        "recipients": [crypto.key_id(public_key)],
    }
    header.update(changes)
    return header


@pytest.mark.parametrize(
    "change",
    [
        {"extra": 1},
        {"id": "6F1C2C4E-8F0A-4F43-9B55-2D7F6C1C0E11"},
        {"id": "not-a-uuid"},
        {"kind": "Screening"},
        {"created": "2026-02-30T12:00:00Z"},
        {"created": "٢٠٢٦-11-30T12:00:00Z"},
        {"created": "2026-11-30 12:00:00Z"},
        {"device": "someone"},
        {"device": 7},
        {"questionnaire": "q" * 201},
        {"questionnaire": 1},
        {"recipients": []},
        {"recipients": "1456a1b88c8b2dcd"},
    ],
    ids=lambda c: next(iter(c)) + "=" + str(next(iter(c.values())))[:20],
)
def test_header_members_and_forms_are_checked(change, coordinator_key):
    public_key = coordinator_key.public_key()
    raw = compact(_header(public_key, **change))
    with pytest.raises(TamperedError):
        envelope.parse_header(raw)
    data = seal_raw(public_key, raw, envelope.pad(b"{}"))
    with pytest.raises(TamperedError):
        open_record(data, coordinator_key)


def test_a_header_missing_a_member_or_repeating_a_recipient_is_refused(coordinator_key):
    public_key = coordinator_key.public_key()
    header = _header(public_key)
    del header["questionnaire"]
    with pytest.raises(TamperedError):
        envelope.parse_header(compact(header))
    kid = crypto.key_id(public_key)
    with pytest.raises(TamperedError):
        envelope.parse_header(compact(_header(public_key, recipients=[kid, kid])))


@pytest.mark.parametrize(
    "raw",
    [
        b"not json at all",
        b'{"created": "2026-11-30T12:00:00Z"}',
        b"[]",
    ],
)
def test_a_header_that_is_not_a_v1_object_is_refused_even_when_authentic(raw, coordinator_key):
    data = seal_raw(coordinator_key.public_key(), raw, envelope.pad(b"{}"))
    with pytest.raises(TamperedError, match="header"):
        open_record(data, coordinator_key)


def test_a_header_that_is_not_canonical_is_refused(coordinator_key):
    public_key = coordinator_key.public_key()
    good = envelope.canonical_json(_header(public_key, questionnaire="a/b é"))
    assert envelope.parse_header(good)["questionnaire"] == "a/b é"
    for raw in (
        json.dumps(_header(public_key), sort_keys=True).encode(),
        unsorted(_header(public_key)),
        good.replace(b"a/b", b"a\\/b"),
        good.replace("é".encode(), b"\\u00e9"),
        good + b" ",
    ):
        with pytest.raises(TamperedError, match="not canonical"):
            envelope.parse_header(raw)
        with pytest.raises(TamperedError):
            open_record(seal_raw(public_key, raw, envelope.pad(b"{}")), coordinator_key)


@pytest.mark.parametrize(
    "record",
    [
        b'{"a":1}\n{"injected":true}',
        b'{"a":"x\ny"}',
        b"[1,2]",
        b'"text"',
        b"null",
        b'{"b":1,"a":2}',
        b'{"a": 1}',
        b'{"a":1.0}',
        b'{"a":1,"a":2}',
        b'{"a":"\\u00e9"}',
        b"\xff",
        b"",
    ],
)
def test_a_record_that_is_not_a_canonical_json_object_is_refused(record, coordinator_key):
    public_key = coordinator_key.public_key()
    data = seal_raw(public_key, compact(_header(public_key)), envelope.pad(record))
    with pytest.raises(envelope.BadRecordError):
        open_record(data, coordinator_key)


def test_padding_longer_than_needed_is_refused(coordinator_key):
    public_key = coordinator_key.public_key()
    header = compact(_header(public_key))
    minimal = envelope.pad(b'{"a":1}')
    assert open_record(seal_raw(public_key, header, minimal), coordinator_key)[1] == b'{"a":1}'
    for extra in (envelope.PAD_BLOCK, 2 * envelope.PAD_BLOCK):
        data = seal_raw(public_key, header, minimal + bytes(extra))
        with pytest.raises(envelope.BadRecordError, match="longer than needed"):
            open_record(data, coordinator_key)
    full = b'{"t":"' + b"y" * 504 + b'"}'  # 512 bytes: the marker opens a second block
    assert len(envelope.pad(full)) == 1024
    data = seal_raw(public_key, header, envelope.pad(full))
    assert open_record(data, coordinator_key)[1] == full


def test_seal_writes_one_stanza_per_key_and_refuses_records_without_canonical_form(coordinator_key):
    pub = coordinator_key.public_key()
    twice = envelope.seal_record({}, [pub, pub, coordinator_key.public_key()])
    assert [s.key_id for s in envelope.parse_envelope(twice.data).stanzas] == [crypto.key_id(pub)]
    for record in ({"a": float("nan")}, {"a": "\ud800"}, {"a": 2**53 + 1}, {"a": b"x"}):
        with pytest.raises(RecordError, match="canonical"):
            envelope.seal_record(record, [pub])
    with pytest.raises(RecordError):
        envelope.seal_record({}, [pub], device="not a key id")
