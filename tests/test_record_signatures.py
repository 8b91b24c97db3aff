"""Batch v2 at the hub and in `intake open`: every record keeps its device's signature."""

from __future__ import annotations

import io
import shutil
import struct
from pathlib import Path

import pytest

from intake import crypto, db
from intake.batch import BatchReader, verify_record_signature, write_batch
from tests.forging import batch_raw_v2, compact, record_signature_raw
from tests.hubs import batch_bytes, enrol_field, hub_ids, make_hub, post_batch, sealed_records

VECTORS = Path(__file__).parent / "vectors"


@pytest.fixture
def hub(tmp_path, coordinator_key):
    return make_hub(tmp_path, coordinator_key)


@pytest.fixture
def client(hub):
    return hub[1].test_client()


@pytest.fixture
def device(hub, field_instance):
    enrol_field(hub[0], field_instance)
    return field_instance.device_key()


def _rows(hub_inst) -> list[tuple]:
    database = db.open_database(hub_inst.path)
    try:
        return database.execute(
            "SELECT seq, id, envelope, signature, batch_id FROM envelopes ORDER BY seq"
        ).fetchall()
    finally:
        database.close()


def _v1_batch(records, device_key) -> bytes:
    out = io.BytesIO()
    write_batch(out, (r.data for r in records), len(records), device_key, version=1)
    return out.getvalue()


def test_the_hub_stores_each_records_signature(hub, client, device, field_instance):
    records = sealed_records(field_instance.recipient_keys(), 3, field_instance.device_id())
    assert post_batch(client, batch_bytes(records, device)).get_json()["stored"] == 3
    rows = _rows(hub[0])
    assert [row[1] for row in rows] == [r.record_id for r in records]
    database = db.open_database(hub[0].path)
    enrolled = bytes.fromhex(db.device(database, field_instance.device_id())["public_key"])
    database.close()
    for _seq, _id, data, signature, _batch in rows:
        verify_record_signature(enrolled, data, signature)  # the device key the hub enrolled
        assert signature == record_signature_raw(device, data)


def test_a_v2_batch_with_one_forged_record_signature_stores_nothing(
    hub, client, device, field_instance
):
    records = sealed_records(field_instance.recipient_keys(), 3, field_instance.device_id())
    pairs = [(r.data, record_signature_raw(device, r.data)) for r in records]
    pairs[1] = (pairs[1][0], pairs[2][1])  # the third record's signature on the second
    header = compact(
        {
            "batch": "3ae99ef4-d4c7-4db4-b919-2a7fcacda624",
            "count": 3,
            "created": "2026-11-30T12:00:00Z",
            "device": field_instance.device_id(),
            "signer": crypto.raw_public_key(device).hex(),
        }
    )
    response = post_batch(client, batch_raw_v2(header, pairs, device))
    assert response.status_code == 400
    assert "signature of record 2 does not verify" in response.get_json()["error"]
    assert hub_ids(hub[0]) == set()


@pytest.mark.parametrize("version", [1, 2])
def test_the_hub_refuses_every_single_byte_change_and_every_truncation(
    hub, device, field_instance, version
):
    """The hub's own path, exhaustively: each byte changed, each cut, refused; nothing stored."""
    from intake.hub.receiving import BatchRefused, receive_batch

    records = sealed_records(field_instance.recipient_keys(), 1, field_instance.device_id())
    good = _v1_batch(records, device) if version == 1 else batch_bytes(records, device)
    database = db.open_database(hub[0].path)
    ids = hub[0].recipient_ids()
    for i in range(len(good)):
        changed = good[:i] + bytes([good[i] ^ 0x01]) + good[i + 1 :]
        for data in (changed, good[:i]):
            with pytest.raises(BatchRefused):
                receive_batch(database, io.BytesIO(data), ids, "file")
    assert db.count_envelopes(database) == 0
    assert receive_batch(database, io.BytesIO(good), ids, "file").count("stored") == 1
    database.close()


def test_a_v1_batch_is_still_taken_and_can_be_verified_again(hub, client, device, field_instance):
    """No record signature in v1: the hub keeps the batch's header, signature and order."""
    records = sealed_records(field_instance.recipient_keys(), 3, field_instance.device_id())
    data = _v1_batch(records, device)
    assert post_batch(client, data).get_json()["stored"] == 3
    rows = _rows(hub[0])
    assert [row[3] for row in rows] == [None, None, None]
    database = db.open_database(hub[0].path)
    kept = db.v1_batch(database, field_instance.device_id(), rows[0][4])
    database.close()
    assert kept["ids"] == [r.record_id for r in records]
    held = {row[1]: row[2] for row in rows}
    # Rebuilt from what the hub holds, byte for byte as docs/envelope.md lays out v1.
    rebuilt = b"INTAKEB\x01" + struct.pack(">H", len(kept["header"])) + kept["header"]
    rebuilt += b"".join(struct.pack(">I", len(held[i])) + held[i] for i in kept["ids"])
    rebuilt += kept["signature"]
    assert rebuilt == data
    assert len(list(BatchReader(io.BytesIO(rebuilt)).envelopes())) == 3


def test_a_v2_batch_keeps_no_v1_evidence(hub, client, device, field_instance):
    records = sealed_records(field_instance.recipient_keys(), 1, field_instance.device_id())
    post_batch(client, batch_bytes(records, device))
    database = db.open_database(hub[0].path)
    assert database.execute("SELECT count(*) FROM v1_batches").fetchone()[0] == 0
    database.close()


def test_a_record_first_sent_in_v1_gets_its_signature_from_a_v2_batch(
    hub, client, device, field_instance
):
    records = sealed_records(field_instance.recipient_keys(), 2, field_instance.device_id())
    post_batch(client, _v1_batch(records, device))
    answer = post_batch(client, batch_bytes(records[:1], device)).get_json()
    assert answer["duplicate"] == 1
    rows = _rows(hub[0])
    assert rows[0][3] == record_signature_raw(device, records[0].data)
    assert rows[1][3] is None


def test_envelope_pages_follow_the_order_of_storing(hub, client, device, field_instance):
    keys = field_instance.recipient_keys()
    first = sealed_records(keys, 3, field_instance.device_id())
    post_batch(client, batch_bytes(first, device))
    database = db.open_database(hub[0].path)
    page = db.envelope_page(database, 0, 2)
    assert [row["id"] for row in page] == [r.record_id for r in first[:2]]
    assert set(page[0]) == {"seq", "device", "id", "envelope", "signature"}
    assert page[0]["device"] == field_instance.device_id()
    assert page[0]["envelope"] == first[0].data
    rest = db.envelope_page(database, page[-1]["seq"], 100)
    assert [row["id"] for row in rest] == [first[2].record_id]
    later = sealed_records(keys, 2, field_instance.device_id(), start=10)
    post_batch(client, batch_bytes(later, device))
    newer = db.envelope_page(database, rest[-1]["seq"], 100)
    assert [row["id"] for row in newer] == [r.record_id for r in later]
    seqs = [row["seq"] for row in db.envelope_page(database, 0, 100)]
    assert seqs == sorted(seqs) and len(set(seqs)) == 5
    assert db.envelope_page(database, seqs[-1], 100) == []
    database.close()


def test_a_sequence_number_is_never_used_again(hub, client, device, field_instance):
    """AUTOINCREMENT: a deleted last row's number is not given to the next record."""
    records = sealed_records(field_instance.recipient_keys(), 2, field_instance.device_id())
    post_batch(client, batch_bytes(records[:1], device))
    database = db.open_database(hub[0].path)
    (last,) = [row["seq"] for row in db.envelope_page(database, 0, 10)]
    with database.atomic():
        database.execute("DELETE FROM envelopes")
    post_batch(client, batch_bytes(records[1:], device))
    assert [row["seq"] for row in db.envelope_page(database, 0, 10)] == [last + 1]
    database.close()


def test_the_migration_keeps_old_envelopes_in_the_order_received(tmp_path):
    """A hub from before batch v2: its rows get sequence numbers in insertion order."""
    database = db.connect(tmp_path / "old.sqlite3")
    db.migrations.apply(database, stop_before="0006_envelope_signatures")
    ids = ["c0000000-0000-4000-8000-000000000000", "a0000000-0000-4000-8000-000000000000"]
    ids.append("b0000000-0000-4000-8000-000000000000")
    with database.atomic():
        for n, record_id in enumerate(ids):
            database.execute(
                "INSERT INTO envelopes (device, id, kind, created, batch_id, received, envelope)"
                " VALUES ('0123456789abcdef', ?, 'screening', 't', 'b', 't', ?)",
                [record_id, bytes([n])],
            )
    with database.atomic():
        db.migrations.apply(database)
    page = db.envelope_page(database, 0, 10)
    assert [row["id"] for row in page] == ids
    assert [row["envelope"] for row in page] == [b"\x00", b"\x01", b"\x02"]
    assert [row["signature"] for row in page] == [None] * 3
    assert [row["seq"] for row in page] == [1, 2, 3]
    database.close()


def test_hub_import_takes_the_committed_v1_and_v2_batches(intake_cli, tmp_path, coordinator_key):
    """Files written by older devices (v1) and by today's (v2) are both taken by the hub."""
    from intake import instance

    recipient = crypto.load_recipient_public_key(VECTORS / "coordinator.pub")
    inst = instance.create(tmp_path / "hub", "hub", [recipient])
    database = db.open_database(inst.path)
    for pub in ("device.pub", "device-v2.pub"):
        key = crypto.load_device_public_keys(VECTORS / pub)[0]
        database["devices"].insert(
            {
                "id": crypto.key_id(key),
                "name": pub,
                "public_key": crypto.raw_public_bytes(key).hex(),
                "enrolled": "2026-11-30T12:00:00Z",
            }
        )
    database.close()
    for name in ("all.batch", "all-v2.batch"):
        shutil.copy(VECTORS / name, tmp_path / name)
        result = intake_cli("hub", "import", "--instance", inst.path, tmp_path / name)
        assert result.returncode == 0, result.stderr
        assert b"6 stored" in result.stdout
    database = db.open_database(inst.path)
    signed = database.execute(
        "SELECT device, signature IS NOT NULL, count(*) FROM envelopes GROUP BY device, 2"
    ).fetchall()
    database.close()
    v1_device = crypto.key_id(crypto.load_device_public_keys(VECTORS / "device.pub")[0])
    v2_device = crypto.key_id(crypto.load_device_public_keys(VECTORS / "device-v2.pub")[0])
    assert sorted(signed) == sorted([(v1_device, 0, 6), (v2_device, 1, 6)])


@pytest.mark.parametrize("name", ["all.batch", "all-v2.batch"])
def test_intake_open_reads_v1_and_v2_batches(intake_cli, tmp_path, name):
    import json

    manifest = json.loads((VECTORS / "manifest.json").read_text("utf-8"))
    passphrase = tmp_path / "passphrase"
    passphrase.write_text(manifest["passphrase"])
    signers = "device.pub" if name == "all.batch" else "device-v2.pub"
    result = intake_cli(
        "open",
        "--key",
        VECTORS / "coordinator.key",
        "--passphrase-file",
        passphrase,
        "--signers",
        VECTORS / signers,
        VECTORS / name,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line.hex() for line in lines] == [e["record_hex"] for e in manifest["envelopes"]]


# -- the writers: `intake sync` and `intake outbox export` write v2 ---------


def _seal_into_outbox(field, n: int) -> list[bytes]:
    database = db.open_database(field.path)
    sealed = sealed_records(field.recipient_keys(), n, field.device_id())
    for record in sealed:
        db.add_to_outbox(database, record)
    database.close()
    return [record.data for record in sealed]


def test_outbox_export_writes_batch_v2(intake_cli, field_instance, tmp_path):
    sealed = _seal_into_outbox(field_instance, 3)
    path = tmp_path / "out.batch"
    result = intake_cli("outbox", "export", "--instance", field_instance.path, path)
    assert result.returncode == 0, result.stderr
    assert path.read_bytes()[:8] == b"INTAKEB\x02"
    with open(path, "rb") as stream:
        records = list(BatchReader(stream).records())
    raw = crypto.raw_public_key(field_instance.device_key())
    assert sorted(data for data, _ in records) == sorted(sealed)
    for data, signature in records:
        verify_record_signature(raw, data, signature)


def test_sync_sends_batch_v2_and_the_hub_keeps_the_signatures(tmp_path, coordinator_key):
    """Field and hub as real processes: every record arrives with its device's signature."""
    from intake import instance
    from tests.browser import LiveServer
    from tests.conftest import run_intake

    hub_inst = instance.create(tmp_path / "hub", "hub", [coordinator_key.public_key()])
    field = instance.create(tmp_path / "field", "field", [coordinator_key.public_key()])
    enrol_field(hub_inst, field)
    server = LiveServer(hub_inst.path)
    server.start()
    try:
        database = db.open_database(field.path)
        db.set_sync_state(database, "hub_url", server.url)
        database.close()
        sealed = _seal_into_outbox(field, 4)
        result = run_intake("sync", "--instance", field.path)
        assert result.returncode == 0, result.stderr
    finally:
        server.stop()
    rows = _rows(hub_inst)
    assert sorted(row[2] for row in rows) == sorted(sealed)
    raw = crypto.raw_public_key(field.device_key())
    for _seq, _id, data, signature, _batch in rows:
        verify_record_signature(raw, data, signature)
