"""Published and committed test vectors: RFC 9180 for the suite, and envelope v1."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.hazmat.bindings._rust import openssl as rust_openssl
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from intake import crypto, envelope
from intake.batch import BatchReader, verify_record_signature
from intake.workspace.opening import Opener

VECTORS = Path(__file__).parent / "vectors"
RFC = json.loads((VECTORS / "rfc9180-p256-sha256-aes256gcm.json").read_text())["vectors"]
MANIFEST = json.loads((VECTORS / "manifest.json").read_text("utf-8"))


def _private_key(hex_scalar: str) -> ec.EllipticCurvePrivateKey:
    return ec.derive_private_key(int(hex_scalar, 16), ec.SECP256R1())


def _point(public_key) -> str:
    return public_key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    ).hex()


@pytest.fixture(params=RFC, ids=lambda v: f"mode{v['mode']}")
def rfc_vector(request):
    return request.param


def test_rfc9180_suite_ids_match_ours(rfc_vector):
    ids = (rfc_vector["kem_id"], rfc_vector["kdf_id"], rfc_vector["aead_id"])
    assert ids == (crypto.KEM_ID, crypto.KDF_ID, crypto.AEAD_ID)


def test_rfc9180_key_pairs(rfc_vector):
    assert _point(_private_key(rfc_vector["skRm"]).public_key()) == rfc_vector["pkRm"]
    assert _point(_private_key(rfc_vector["skEm"]).public_key()) == rfc_vector["enc"]


def test_rfc9180_library_decrypts_first_message(rfc_vector):
    """The library's single-shot HPKE is sequence number 0 of the RFC's context."""
    first = rfc_vector["encryptions"][0]
    # The public API has no aad (the envelope binds its header through info);
    # the vector's first message has one, so the library's own test hook is used.
    plaintext = rust_openssl.hpke._decrypt_with_aad(
        crypto.SUITE,
        bytes.fromhex(rfc_vector["enc"] + first["ct"]),
        _private_key(rfc_vector["skRm"]),
        info=bytes.fromhex(rfc_vector["info"]),
        aad=bytes.fromhex(first["aad"]),
    )
    assert plaintext.hex() == first["pt"]


def test_rfc9180_key_schedule_output_drives_aes_256_gcm(rfc_vector):
    """Every encryption in the vector, from its key and nonce, with AES-256-GCM."""
    key, base_nonce = bytes.fromhex(rfc_vector["key"]), int(rfc_vector["base_nonce"], 16)
    assert len(key) == 32
    for seq, message in enumerate(rfc_vector["encryptions"]):
        nonce = (base_nonce ^ seq).to_bytes(12, "big")
        assert nonce.hex() == message["nonce"]
        sealed = AESGCM(key).encrypt(
            nonce, bytes.fromhex(message["pt"]), bytes.fromhex(message["aad"])
        )
        assert sealed.hex() == message["ct"]


def test_rfc9180_round_trip_through_the_public_api(rfc_vector):
    recipient = _private_key(rfc_vector["skRm"])
    info = bytes.fromhex(rfc_vector["info"])
    sealed = crypto.seal_key(b"k" * 32, recipient.public_key(), info)
    assert len(sealed) == crypto.SEALED_KEY_LENGTH
    assert crypto.open_key(sealed, recipient, info) == b"k" * 32


@pytest.fixture(scope="module")
def vector_opener():
    return Opener.from_file(VECTORS / "coordinator.key", MANIFEST["passphrase"])


def test_vector_key_ids_and_fingerprint(vector_opener):
    public = crypto.load_recipient_public_key(VECTORS / "coordinator.pub")
    assert crypto.key_id(public) == MANIFEST["key_id"] == vector_opener.key_id
    assert crypto.fingerprint_hex(public) == MANIFEST["fingerprint"]


@pytest.mark.parametrize("entry", MANIFEST["envelopes"], ids=lambda e: e["file"])
def test_committed_envelopes_open_to_their_records(entry, vector_opener):
    parsed, record = vector_opener.open((VECTORS / entry["file"]).read_bytes())
    assert parsed.header == entry["header"]
    assert record.hex() == entry["record_hex"]
    assert parsed.header["recipients"] == [MANIFEST["key_id"], MANIFEST["second_key_id"]]


def test_committed_batch_verifies_and_opens(vector_opener):
    with open(VECTORS / MANIFEST["batch"]["file"], "rb") as stream:
        reader = BatchReader(stream)
        assert reader.header.device == MANIFEST["device_id"]
        records = [vector_opener.open(data)[1].hex() for data in reader.envelopes()]
    assert records == [e["record_hex"] for e in MANIFEST["envelopes"]]


def test_padding_of_vectors_is_iso_7816_4(vector_opener):
    for entry in MANIFEST["envelopes"]:
        parsed = envelope.parse_envelope((VECTORS / entry["file"]).read_bytes())
        length = len(bytes.fromhex(entry["record_hex"]))
        expected_blocks = length // envelope.PAD_BLOCK + 1
        assert len(parsed.ciphertext) == expected_blocks * envelope.PAD_BLOCK + crypto.TAG_LENGTH


def test_committed_v1_batch_has_no_record_signatures():
    with open(VECTORS / MANIFEST["batch"]["file"], "rb") as stream:
        reader = BatchReader(stream)
        assert reader.version == 1
        assert [signature for _, signature in reader.records()] == [None] * 6


def test_committed_v2_batch_verifies_record_by_record(vector_opener):
    """Batch v2: each record signature, as committed, verifies with device-v2.pub alone."""
    entry = MANIFEST["batch_v2"]
    device_key = crypto.load_device_public_keys(VECTORS / "device-v2.pub")[0]
    assert crypto.key_id(device_key) == entry["device_id"]
    raw = crypto.raw_public_bytes(device_key)
    with open(VECTORS / entry["file"], "rb") as stream:
        reader = BatchReader(stream)
        assert reader.version == 2 and reader.header.device == entry["device_id"]
        records = list(reader.records())
    assert len(records) == entry["count"] == len(entry["records"])
    for (data, signature), expected in zip(records, entry["records"], strict=True):
        assert signature.hex() == expected["record_signature_hex"]
        verify_record_signature(raw, data, signature)
        parsed, record = vector_opener.open(data)
        assert parsed.header == expected["header"]
        assert record.hex() == expected["record_hex"]
    assert [e["record_hex"] for e in entry["records"]] == [
        e["record_hex"] for e in MANIFEST["envelopes"]
    ]
