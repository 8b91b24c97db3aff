"""The hub's coordinator API, pages read strictly, and the workspace's store without a network.

Expected values are written by hand from docs/envelope.md ("Pages from the
hub"), not computed by the code under test.
"""

from __future__ import annotations

import io
import json
import struct

import pytest
from click.testing import CliRunner

from intake import crypto, db, instance
from intake.batch import write_batch
from intake.commands import main
from intake.hub.coordinators import new_token
from intake.page import PageError, read_page
from tests.conftest import write_key_pair
from tests.hubs import batch_bytes, enrol_field, make_hub, post_batch, sealed_records

DEVICE = b"0123456789abcdef"


def _page(header: bytes, body: bytes = b"") -> bytes:
    return b"INTAKEP\x01" + struct.pack(">H", len(header)) + header + body


def _entry(envelope: bytes, signature: bytes | None) -> bytes:
    flag = b"\x01" + signature if signature is not None else b"\x00"
    return DEVICE + struct.pack(">I", len(envelope)) + envelope + flag


def test_a_page_is_read_as_documented():
    data = _page(
        b'{"count":2,"more":true,"next":"7"}',
        _entry(b"first", b"s" * 64) + _entry(b"second", None),
    )
    page = read_page(data, "5")
    assert [(e.device, e.envelope, e.signature) for e in page.entries] == [
        ("0123456789abcdef", b"first", b"s" * 64),
        ("0123456789abcdef", b"second", None),
    ]
    assert (page.next, page.more) == ("7", True)
    assert read_page(_page(b'{"count":0,"more":false,"next":"5"}'), "5").entries == []


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (_page(b'{"count":1,"more":false,"next":"7"}', _entry(b"e", None) + b"x"), "trailing"),
        (_page(b'{"count":2,"more":false,"next":"7"}', _entry(b"e", None)), "truncated"),
        (_page(b'{"count":1,"more":false,"next":"7"}', _entry(b"e", None)[:-1] + b"\x02"), "flag"),
        (_page(b'{"count":1,"more":false,"next":"7"}', _entry(b"e", b"s" * 63)), "truncated"),
        (_page(b'{"count":1,"more":false,"next":"5"}', _entry(b"e", None)), "forward"),
        (_page(b'{"count":0,"more":false,"next":"4"}'), "backwards"),
        (_page(b'{"count":0,"more":true,"next":"5"}'), "forward"),
        (_page(b'{"count":0,"more":false,"next":"05"}'), "fields"),
        (_page(b'{"count":0,"more":false,"next":5}'), "fields"),
        (_page(b'{"more":false,"next":"5","count":0}'), "canonical"),
        (_page(b'{"count":0,"extra":1,"more":false,"next":"5"}'), "members"),
        (b"INTAKEP\x02" + _page(b'{"count":0,"more":false,"next":"5"}')[8:], "version"),
        (b"INTAKEB\x01" + _page(b'{"count":0,"more":false,"next":"5"}')[8:], "not a page"),
        (
            _page(b'{"count":1,"more":false,"next":"7"}', b"0123456789ABCDEF" + b"\0" * 5),
            "hex",
        ),
    ],
)
def test_a_page_that_breaks_the_layout_is_refused_whole(data, reason):
    with pytest.raises(PageError, match=reason):
        read_page(data, "5")


@pytest.fixture
def hub(tmp_path, coordinator_key):
    inst, app = make_hub(tmp_path, coordinator_key)
    field = instance.create(tmp_path / "field", "field", [coordinator_key.public_key()])
    enrol_field(inst, field)
    client = app.test_client()
    records = sealed_records([coordinator_key.public_key()], 3, field.device_id())
    assert post_batch(client, batch_bytes(records, field.device_key())).status_code == 200
    database = db.open_database(inst.path)
    token = new_token(database, "Coordinator A")
    database.close()
    return inst, client, field, records, token


def test_the_api_wants_an_unrevoked_token(hub):
    inst, client, field, _records, token = hub
    assert client.get("/api/v1/devices").status_code == 401
    assert (
        client.get("/api/v1/devices", headers={"Authorization": "Bearer nope"}).status_code == 401
    )
    assert client.get("/api/v1/devices", headers={"Authorization": token}).status_code == 401
    answer = client.get("/api/v1/devices", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200
    assert answer.get_json() == [
        {
            "device": field.device_id(),
            "name": "Crossing 7",
            "enrolled": answer.get_json()[0]["enrolled"],
            "revoked": None,
            "public_key": crypto.raw_public_key(field.device_key()).hex(),
        }
    ]
    database = db.open_database(inst.path)
    assert db.revoke_token(database, "Coordinator A", "2026-01-01T00:00:00Z")
    database.close()
    refused = client.get("/api/v1/envelopes", headers={"Authorization": f"Bearer {token}"})
    assert refused.status_code == 401


def test_pages_follow_the_cursor_and_the_limit(hub):
    _inst, client, field, records, token = hub
    auth = {"Authorization": f"Bearer {token}"}
    for bad in ("after=-1", "after=x", "limit=0", "after=1e3", "after=0123"):
        assert client.get(f"/api/v1/envelopes?{bad}", headers=auth).status_code == 400
    first = read_page(client.get("/api/v1/envelopes?after=0&limit=2", headers=auth).data, "0")
    assert [e.envelope for e in first.entries] == [r.data for r in records[:2]]
    assert first.more is True and first.next == "2"
    assert all(e.device == field.device_id() and len(e.signature) == 64 for e in first.entries)
    rest = read_page(client.get("/api/v1/envelopes?after=2", headers=auth).data, "2")
    assert [e.envelope for e in rest.entries] == [records[2].data]
    assert (rest.more, rest.next) == (False, "3")
    empty = read_page(client.get("/api/v1/envelopes?after=3", headers=auth).data, "3")
    assert (empty.entries, empty.more, empty.next) == ([], False, "3")


def _cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def test_init_keeps_only_a_coordinator_key_file(tmp_path, coordinator_key):
    key_file, pub_file = write_key_pair(tmp_path / "keys", coordinator_key)
    refused = _cli("init", "--instance", tmp_path / "w1", "--role", "workspace", "--key", pub_file)
    assert refused.exit_code == 2 and "not a coordinator private key file" in refused.output
    assert not (tmp_path / "w1").exists()
    field = _cli("init", "--instance", tmp_path / "f", "--role", "field", "--key", key_file)
    assert field.exit_code == 2 and "--key is for a workspace" in field.output
    made = _cli("init", "--instance", tmp_path / "w2", "--role", "workspace", "--key", key_file)
    assert made.exit_code == 0, made.output
    copy = tmp_path / "w2" / "coordinator.key"
    assert copy.read_bytes() == key_file.read_bytes() and copy.stat().st_mode & 0o777 == 0o600


def _batch_file(path, records, key, version=2):
    out = io.BytesIO()
    write_batch(out, (r.data for r in records), len(records), key, version=version)
    path.write_bytes(out.getvalue())
    return path


def test_hand_carried_batches_are_verified_with_a_pinned_or_given_key(
    tmp_path, coordinator_key, passphrase_file
):
    key_file, _pub = write_key_pair(tmp_path / "keys", coordinator_key)
    ws = tmp_path / "ws"
    assert _cli("init", "--instance", ws, "--role", "workspace", "--key", key_file).exit_code == 0
    field = instance.create(tmp_path / "field", "field", [coordinator_key.public_key()])
    records = sealed_records([coordinator_key.public_key()], 2, field.device_id())
    v2 = _batch_file(tmp_path / "v2.batch", records, field.device_key())
    v1 = _batch_file(tmp_path / "v1.batch", records[:1], field.device_key(), version=1)

    unknown = _cli("workspace", "import", "--instance", ws, v2)
    assert unknown.exit_code == 1
    assert f"device {field.device_id()} is not pinned here" in unknown.output
    other = _cli("workspace", "import", "--instance", ws, "--signers", tmp_path / "x.pub", v2)
    assert other.exit_code == 2
    (tmp_path / "other.pub").write_bytes(
        crypto.public_key_pem(crypto.new_device_key().public_key())
    )
    wrong = _cli("workspace", "import", "--instance", ws, "--signers", tmp_path / "other.pub", v2)
    assert wrong.exit_code == 1 and "is not pinned here" in wrong.output

    signers = ("--signers", field.path / "device.pub")
    first = _cli("workspace", "import", "--instance", ws, *signers, v2, v1)
    assert first.exit_code == 0, first.output
    assert f"{v2}: 2 new (0 refused); 0 already here" in first.output
    assert f"{v1}: 0 new (0 refused); 1 already here" in first.output
    again = _cli("workspace", "import", "--instance", ws, *signers, v2)
    assert f"{v2}: 0 new (0 refused); 2 already here" in again.output
    cases = _cli("workspace", "cases", "--instance", ws).output.splitlines()
    assert sorted(line.split()[1] for line in cases[:-1]) == sorted(r.record_id for r in records)
    opened = _cli("workspace", "open", "--instance", ws, "--passphrase-file", passphrase_file)
    assert sorted(json.loads(line)["i"] for line in opened.output.splitlines()) == [0, 1]


def test_exported_devices_are_signers_for_intake_open(tmp_path, coordinator_key, passphrase_file):
    key_file, _pub = write_key_pair(tmp_path / "keys", coordinator_key)
    ws = instance.create(tmp_path / "ws", "workspace", [])
    field = instance.create(tmp_path / "field", "field", [coordinator_key.public_key()])
    database = db.open_database(ws.path)
    db.pin_device(
        database,
        {
            "device": field.device_id(),
            "name": "Crossing 7",
            "enrolled": "2026-01-01T00:00:00Z",
            "public_key": crypto.raw_public_key(field.device_key()).hex(),
            "fingerprint": crypto.fingerprint(field.device_key().public_key()),
            "pinned_at": "2026-01-01T00:00:01Z",
            "revoked": None,
            "state": "pinned",
        },
    )
    database.close()
    exported = tmp_path / "devices.pem"
    listing = _cli("workspace", "devices", "--instance", ws.path, "--export", exported)
    assert f"{field.device_id()}  Crossing 7" in listing.output
    assert "Wrote 1 device keys" in listing.output
    records = sealed_records([coordinator_key.public_key()], 1, field.device_id())
    batch = _batch_file(tmp_path / "b.batch", records, field.device_key())
    opened = _cli(
        "open", "--key", key_file, "--passphrase-file", passphrase_file,
        "--signers", exported, batch,
    )  # fmt: skip
    assert opened.exit_code == 0, opened.output
    stranger = instance.create(tmp_path / "stranger", "field", [coordinator_key.public_key()])
    forged = _batch_file(
        tmp_path / "s.batch",
        sealed_records([coordinator_key.public_key()], 1, stranger.device_id()),
        stranger.device_key(),
    )
    refused = _cli(
        "open", "--key", key_file, "--passphrase-file", passphrase_file,
        "--signers", exported, forged,
    )  # fmt: skip
    assert refused.exit_code != 0 and "not one of the --signers" in refused.output


def test_workspace_open_logs_first_and_writes_nothing_if_the_log_refuses(
    tmp_path, coordinator_key, passphrase_file
):
    """An export the audit log cannot take does not happen: not one answer reaches stdout."""
    from tests.workspaces import Device, make_workspace, screening_record, store_rows

    inst = make_workspace(tmp_path / "ws", coordinator_key)
    device = Device()
    device.pin(inst)
    people = [{"danger_now": "no", "under_18": "no", "age": age} for age in (30, 41)]
    records = [screening_record(p, device=device.id) for p in people]
    store_rows(inst, [device.seal(r, [coordinator_key.public_key()]) for r in records])
    command = ("workspace", "open", "--instance", inst.path, "--passphrase-file", passphrase_file)
    opened = _cli(*command, "--format", "csv")
    assert opened.exit_code == 0, opened.output
    log = inst.path / "audit.log"
    entry = json.loads(log.read_bytes().splitlines()[-1])
    assert (entry["action"], entry["detail"]) == (
        "export",
        {"format": "csv", "cases": 2, "filter": "all"},
    )
    damaged = log.read_bytes()[:-2] + b"\n"  # the last entry loses its closing brace
    log.write_bytes(damaged)
    for output_format in ("jsonl", "csv"):
        refused = _cli(*command, "--format", output_format)
        assert refused.exit_code == 2
        assert refused.stdout == ""
        assert "nothing opened: the audit log refuses the entry" in refused.stderr
        assert log.read_bytes() == damaged


def _pinned(field, revoked=None) -> dict:
    return {
        field.device_id(): {
            "device": field.device_id(),
            "public_key": crypto.raw_public_key(field.device_key()).hex(),
            "revoked": revoked,
            "state": "pinned",
        }
    }


def test_origin_of_each_record_is_judged_by_the_pinned_key(tmp_path, coordinator_key):
    from intake.batch import record_signature
    from intake.workspace.origin import check_record

    field = instance.create(tmp_path / "field", "field", [coordinator_key.public_key()])
    [record] = sealed_records([coordinator_key.public_key()], 1, field.device_id())
    good = record_signature(field.device_key(), record.data)
    pinned, device = _pinned(field), field.device_id()

    def judged(*args):
        row = check_record(*args)
        return row["origin"], row["reason"]

    assert judged(device, record.data, good, pinned) == ("verified", None)
    assert judged(device, record.data, None, pinned) == (
        "unverifiable",
        "no record signature (sent in a version 1 batch)",
    )
    forged = record_signature(crypto.new_device_key(), record.data)
    assert judged(device, record.data, forged, pinned) == (
        "refused",
        "the record signature does not verify with the device's pinned key",
    )
    assert judged(device, record.data, good, {})[0] == "refused"
    assert judged("0000000000000000", record.data, good, pinned) == (
        "refused",
        f"sealed by device {device}, handed out as 0000000000000000's",
    )
    changed = {device: {**pinned[device], "state": "key-changed"}}
    assert judged(device, record.data, good, changed)[0] == "refused"
    # Revoked before the record says it was sealed: refused; after: still a case.
    assert judged(device, record.data, good, _pinned(field, "2000-01-01T00:00:00Z")) == (
        "refused",
        "sealed after its device was revoked on 2000-01-01T00:00:00Z",
    )
    assert judged(device, record.data, good, _pinned(field, "9999-01-01T00:00:00Z"))[0] == (
        "verified"
    )
    assert check_record(device, b"not an envelope", good, pinned) is None


def test_a_forgery_cannot_block_or_replace_a_verified_record(tmp_path):
    ws = instance.create(tmp_path / "ws", "workspace", [])
    database = db.open_database(ws.path)
    row = {
        "device": "0123456789abcdef", "id": "r1", "kind": "screening",
        "created": "2026-01-01T00:00:00Z", "envelope": b"forged", "signature": None,
        "source": "hub", "received": "2026-01-01T00:00:00Z", "origin": "refused",
        "reason": "forged",
    }  # fmt: skip
    assert len(db.store_pulled(database, [row])) == 1
    genuine = {**row, "envelope": b"genuine", "origin": "verified", "reason": None}
    assert len(db.store_pulled(database, [genuine])) == 1  # takes the forgery's place
    assert len(db.store_pulled(database, [row])) == 0  # and no forgery takes its place
    assert len(db.store_pulled(database, [genuine])) == 0
    assert list(db.verified_envelopes(database)) == [b"genuine"]
    database.close()


def test_a_page_is_stored_in_order_when_it_repeats_or_holds_what_is_here(tmp_path):
    ws = instance.create(tmp_path / "ws", "workspace", [])
    database = db.open_database(ws.path)
    row = {
        "device": "0123456789abcdef", "id": "r1", "kind": "screening",
        "created": "2026-01-01T00:00:00Z", "envelope": b"forged", "signature": None,
        "source": "hub", "received": "2026-01-01T00:00:00Z", "origin": "refused",
        "reason": "forged",
    }  # fmt: skip
    genuine = {**row, "envelope": b"genuine", "origin": "verified", "reason": None}
    other = {**genuine, "id": "r2", "envelope": b"other"}
    elsewhere = {**genuine, "device": "fedcba9876543210", "envelope": b"elsewhere"}
    # One page hands out a forgery, then the genuine record, then the forgery again.
    stored = db.store_pulled(database, [row, genuine, row, other], {"cursor": "4"})
    assert stored == [row, genuine, other]
    assert list(db.verified_envelopes(database)) == [b"genuine", b"other"]
    # A page with records already here stores only the new one, and its cursor with it.
    assert db.store_pulled(database, [other, elsewhere, genuine], {"cursor": "7"}) == [elsewhere]
    assert db.get_pull_state(database, "cursor") == "7"
    assert sorted(db.verified_envelopes(database)) == [b"elsewhere", b"genuine", b"other"]
    assert db.not_cases(database) == []
    database.close()


GOOD_DEVICE = {
    "device": "0123456789abcdef",
    "name": "Crossing 7",
    "enrolled": "2026-01-01T00:00:00Z",
    "revoked": None,
    "public_key": "ab" * 32,
}


@pytest.mark.parametrize(
    "name", ["معبر ٧، البوابة الشمالية", "ኬላ 7", "Übergang 7 – Süd", "x" * 200]
)
def test_device_names_in_any_script_are_taken(name):
    from intake.workspace.origin import check_device_list

    assert check_device_list([{**GOOD_DEVICE, "name": name}])[0]["name"] == name


@pytest.mark.parametrize(
    "change",
    [
        {"name": "Crossing \x1b[2J7"},  # an escape sequence for the coordinator's terminal
        {"name": "Crossing\u00857"},
        {"name": "\u202e7 gnissorC"},  # right-to-left override: shown as "Crossing 7"
        {"name": "Cross\u200ding 7"},  # zero-width joiner: looks like "Crossing 7"
        {"name": "Cross\u200bing 7"},  # zero-width space
        {"name": "\ufeffCrossing 7"},  # byte-order mark
        {"name": "Crossing \u20667\u2069"},  # isolate: reorders what follows
        {"name": "Crossing\u20287"},  # line separator
        {"name": "Crossing\u20297"},  # paragraph separator
        {"name": "Crossing \ud8007"},  # a lone surrogate, which JSON allows
        {"name": ""},
        {"revoked": "0"},  # would compare before every record's time
        {"revoked": "2026-02-30T00:00:00Z"},
        {"enrolled": 5},
        {"device": "0123456789ABCDEF"},
        {"public_key": "AB" * 32},
        {"public_key": "ab" * 31},
    ],
)
def test_a_device_list_of_the_wrong_shape_is_refused(change):
    from intake.workspace.origin import DeviceListError, check_device_list

    assert check_device_list([GOOD_DEVICE]) == [GOOD_DEVICE]
    with pytest.raises(DeviceListError):
        check_device_list([GOOD_DEVICE, {**GOOD_DEVICE, **change}])


def test_an_answer_larger_than_the_cap_is_refused_not_read(monkeypatch):
    """A hostile hub cannot fill the workspace's memory with one huge answer."""
    import http.server
    import threading

    from intake import http as intake_http

    class Huge(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the standard library's name
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.end_headers()
            self.wfile.write(b"x" * 4096)

        def log_message(self, *_args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Huge)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        monkeypatch.setattr(intake_http, "MAX_RESPONSE", 4096)
        assert intake_http.request(url, "GET", "/", None, {}, None)[2] == b"x" * 4096
        monkeypatch.setattr(intake_http, "MAX_RESPONSE", 4095)
        with pytest.raises(intake_http.HttpError, match="larger than"):
            intake_http.request(url, "GET", "/", None, {}, None)
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("slow_part", ["body", "headers"])
def test_a_hub_dripping_its_answer_is_given_up_at_the_deadline(monkeypatch, slow_part):
    """One byte every 50 ms never trips the per-read timeout; the request's deadline stops it."""
    import http.server
    import threading
    import time

    from intake import http as intake_http

    class Drip(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the standard library's name
            self.wfile.write(b"HTTP/1.0 200 OK\r\n")
            if slow_part == "body":
                self.wfile.write(b"Content-Type: application/octet-stream\r\n\r\n")
            else:
                self.wfile.write(b"X-Slow: ")
            try:
                for _ in range(200):  # 10 s at most, then the connection ends
                    self.wfile.write(b"x")
                    time.sleep(0.05)
            except OSError:
                pass  # the client gave up

        def log_message(self, *_args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Drip)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    monkeypatch.setattr(intake_http, "DEADLINE", 0.5)
    try:
        started = time.monotonic()
        with pytest.raises(intake_http.HttpError, match="took longer than 0.5 s") as raised:
            intake_http.request(url, "GET", "/", None, {}, None)
        assert time.monotonic() - started < 3
        assert raised.value.retry is True
    finally:
        server.shutdown()
        server.server_close()
