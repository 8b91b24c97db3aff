"""The hub: enrolment, signed batches checked in full, each record stored at most once."""

from __future__ import annotations

import json
import time

import pytest

from intake import crypto, db
from intake.hub.enrolment import EnrolmentError, enrol, new_code
from tests.hubs import batch_bytes, enrol_field, hub_ids, make_hub, post_batch, sealed_records
from tests.test_invariants import files_holding


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


def test_batch_is_stored_once_and_answered_record_by_record(hub, client, device, field_instance):
    records = sealed_records(field_instance.recipient_keys(), 5, field_instance.device_id())
    response = post_batch(client, batch_bytes(records, device))
    assert response.status_code == 200
    answer = response.get_json()
    assert answer["stored"] == 5 and [r["status"] for r in answer["results"]] == ["stored"] * 5
    again = post_batch(client, batch_bytes(records, device)).get_json()  # sent twice
    assert again["duplicate"] == 5 and again["stored"] == 0
    replay = post_batch(client, batch_bytes(records[:2], device)).get_json()
    assert replay["duplicate"] == 2
    assert hub_ids(hub[0]) == {r.record_id for r in records}


def test_records_not_sealed_to_the_hubs_keys_are_rejected_by_reason(
    hub, client, device, field_instance
):
    stranger = crypto.new_recipient_key()
    ours = sealed_records([hub[0].recipient_keys()[0]], 2, field_instance.device_id())
    theirs = sealed_records([stranger.public_key()], 1, field_instance.device_id())
    answer = post_batch(client, batch_bytes(ours + theirs, device)).get_json()
    assert [r["status"] for r in answer["results"]] == ["stored", "stored", "rejected"]
    assert "not sealed" in answer["results"][2]["reason"]
    assert hub_ids(hub[0]) == {r.record_id for r in ours}


@pytest.mark.parametrize(
    "case, expected_status, expected",
    [
        ("unknown_device", 403, "not enrolled"),
        ("revoked", 403, "revoked"),
        ("other_key", 400, "device is not the key id of its signer"),
        ("bad_signature", 400, "signature does not verify"),
        ("truncated", 400, "truncated"),
        ("not_a_batch", 400, "not an Intake batch"),
        ("version", 400, "unknown batch format version"),
        ("malformed_envelope", 400, "record 1"),
        ("content_type", 415, "octet-stream"),
    ],
)
def test_bad_batches_are_refused_and_store_nothing(
    hub, client, device, field_instance, case, expected_status, expected
):
    from intake import crypto as c

    records = sealed_records(field_instance.recipient_keys(), 3, field_instance.device_id())
    data = batch_bytes(records, device)
    content_type = "application/octet-stream"
    if case == "unknown_device":
        data = batch_bytes(records, c.new_device_key())
    elif case == "revoked":
        database = db.open_database(hub[0].path)
        db.revoke_device(database, field_instance.device_id(), "2026-11-27T00:00:00Z")
        database.close()
    elif case == "other_key":
        # A batch claiming this device but signed by another key.
        other = batch_bytes(records, c.new_device_key())
        header_end = 10 + int.from_bytes(other[8:10], "big")
        header = json.loads(other[10:header_end])
        header["device"] = field_instance.device_id()
        raw = json.dumps(header, separators=(",", ":"), sort_keys=True).encode()
        data = other[:8] + len(raw).to_bytes(2, "big") + raw + other[header_end:]
    elif case == "bad_signature":
        data = data[:-1] + bytes([data[-1] ^ 1])
    elif case == "truncated":
        data = data[: len(data) // 2]
    elif case == "not_a_batch":
        data = b"GET / HTTP/1.1\r\n\r\n" * 3
    elif case == "version":
        data = data[:7] + b"\x07" + data[8:]
    elif case == "malformed_envelope":
        bad = bytearray(records[0].data)
        bad[6] = ord("X")
        import io

        from intake.batch import write_batch

        out = io.BytesIO()
        write_batch(out, [bytes(bad)], 1, device)
        data = out.getvalue()
    elif case == "content_type":
        content_type = "text/plain"
    response = post_batch(client, data, content_type)
    assert response.status_code == expected_status, response.get_json()
    assert expected in response.get_json()["error"]
    assert hub_ids(hub[0]) == set()


def test_enrolment_code_works_once_and_expires(hub, field_instance):
    database = db.open_database(hub[0].path)
    public_key = crypto.raw_public_key(field_instance.device_key()).hex()
    code = new_code(database, "Crossing 7")
    assert len(code) == 19 and code.count("-") == 3
    with pytest.raises(EnrolmentError):
        enrol(database, code.replace(code[0], "Z" if code[0] != "Z" else "Y", 1), public_key)
    device_id, name = enrol(database, code.lower(), public_key)  # read aloud, typed in lower case
    assert name == "Crossing 7" and device_id == field_instance.device_id()
    with pytest.raises(EnrolmentError, match="used already"):
        enrol(database, code, public_key)
    old = new_code(database, "Crossing 8")
    database.execute("UPDATE enrol_codes SET expires = ?", [time.time() - 1])
    database.conn.commit()
    with pytest.raises(EnrolmentError, match="expired"):
        enrol(database, old, crypto.raw_public_key(crypto.new_device_key()).hex())
    with pytest.raises(EnrolmentError, match="Ed25519"):
        enrol(database, new_code(database, "x"), "zz")


def test_a_revoked_key_cannot_enrol_again(hub, field_instance):
    database = db.open_database(hub[0].path)
    enrol_field(hub[0], field_instance)
    db.revoke_device(database, field_instance.device_id(), "2026-11-27T00:00:00Z")
    with pytest.raises(EnrolmentError, match="revoked"):
        enrol(
            database,
            new_code(database, "again"),
            crypto.raw_public_key(field_instance.device_key()).hex(),
        )


def test_enrol_api_answers_the_recipients(hub, client, field_instance, coordinator_key):
    database = db.open_database(hub[0].path)
    code = new_code(database, "Crossing 9")
    public_key = crypto.raw_public_key(field_instance.device_key()).hex()
    answer = client.post("/api/v1/enroll", json={"code": code, "public_key": public_key})
    assert answer.status_code == 200
    [recipient] = answer.get_json()["recipients"]
    assert recipient["key_id"] == crypto.key_id(coordinator_key.public_key())
    assert (
        client.post("/api/v1/enroll", json={"code": code, "public_key": public_key}).status_code
        == 403
    )
    assert client.post("/api/v1/enroll", data="nonsense").status_code == 400


def test_hub_import_is_idempotent(intake_cli, hub, device, field_instance, tmp_path):
    records = sealed_records(field_instance.recipient_keys(), 4, field_instance.device_id())
    path = tmp_path / "carried.batch"
    path.write_bytes(batch_bytes(records, device))
    first = intake_cli("hub", "import", "--instance", hub[0].path, path)
    assert first.returncode == 0, first.stderr
    assert b"4 stored, 0 already here" in first.stdout
    second = intake_cli("hub", "import", "--instance", hub[0].path, path)
    assert b"0 stored, 4 already here" in second.stdout
    path.write_bytes(path.read_bytes()[:-5])
    cut = intake_cli("hub", "import", "--instance", hub[0].path, path)
    assert cut.returncode == 2 and str(path).encode() in cut.stderr
    assert len(hub_ids(hub[0])) == 4


def test_the_hub_holds_no_answer_in_the_clear(hub, client, device, field_instance):
    from intake import envelope

    canary = "CANARY-hub-ሰላም-سلام"
    records = [
        envelope.seal_record(
            {"note": canary}, field_instance.recipient_keys(), device=field_instance.device_id()
        )
    ]
    assert post_batch(client, batch_bytes(records, device)).status_code == 200
    assert files_holding(hub[0].path, canary) == []


def _forged_header_batch(header: bytes) -> bytes:
    import struct

    return b"INTAKEB\x01" + struct.pack(">H", len(header)) + header + b"\x00" * 70


@pytest.mark.parametrize(
    "header",
    [
        b'{"batch":"3ae99ef4-d4c7-4db4-b919-2a7fcacda624","count":Infinity,"created":"x",'
        b'"device":"d","signer":"' + b"00" * 32 + b'"}',
        b'{"count":NaN}',
        b"[" * 4000,
        b'{"batch":"3ae99ef4-d4c7-4db4-b919-2a7fcacda624","count":1.5,"created":"x",'
        b'"device":"d","signer":"' + b"00" * 32 + b'"}',
    ],
    ids=["infinity", "nan", "deep", "float-count"],
)
def test_hostile_batch_headers_are_a_clear_400(client, header):
    response = post_batch(client, _forged_header_batch(header))
    assert response.status_code == 400 and "batch header" in response.get_json()["error"]


def test_deeply_nested_enrolment_json_is_a_clear_400(client):
    response = client.post("/api/v1/enroll", data=b"[" * 4000, content_type="application/json")
    assert response.status_code == 400


def test_envelope_headers_are_checked_field_by_field(hub, client, device, field_instance):
    """A device's signed batch with a forged kind or time: refused, nothing stored."""
    import io

    from intake.batch import write_batch

    good = envelope_bytes = sealed_records(
        field_instance.recipient_keys(), 1, field_instance.device_id()
    )[0].data
    for field_name, value in (("kind", {"x": 1}), ("created", 10**30), ("device", "someone")):
        header_length = int.from_bytes(good[14:16], "big")
        header = json.loads(good[16 : 16 + header_length])
        header[field_name] = value
        raw = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
        envelope_bytes = good[:14] + len(raw).to_bytes(2, "big") + raw + good[16 + header_length :]
        out = io.BytesIO()
        write_batch(out, [envelope_bytes], 1, device)
        response = post_batch(client, out.getvalue())
        assert response.status_code == 400, field_name
    assert hub_ids(hub[0]) == set()


def test_one_device_cannot_take_over_anothers_record_id(hub, client, device, field_instance):
    """Another device's envelope under the same id is its own record: neither blocks the other."""
    from intake import envelope, instance

    genuine = sealed_records(field_instance.recipient_keys(), 1, field_instance.device_id())[0]
    thief = instance.create(hub[0].path.parent / "thief", "field", hub[0].recipient_keys())
    enrol_field(hub[0], thief, "Thief")
    forged = envelope.seal_record(
        {"answers": "forged"},
        thief.recipient_keys(),
        record_id=genuine.record_id,
        device=thief.device_id(),
    )
    assert post_batch(client, batch_bytes([forged], thief.device_key())).status_code == 200
    answer = post_batch(client, batch_bytes([genuine], device)).get_json()
    assert answer["results"] == [{"id": genuine.record_id, "status": "stored"}]
    database = db.open_database(hub[0].path)
    held = database.execute("SELECT device, envelope FROM envelopes").fetchall()
    database.close()
    assert sorted(held) == sorted(
        [(field_instance.device_id(), genuine.data), (thief.device_id(), forged.data)]
    )


def test_the_same_device_sending_other_bytes_under_an_id_is_a_conflict(
    hub, client, device, field_instance
):
    """An id this device already sent with other bytes is refused, never 'already had'."""
    from intake import envelope

    first = sealed_records(field_instance.recipient_keys(), 1, field_instance.device_id())[0]
    other = envelope.seal_record(
        {"i": "other"},
        field_instance.recipient_keys(),
        record_id=first.record_id,
        device=field_instance.device_id(),
    )
    assert post_batch(client, batch_bytes([first], device)).get_json()["stored"] == 1
    answer = post_batch(client, batch_bytes([other], device)).get_json()
    assert answer["results"][0]["status"] == "rejected"
    assert "already sent another envelope" in answer["results"][0]["reason"]


def test_a_key_sent_in_upper_case_still_signs_batches(hub, client, field_instance):
    database = db.open_database(hub[0].path)
    code = new_code(database, "Crossing 9")
    enrol(database, code, crypto.raw_public_key(field_instance.device_key()).hex().upper())
    database.close()
    records = sealed_records(field_instance.recipient_keys(), 1, field_instance.device_id())
    assert post_batch(client, batch_bytes(records, field_instance.device_key())).status_code == 200
