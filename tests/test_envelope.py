"""Envelope v1: round trips, recipients, and refusal of every change (DESIGN invariant 4)."""

from __future__ import annotations

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
