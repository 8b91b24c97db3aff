"""Issue 8.9: a hand-carried batch comes back as a receipt signed by the hub.

The receipt clears exactly the records the hub holds; one the enrolled hub
did not sign, one for another device, or one changed in any byte changes
nothing. Expected bytes and key ids are computed here from the spec
(docs/envelope.md, "Receipts") with `cryptography` and `hashlib` directly.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from intake import crypto, db, envelope, instance
from intake.field.receipts import AcknowledgeError, acknowledge_receipt
from intake.receipt import read_receipt
from tests.browser import LiveServer
from tests.conftest import run_intake
from tests.hubs import enrol_field


def _seal(field, n: int, recipients=None) -> list[str]:
    database = db.open_database(field.path)
    ids = []
    for i in range(n):
        item = envelope.seal_record(
            {"i": i},
            recipients or field.recipient_keys(),
            kind="screening",
            device=field.device_id(),
        )
        db.add_to_outbox(database, item)
        ids.append(item.record_id)
    database.close()
    return ids


def _outbox(field) -> dict[str, tuple]:
    database = db.open_database(field.path)
    rows = database.execute("SELECT id, state, refused FROM outbox").fetchall()
    database.close()
    return {i: (state, refused) for i, state, refused in rows}


def _raw_public_hex(pub_file) -> str:
    key = serialization.load_pem_public_key(pub_file.read_bytes())
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()


def _pin(field, hub_inst) -> None:
    """What enrolment does: pin the hub's receipt key on the device."""
    database = db.open_database(field.path)
    db.set_sync_state(database, "hub_receipt_key", _raw_public_hex(hub_inst.path / "receipt.pub"))
    database.close()


def _key_id(public_key) -> str:
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).hexdigest()[:16]


def _import(hub_inst, batch, *extra):
    result = run_intake("hub", "import", "--instance", hub_inst.path, batch, *extra)
    assert result.returncode == 0, result.stderr
    return result


@pytest.fixture
def hub_inst(tmp_path, coordinator_key):
    return instance.create(tmp_path / "hub", "hub", [coordinator_key.public_key()])


@pytest.fixture
def field(tmp_path, coordinator_key, hub_inst):
    field = instance.create(tmp_path / "field", "field", [coordinator_key.public_key()])
    enrol_field(hub_inst, field)
    _pin(field, hub_inst)
    return field


@pytest.fixture
def carried(tmp_path, field, hub_inst):
    """Three records carried by hand to the hub; returns (ids, receipt bytes)."""
    ids = _seal(field, 3)
    batch = tmp_path / "carried.batch"
    assert run_intake("outbox", "export", "--instance", field.path, batch).returncode == 0
    _import(hub_inst, batch)
    return ids, (tmp_path / "carried.batch.receipt").read_bytes()


def test_a_hand_carried_batchs_receipt_clears_exactly_its_stored_records(tmp_path, coordinator_key):
    hub_inst = instance.create(tmp_path / "hub", "hub", [coordinator_key.public_key()])
    server = LiveServer(hub_inst.path)
    server.start()
    try:
        field = instance.create(tmp_path / "field", "field", [coordinator_key.public_key()])
        code = run_intake("hub", "enroll-code", "--instance", hub_inst.path, "--name", "x")
        code = code.stdout.decode().split()[-1]
        enrolled = run_intake("enroll", "--instance", field.path, server.url, code)
    finally:
        server.stop()
    assert enrolled.returncode == 0, enrolled.stderr
    hub_key = serialization.load_pem_public_key((hub_inst.path / "receipt.pub").read_bytes())
    assert f"Pinned the hub's receipt key {_key_id(hub_key)}".encode() in enrolled.stdout
    stored = _seal(field, 4)
    stranger = crypto.new_recipient_key().public_key()
    refused = _seal(field, 1, recipients=[stranger])  # the hub refuses it: not sealed to it
    batch = tmp_path / "usb" / "crossing7.batch"
    batch.parent.mkdir()
    assert run_intake("outbox", "export", "--instance", field.path, batch).returncode == 0
    later = _seal(field, 2)  # added after the export: not in the batch
    imported = _import(hub_inst, batch)
    receipt = tmp_path / "usb" / "crossing7.batch.receipt"
    assert f"Receipt signed by this hub: {receipt}".encode() in imported.stdout
    assert b"4 stored, 0 already here, 1 rejected" in imported.stdout
    acked = run_intake("outbox", "ack", "--instance", field.path, receipt)
    assert acked.returncode == 0, acked.stderr
    assert b"acknowledged 4 record(s)" in acked.stdout
    reason = "not sealed to any coordinator key of this hub"
    expected = {**dict.fromkeys(later, ("pending", None)), refused[0]: ("pending", reason)}
    assert _outbox(field) == expected
    # Replayed: harmless.
    again = run_intake("outbox", "ack", "--instance", field.path, receipt)
    assert again.returncode == 0 and b"acknowledged 0 record(s)" in again.stdout
    assert _outbox(field) == expected
    assert set(stored).isdisjoint(_outbox(field))


def test_the_receipt_goes_where_asked(tmp_path, field, hub_inst):
    _seal(field, 1)
    batch = tmp_path / "carried.batch"
    assert run_intake("outbox", "export", "--instance", field.path, batch).returncode == 0
    out = tmp_path / "back" / "r.receipt"
    out.parent.mkdir()
    imported = _import(hub_inst, batch, "--receipt", out)
    assert f"Receipt signed by this hub: {out}".encode() in imported.stdout
    assert out.read_bytes().startswith(b"INTAKE-RECEIPT 1\n")
    assert not (tmp_path / "carried.batch.receipt").exists()


def test_a_receipt_signed_by_another_hub_key_is_refused(tmp_path, field, coordinator_key):
    other_hub = instance.create(tmp_path / "other", "hub", [coordinator_key.public_key()])
    enrol_field(other_hub, field)
    ids = _seal(field, 2)
    batch = tmp_path / "carried.batch"
    assert run_intake("outbox", "export", "--instance", field.path, batch).returncode == 0
    _import(other_hub, batch)
    refused = run_intake("outbox", "ack", "--instance", field.path, f"{batch}.receipt")
    assert refused.returncode == 2
    assert refused.stderr.count(b"\n") == 1
    assert b"not signed by the pinned hub key" in refused.stderr
    assert _outbox(field) == dict.fromkeys(ids, ("pending", None))


def test_a_receipt_for_another_device_is_refused(tmp_path, field, hub_inst, coordinator_key):
    other = instance.create(tmp_path / "other", "field", [coordinator_key.public_key()])
    enrol_field(hub_inst, other, "Crossing 8")
    _seal(other, 1)
    batch = tmp_path / "other.batch"
    assert run_intake("outbox", "export", "--instance", other.path, batch).returncode == 0
    _import(hub_inst, batch)
    ids = _seal(field, 1)
    refused = run_intake("outbox", "ack", "--instance", field.path, f"{batch}.receipt")
    assert refused.returncode == 2
    assert f"is for device {other.device_id()}".encode() in refused.stderr
    assert _outbox(field) == dict.fromkeys(ids, ("pending", None))


def test_every_single_byte_change_of_a_receipt_is_refused(field, carried):
    ids, receipt = carried
    for i in range(len(receipt)):
        for flip in (0x01, 0x20):
            changed = receipt[:i] + bytes([receipt[i] ^ flip]) + receipt[i + 1 :]
            with pytest.raises(AcknowledgeError):
                acknowledge_receipt(field, changed)
    for end in range(len(receipt)):
        with pytest.raises(AcknowledgeError):
            acknowledge_receipt(field, receipt[:end])
    for extra in (b"\n", b" ", b"0"):
        with pytest.raises(AcknowledgeError):
            acknowledge_receipt(field, receipt + extra)
    assert _outbox(field) == dict.fromkeys(ids, ("pending", None))
    assert acknowledge_receipt(field, receipt).cleared == 3
    assert _outbox(field) == {}


def test_the_receipt_is_what_the_spec_says(field, carried, hub_inst):
    """Read with the spec alone: magic line, canonical JSON body, labelled Ed25519 signature."""
    ids, receipt = carried
    magic, body, signature, end = receipt.split(b"\n")
    assert (magic, end) == (b"INTAKE-RECEIPT 1", b"")
    hub_key = serialization.load_pem_public_key((hub_inst.path / "receipt.pub").read_bytes())
    hub_key.verify(bytes.fromhex(signature.decode()), b"intake-receipt-v1\x00" + body)
    fields = json.loads(body)
    assert body == json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()
    assert sorted(fields) == ["batch", "created", "device", "hub_key", "results"]
    assert fields["device"] == field.device_id() and fields["hub_key"] == _key_id(hub_key)
    results = sorted(fields["results"], key=lambda r: r["id"])
    assert results == [{"id": i, "status": "stored"} for i in sorted(ids)]


def test_a_receipt_written_from_the_spec_is_taken(field):
    """A receipt built by hand from docs/envelope.md, signed by a pinned key, is accepted."""
    hub_key = ed25519.Ed25519PrivateKey.generate()
    database = db.open_database(field.path)
    raw = hub_key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    db.set_sync_state(database, "hub_receipt_key", raw.hex())
    database.close()
    kept, gone, refused = _seal(field, 3)
    body = (
        '{"batch":"9f1c2b7e-3d4a-4c5b-8e6f-7a8b9c0d1e2f","created":"2026-11-30T12:00:00Z",'
        f'"device":"{field.device_id()}","hub_key":"{_key_id(hub_key.public_key())}",'
        f'"results":[{{"id":"{gone}","status":"stored"}},'
        f'{{"id":"{refused}","reason":"pas ici – ሰላም","status":"rejected"}}]}}'
    ).encode()
    signature = hub_key.sign(b"intake-receipt-v1\x00" + body)
    receipt = b"INTAKE-RECEIPT 1\n" + body + b"\n" + signature.hex().encode() + b"\n"
    report = acknowledge_receipt(field, receipt)
    assert (report.cleared, report.refused) == (1, 1)
    assert _outbox(field) == {kept: ("pending", None), refused: ("pending", "pas ici – ሰላም")}
    # The same body with a space, or its members out of order, is not canonical: refused.
    batch = b'"batch":"9f1c2b7e-3d4a-4c5b-8e6f-7a8b9c0d1e2f",'
    created = b'"created":"2026-11-30T12:00:00Z",'
    spaced = body.replace(b'","created"', b'", "created"')
    reordered = body.replace(batch + created, created + batch)
    assert spaced != body and reordered != body
    for other in (spaced, reordered):
        forged = b"INTAKE-RECEIPT 1\n" + other + b"\n"
        forged += hub_key.sign(b"intake-receipt-v1\x00" + other).hex().encode() + b"\n"
        with pytest.raises(AcknowledgeError, match="not valid"):
            acknowledge_receipt(field, forged)
    # Signed without the label (as a batch digest would be): refused.
    unlabelled = b"INTAKE-RECEIPT 1\n" + body + b"\n" + hub_key.sign(body).hex().encode() + b"\n"
    with pytest.raises(AcknowledgeError, match="not signed"):
        acknowledge_receipt(field, unlabelled)


def test_a_device_enrolled_before_receipt_keys_is_told_what_to_do(
    tmp_path, hub_inst, coordinator_key
):
    field = instance.create(tmp_path / "old", "field", [coordinator_key.public_key()])
    enrol_field(hub_inst, field)  # no receipt key pinned, as before hubs had one
    ids = _seal(field, 2)
    batch = tmp_path / "old.batch"
    assert run_intake("outbox", "export", "--instance", field.path, batch).returncode == 0
    _import(hub_inst, batch)
    receipt = f"{batch}.receipt"
    refused = run_intake("outbox", "ack", "--instance", field.path, receipt)
    assert refused.returncode == 2 and refused.stderr.count(b"\n") == 1
    assert b"enrol it again" in refused.stderr and b"--hub-key" in refused.stderr
    other_hub = instance.create(tmp_path / "other", "hub", [coordinator_key.public_key()])
    wrong = run_intake(
        "outbox",
        "ack",
        "--instance",
        field.path,
        receipt,
        "--hub-key",
        other_hub.path / "receipt.pub",
    )
    assert wrong.returncode == 2 and b"not signed by" in wrong.stderr
    assert _outbox(field) == dict.fromkeys(ids, ("pending", None))
    pub = hub_inst.path / "receipt.pub"
    pinned = run_intake("outbox", "ack", "--instance", field.path, receipt, "--hub-key", pub)
    assert pinned.returncode == 0, pinned.stderr
    assert b"Pinned the hub receipt key" in pinned.stdout
    assert _outbox(field) == {}
    database = db.open_database(field.path)
    assert db.get_sync_state(database, "hub_receipt_key") == _raw_public_hex(pub)
    database.close()
    swapped = run_intake(
        "outbox",
        "ack",
        "--instance",
        field.path,
        receipt,
        "--hub-key",
        other_hub.path / "receipt.pub",
    )
    assert swapped.returncode == 2 and b"not the hub receipt key pinned" in swapped.stderr


def test_hub_receipt_key_is_owner_only_and_made_on_first_need(tmp_path, coordinator_key):
    hub = instance.create(tmp_path / "hub", "hub", [coordinator_key.public_key()])
    key_file = hub.path / "receipt.key"
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    first = (hub.path / "receipt.pub").read_bytes()
    # A hub made before receipts: no key yet. The first receipt makes one.
    key_file.unlink()
    (hub.path / "receipt.pub").unlink()
    key = instance.load(hub.path).receipt_key()
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    assert (hub.path / "receipt.pub").read_bytes() != first
    assert instance.load(hub.path).receipt_key().public_key() == key.public_key()


def test_read_receipt_names_the_problem(field, carried, hub_inst):
    _ids, receipt = carried
    key = crypto.load_receipt_public_key(hub_inst.path / "receipt.pub")
    assert len(read_receipt(receipt, key, field.device_id()).held_ids()) == 3
    with pytest.raises(Exception, match="unknown receipt format version 2"):
        read_receipt(receipt.replace(b"RECEIPT 1", b"RECEIPT 2", 1), key, field.device_id())
    with pytest.raises(Exception, match="not an Intake receipt"):
        read_receipt(b"INTAKEB\x01", key, field.device_id())
