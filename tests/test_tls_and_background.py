"""HTTPS with a pinned self-signed certificate, background sync, and the hub's admin page."""

from __future__ import annotations

import json
import re
import time

import pytest

from intake import db, envelope, instance
from tests.browser import LiveServer
from tests.conftest import run_intake
from tests.hubs import hub_ids
from tests.screening import add_user, sign_in


@pytest.fixture
def tls_hub(tmp_path, coordinator_key):
    hub_inst = instance.create(tmp_path / "hub", "hub", [coordinator_key.public_key()])
    server = LiveServer(hub_inst.path)
    server.start(20, "--tls")
    yield hub_inst, server
    server.stop()


def _fingerprint(server) -> str:
    output = "".join(server.output)
    return re.search(r"--fingerprint ([0-9a-f]{64})", output).group(1)


def _code(hub_inst) -> str:
    done = run_intake("hub", "enroll-code", "--instance", hub_inst.path, "--name", "Crossing 7")
    return done.stdout.decode().split()[-1] if done.returncode == 0 else ""


def test_tls_certificate_is_made_once_and_pinned(tls_hub, field_instance):
    hub_inst, server = tls_hub
    assert server.url.startswith("https://")
    assert "Created the TLS certificate" in "".join(server.output)
    fingerprint = _fingerprint(server)
    code = _code(hub_inst)
    wrong = run_intake(
        "enroll", "--instance", field_instance.path, server.url, code, "--fingerprint", "ab" * 32
    )
    assert wrong.returncode == 2 and b"not the one pinned" in wrong.stderr
    missing = run_intake("enroll", "--instance", field_instance.path, server.url, code)
    assert missing.returncode == 2
    # The code was not spent by the refused attempts: the pin is checked before anything is sent.
    right = run_intake(
        "enroll", "--instance", field_instance.path, server.url, code, "--fingerprint", fingerprint
    )
    assert right.returncode == 0, right.stderr
    database = db.open_database(field_instance.path)
    sealed = envelope.seal_record(
        {"x": 1}, field_instance.recipient_keys(), device=field_instance.device_id()
    )
    db.add_to_outbox(database, sealed)
    database.close()
    assert run_intake("sync", "--instance", field_instance.path).returncode == 0
    assert hub_ids(hub_inst) == {sealed.record_id}
    server.stop()
    server.output.clear()
    server.start(20, "--tls")
    assert "Using the TLS certificate" in "".join(server.output)
    assert _fingerprint(server) == fingerprint
    key_file = hub_inst.path / "tls" / "key.pem"
    assert key_file.stat().st_mode & 0o077 == 0


def test_field_server_syncs_in_the_background(tmp_path, coordinator_key, field_instance):
    hub_inst = instance.create(tmp_path / "hub", "hub", [coordinator_key.public_key()])
    hub = LiveServer(hub_inst.path)
    hub.start()
    config_file = field_instance.path / instance.CONFIG_NAME
    config = json.loads(config_file.read_text())
    config["settings"]["sync_interval_seconds"] = 0.2
    config_file.write_text(json.dumps(config))
    assert (
        run_intake("enroll", "--instance", field_instance.path, hub.url, _code(hub_inst)).returncode
        == 0
    )
    field = LiveServer(field_instance.path)
    field.start()
    try:
        database = db.open_database(field_instance.path)
        ids = set()
        for i in range(5):
            sealed = envelope.seal_record(
                {"i": i}, field_instance.recipient_keys(), device=field_instance.device_id()
            )
            db.add_to_outbox(database, sealed)
            ids.add(sealed.record_id)
        database.close()
        deadline = time.monotonic() + 30
        while hub_ids(hub_inst) != ids and time.monotonic() < deadline:
            time.sleep(0.1)
        assert hub_ids(hub_inst) == ids, "".join(field.output)
    finally:
        field.stop()
        hub.stop()


def test_hub_admin_page_lists_devices_and_batches(tmp_path, coordinator_key, field_instance):
    from intake import create_app
    from tests.hubs import batch_bytes, enrol_field, post_batch, sealed_records

    hub_inst = instance.create(tmp_path / "hub", "hub", [coordinator_key.public_key()])
    enrol_field(hub_inst, field_instance, "Crossing 7")
    add_user(hub_inst, "admin", "admin")
    app = create_app(
        {"INSTANCE_PATH": str(hub_inst.path), "TESTING": True, "WTF_CSRF_ENABLED": False}
    )
    client = app.test_client()
    records = sealed_records(field_instance.recipient_keys(), 3, field_instance.device_id())
    post_batch(client, batch_bytes(records, field_instance.device_key()))
    assert client.get("/admin").status_code == 302
    sign_in(client, "admin")
    page = client.get("/admin").get_data(as_text=True)
    assert "Crossing 7" in page and field_instance.device_id() in page
    assert "The hub holds 3 sealed records" in page
    assert ">3<" in page and "Network" in page and "In use" in page


def test_field_node_over_tls_says_what_its_fingerprint_is_for(tmp_path, field_instance):
    """A field node's tablets trust its certificate; enrolment codes belong to a hub."""
    server = LiveServer(field_instance.path)
    server.start(20, "--tls")
    try:
        output = "".join(server.output)
    finally:
        server.stop()
    assert "Certificate fingerprint:" in output
    assert "intake enroll" not in output
    assert "tablets: trust this node once" in output
