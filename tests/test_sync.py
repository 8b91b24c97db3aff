"""Field and hub as two real processes on 127.0.0.1: nothing lost, nothing twice.

The hub is the real `intake serve`; the field syncs over real HTTP. Faults
(cuts, and SIGKILLs of either side around the hub's commit) are in
tests/test_sync_faults.py.
"""

from __future__ import annotations

import pytest

from intake import db, envelope, instance
from intake.field import sync
from tests.browser import LiveServer
from tests.conftest import run_intake
from tests.hubs import enrol_field, hub_ids


@pytest.fixture
def hub_server(tmp_path, coordinator_key):
    hub_inst = instance.create(tmp_path / "hub", "hub", [coordinator_key.public_key()])
    server = LiveServer(hub_inst.path)
    server.start()
    yield hub_inst, server
    server.stop()


def _seal(field, n: int) -> set[str]:
    database = db.open_database(field.path)
    recipients = field.recipient_keys()
    ids = set()
    for i in range(n):
        sealed = envelope.seal_record(
            {"i": i, "t": "ሰላም"}, recipients, kind="screening", device=field.device_id()
        )
        db.add_to_outbox(database, sealed)
        ids.add(sealed.record_id)
    database.close()
    return ids


def _pending(field) -> int:
    database = db.open_database(field.path)
    try:
        return db.count_pending(database)
    finally:
        database.close()


def test_a_thousand_records_sync_between_two_processes(hub_server, field_instance):
    hub_inst, server = hub_server
    code = run_intake("hub", "enroll-code", "--instance", hub_inst.path, "--name", "Crossing 7")
    code = code.stdout.decode().split()[-1]
    enrolled = run_intake("enroll", "--instance", field_instance.path, server.url, code)
    assert enrolled.returncode == 0, enrolled.stderr
    ids = _seal(field_instance, 1000)
    result = run_intake("sync", "--instance", field_instance.path)
    assert result.returncode == 0, result.stderr
    assert b"sent 1000: 1000 stored" in result.stdout
    assert hub_ids(hub_inst) == ids
    assert _pending(field_instance) == 0
    again = run_intake("sync", "--instance", field_instance.path)
    assert b"sent 0" in again.stdout


def test_revoked_device_is_refused_over_http(hub_server, field_instance):
    hub_inst, server = hub_server
    device = enrol_field(hub_inst, field_instance)
    database = db.open_database(field_instance.path)
    db.set_sync_state(database, "hub_url", server.url)
    database.close()
    _seal(field_instance, 3)
    assert run_intake("hub", "revoke", "--instance", hub_inst.path, device).returncode == 0
    refused = run_intake("sync", "--instance", field_instance.path)
    assert refused.returncode == 2 and b"revoked" in refused.stderr
    assert hub_ids(hub_inst) == set() and _pending(field_instance) == 3


def test_acknowledged_records_are_kept_only_as_long_as_set(hub_server, field_instance):
    import json

    hub_inst, server = hub_server
    enrol_field(hub_inst, field_instance)
    config_file = field_instance.path / instance.CONFIG_NAME
    config = json.loads(config_file.read_text())
    config["settings"]["retention_hours"] = 1
    config_file.write_text(json.dumps(config))
    database = db.open_database(field_instance.path)
    db.set_sync_state(database, "hub_url", server.url)
    database.close()
    _seal(field_instance, 3)
    kept = instance.load(field_instance.path)
    sync.sync(kept)
    database = db.open_database(field_instance.path)
    assert db.outbox_summary(database)["acknowledged"] == 3
    database.execute("UPDATE outbox SET acknowledged = '2000-01-01T00:00:00Z'")
    database.conn.commit()
    database.close()
    sync.sync(kept)
    database = db.open_database(field_instance.path)
    assert db.outbox_summary(database)["acknowledged"] == 0
    database.close()


def test_plain_http_is_refused_off_this_machine():
    """Over plain HTTP a forged answer could make the device forget records."""
    for url, pin in (("http://hub.example:8080", None), ("http://127.0.0.1:9", "ab" * 32)):
        with pytest.raises(sync.SyncError, match="https"):
            sync.post(url, "/api/v1/batches", b"", "application/octet-stream", pin)


def test_offered_recipient_keys_need_a_confirmed_fingerprint(tmp_path, coordinator_key):
    from intake import crypto

    newcomer = crypto.new_recipient_key()
    hub_inst = instance.create(
        tmp_path / "hub", "hub", [coordinator_key.public_key(), newcomer.public_key()]
    )
    server = LiveServer(hub_inst.path)
    server.start()
    try:
        field = instance.create(tmp_path / "field", "field", [coordinator_key.public_key()])
        code = run_intake("hub", "enroll-code", "--instance", hub_inst.path, "--name", "x")
        refused = run_intake(
            "enroll", "--instance", field.path, server.url, code.stdout.decode().split()[-1]
        )
        assert refused.returncode == 1 and b"NOT installed" in refused.stderr
        assert crypto.key_id(newcomer.public_key()) not in {
            crypto.key_id(k) for k in instance.load(field.path).recipient_keys()
        }
        code = run_intake("hub", "enroll-code", "--instance", hub_inst.path, "--name", "x")
        fingerprint = crypto.fingerprint(newcomer.public_key())  # as read aloud, in groups
        accepted = run_intake(
            "enroll",
            "--instance",
            field.path,
            server.url,
            code.stdout.decode().split()[-1],
            "--trust-recipient",
            fingerprint,
        )
        assert accepted.returncode == 0, accepted.stderr
        assert crypto.key_id(newcomer.public_key()) in {
            crypto.key_id(k) for k in instance.load(field.path).recipient_keys()
        }
    finally:
        server.stop()
