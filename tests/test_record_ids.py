"""Issue 8.4: no device can stop another's records, and no hub answer makes a device drop one.

Record ids are readable in any exported batch. Keyed by id alone, a device
that stored decoys under another device's ids first made the hub refuse the
real records, and the real device then set them aside for good. The hub now
keeps each device's ids apart, and a device keeps whatever the hub refused.
"""

from __future__ import annotations

import uuid

import pytest

from intake import crypto, db, envelope, instance
from intake.batch import BatchReader
from intake.field import sync
from tests.browser import LiveServer
from tests.conftest import run_intake
from tests.hubs import batch_bytes


@pytest.fixture
def hub_server(tmp_path, coordinator_key):
    hub_inst = instance.create(tmp_path / "hub", "hub", [coordinator_key.public_key()])
    server = LiveServer(hub_inst.path)
    server.start()
    yield hub_inst, server
    server.stop()


def _enrol_over_http(hub_inst, server, field, name: str) -> None:
    code = run_intake("hub", "enroll-code", "--instance", hub_inst.path, "--name", name)
    code = code.stdout.decode().split()[-1]
    enrolled = run_intake("enroll", "--instance", field.path, server.url, code)
    assert enrolled.returncode == 0, enrolled.stderr


def _seal(field, records: list[dict], recipients=None) -> dict[str, bytes]:
    database = db.open_database(field.path)
    sealed = {}
    for record in records:
        item = envelope.seal_record(
            record, recipients or field.recipient_keys(), kind="screening", device=field.device_id()
        )
        db.add_to_outbox(database, item)
        sealed[item.record_id] = item.data
    database.close()
    return sealed


def _held(hub_inst, device: str) -> dict[str, bytes]:
    database = db.open_database(hub_inst.path)
    rows = database.execute(
        "SELECT id, envelope FROM envelopes WHERE device = ?", [device]
    ).fetchall()
    database.close()
    return dict(rows)


def _outbox(field) -> dict[str, str]:
    database = db.open_database(field.path)
    rows = database.execute("SELECT id, state FROM outbox").fetchall()
    database.close()
    return dict(rows)


def test_a_device_storing_under_anothers_ids_cannot_stop_its_records(
    hub_server, tmp_path, coordinator_key
):
    hub_inst, server = hub_server
    a = instance.create(tmp_path / "a", "field", [coordinator_key.public_key()])
    b = instance.create(tmp_path / "b", "field", [coordinator_key.public_key()])
    _enrol_over_http(hub_inst, server, a, "Crossing 7")
    _enrol_over_http(hub_inst, server, b, "Crossing 8")
    genuine = _seal(a, [{"i": i} for i in range(6)])
    # B reads A's ids from a batch A exported (headers are readable without a key)...
    exported = tmp_path / "a.batch"
    assert run_intake("outbox", "export", "--instance", a.path, exported).returncode == 0
    with open(exported, "rb") as stream:
        seen = [envelope.parse_envelope(e).header["id"] for e in BatchReader(stream).envelopes()]
    assert sorted(seen) == sorted(genuine)
    # ...and stores decoys under them first, sealed and signed by B, over real HTTP.
    decoys = [
        envelope.seal_record(
            {"decoy": True}, b.recipient_keys(), record_id=rid, device=b.device_id()
        )
        for rid in seen
    ]
    for part in (decoys[:3], decoys[3:]):
        body = batch_bytes(part, b.device_key())
        answer = sync.post(server.url, "/api/v1/batches", body, "application/octet-stream")
        assert answer["stored"] == 3
    synced = run_intake("sync", "--instance", a.path)
    assert synced.returncode == 0, synced.stderr
    assert b"sent 6: 6 stored, 0 already on the hub, 0 rejected; 0 waiting" in synced.stdout
    assert _held(hub_inst, a.device_id()) == genuine
    assert _held(hub_inst, b.device_id()) == {d.record_id: d.data for d in decoys}
    assert _outbox(a) == {}


def test_a_record_the_hub_refuses_stays_pending_exportable_and_is_sent_again(
    hub_server, tmp_path, coordinator_key, monkeypatch
):
    hub_inst, server = hub_server
    field = instance.create(tmp_path / "field", "field", [coordinator_key.public_key()])
    _enrol_over_http(hub_inst, server, field, "Crossing 7")
    stranger = crypto.new_recipient_key().public_key()  # not a coordinator key of this hub
    good = _seal(field, [{"i": 1}, {"i": 2}])
    refused = _seal(field, [{"i": 3}, {"i": 4}, {"i": 5}], recipients=[stranger])
    monkeypatch.setattr(sync, "CHUNK", 2)  # refused records fill whole chunks: the pass goes on
    report = sync.sync(instance.load(field.path), retries=0)
    assert (report.sent, report.stored, report.rejected) == (5, 2, 3)
    assert (report.pending, report.attention) == (3, 3)
    assert _outbox(field) == dict.fromkeys(refused, "pending")
    assert _held(hub_inst, field.device_id()) == good
    status = run_intake("outbox", "status", "--instance", field.path)
    assert b"pending:      3" in status.stdout
    assert b"needing attention: 3" in status.stdout
    assert status.stdout.count(b"not sealed to any coordinator key of this hub") == 3
    carried = tmp_path / "carried.batch"
    assert run_intake("outbox", "export", "--instance", field.path, carried).returncode == 0
    with open(carried, "rb") as stream:
        assert sorted(BatchReader(stream).envelopes()) == sorted(refused.values())
    again = run_intake("sync", "--instance", field.path)
    assert again.returncode == 1
    assert b"sent 3: 0 stored, 0 already on the hub, 3 rejected; 3 waiting" in again.stdout


def test_a_refusal_with_any_reason_never_drops_a_record(field_instance, monkeypatch):
    """Whatever the hub answers but 'stored' or 'duplicate', the record stays."""
    ids = list(_seal(field_instance, [{"i": i} for i in range(4)]))
    answers = {
        ids[0]: {"status": "rejected", "reason": "another envelope with this id is already held"},
        ids[1]: {"status": "conflict"},
        ids[2]: {"status": "stored"},
    }  # ids[3]: no answer at all
    database = db.open_database(field_instance.path)
    db.set_sync_state(database, "hub_url", "http://127.0.0.1:9")
    database.close()

    calls = []

    def hub(url, path, body, content_type, pin=None):
        calls.append(body)
        assert len(calls) == 1, "one pass sends each record once"
        results = [{"id": i, **answer} for i, answer in answers.items()]
        totals = {"stored": 1, "duplicate": 0, "rejected": 2}
        return {"batch": str(uuid.uuid4()), **totals, "results": results}

    monkeypatch.setattr(sync, "post", hub)
    report = sync.sync(field_instance, retries=0)
    assert report.pending == 3
    assert _outbox(field_instance) == dict.fromkeys([ids[0], ids[1], ids[3]], "pending")
    database = db.open_database(field_instance.path)
    reasons = {r["id"]: r["reason"] for r in db.refused_records(database)}
    database.close()
    assert reasons == {ids[0]: "another envelope with this id is already held", ids[1]: "conflict"}


def test_records_set_aside_by_an_older_version_are_pending_again(tmp_path):
    """The migration gives back what the old field set aside as 'rejected'."""
    database = db.connect(tmp_path / "old.sqlite3")
    db.migrations.apply(database, stop_before="0005_outbox_refusals")
    for record_id, state in (("r-1", "rejected"), ("r-2", "pending"), ("r-3", "acknowledged")):
        database["outbox"].insert(
            {
                "id": record_id,
                "kind": "screening",
                "created": "2026-11-01T00:00:00Z",
                "envelope": b"sealed",
                "state": state,
                "stored": "2026-11-01T00:00:00Z",
            }
        )
    database.conn.commit()
    db.migrations.apply(database)
    rows = database.execute("SELECT id, state, refused FROM outbox ORDER BY id").fetchall()
    database.close()
    assert rows == [
        ("r-1", "pending", "refused by the hub before this version; sent again"),
        ("r-2", "pending", None),
        ("r-3", "acknowledged", None),
    ]


def test_the_hub_migration_keeps_each_envelope_under_its_device(tmp_path):
    database = db.connect(tmp_path / "hub.sqlite3")
    db.migrations.apply(database, stop_before="0004_envelopes_per_device")
    row = {
        "id": "0b7c7d0a-4a8e-4b55-9d5c-4e2a0c7f1e11",
        "kind": "screening",
        "created": "2026-11-01T00:00:00Z",
        "device": "aaaaaaaaaaaaaaaa",
        "batch_id": "b-1",
        "received": "2026-11-01T00:00:00Z",
        "envelope": b"sealed by a",
    }
    database["envelopes"].insert(row)
    database.conn.commit()
    db.migrations.apply(database)
    database["envelopes"].insert({**row, "device": "bbbbbbbbbbbbbbbb", "envelope": b"by b"})
    rows = database.execute("SELECT device, id, envelope FROM envelopes ORDER BY device").fetchall()
    database.close()
    assert rows == [
        ("aaaaaaaaaaaaaaaa", "0b7c7d0a-4a8e-4b55-9d5c-4e2a0c7f1e11", b"sealed by a"),
        ("bbbbbbbbbbbbbbbb", "0b7c7d0a-4a8e-4b55-9d5c-4e2a0c7f1e11", b"by b"),
    ]
