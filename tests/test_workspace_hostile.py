"""The workspace against odd records, a store changed on disk, races and guessing.

Each test stands for a finding of the security review of the workspace's
web half; expected values are written by hand.
"""

from __future__ import annotations

import threading

import pytest

from intake import crypto, db
from intake.db import case_store as store
from intake.workspace import casestore
from intake.workspace.unlocked import Throttle, UnlockRefused
from tests.conftest import PASSPHRASE
from tests.served import CsrfClient, production_app, sign_in
from tests.workspaces import Device, make_workspace, screening_record, store_rows

ADULT = {"consent_explained": "yes", "consent": "yes", "danger_now": "no", "under_18": "no"}


@pytest.fixture
def ws(tmp_path, coordinator_key):
    inst = make_workspace(tmp_path / "ws", coordinator_key)
    device = Device("North crossing")
    device.pin(inst)
    return inst, device, [coordinator_key.public_key()]


def _client(inst):
    client = CsrfClient(production_app(inst.path))
    sign_in(client, "coordinator")
    return client


def _workspace(client):
    return client.client.application.extensions["intake_workspace"]


def _unlock(client, expected=303):
    response = client.post("/unlock", data={"passphrase": PASSPHRASE})
    assert response.status_code == expected, response.get_data(as_text=True)[-600:]
    return response


def test_a_signed_record_of_odd_shape_is_not_a_case_and_holds_up_no_other(ws):
    inst, device, to = ws
    odd = screening_record({**ADULT, "age": 30}, device=device.id)
    odd["assessment"]["dimensions"] = ["not", "a", "mapping"]
    odd["urgent"] = 7
    odd["assessment"]["urgent"] = 7
    stranger = screening_record({**ADULT, "age": 40}, device=device.id)
    stranger["languages"] = {"respondent": "zz-notalanguage", "officer": "en"}
    stranger["started"] = "2026-11-30T10:00:00.123Z"
    good = screening_record({**ADULT, "age": 50}, device=device.id)
    store_rows(inst, [device.seal(r, to) for r in (odd, stranger, good)])
    client = _client(inst)
    _unlock(client)
    html = client.get("/cases").get_data(as_text=True)
    assert "3 cases match" in html  # the odd one's odd fields are left out, not trusted
    for record in (odd, stranger, good):
        page = client.get(f"/cases/{device.id}/{record['id']}")
        assert page.status_code == 200, record["id"]
    assert "2026-11-30T10:00:00.123Z" in client.get(
        f"/cases/{device.id}/{stranger['id']}"
    ).get_data(as_text=True)


def test_a_changed_or_cut_store_refuses_the_unlock_and_keeps_nothing(ws):
    inst, device, to = ws
    rows = [device.seal(screening_record({**ADULT, "age": 20 + i}, device=device.id), to)
            for i in range(3)]  # fmt: skip
    store_rows(inst, rows)
    client = _client(inst)
    _unlock(client)
    client.post("/lock")
    database = db.open_database(inst.path)
    (data,) = database.execute("SELECT data FROM case_chunks").fetchone()
    changed = bytearray(data)
    changed[10] ^= 1
    database.execute("UPDATE case_chunks SET data = ?", [bytes(changed)])
    database.conn.commit()
    database.close()
    client = _client(inst)
    response = _unlock(client, 409)
    assert "does not open whole" in response.get_data(as_text=True)
    workspace = _workspace(client)
    assert workspace.opener is None and workspace.key is None and workspace.sessions == {}
    assert client.get("/cases").status_code == 303  # still locked
    # A chunk removed: fewer cases would be shown; the unlock refuses instead.
    database = db.open_database(inst.path)
    database.execute("DELETE FROM case_chunks")
    database.conn.commit()
    database.close()
    response = _unlock(client, 409)
    assert "hold 0 cases where 3 were opened" in response.get_data(as_text=True)
    audit = (inst.path / "audit.log").read_text()
    assert audit.count('"action":"unlock_refused"') == 2


def test_a_store_made_with_another_key_is_refused(ws, second_key):
    inst, device, to = ws
    store_rows(inst, [device.seal(screening_record(ADULT, device=device.id), to)])
    database = db.open_database(inst.path)
    other = casestore.Opener(second_key, crypto.key_id(second_key.public_key()))
    casestore.store_key(database, other)  # someone planted a store for another key
    database.close()
    client = _client(inst)
    response = _unlock(client, 409)
    assert "made with another key" in response.get_data(as_text=True)


def test_the_store_key_is_the_private_keys_own_and_never_stored(ws, coordinator_key):
    inst, device, to = ws
    store_rows(inst, [device.seal(screening_record(ADULT, device=device.id), to)])
    _unlock(_client(inst))
    database = db.open_database(inst.path)
    meta = dict(database.execute("SELECT key, value FROM store_meta").fetchall())
    key = crypto.private_key_secret(coordinator_key, b"intake-case-store-v1")
    number, nonce, data = database.execute("SELECT chunk, nonce, data FROM case_chunks").fetchone()
    database.close()
    assert set(meta) == {"key_check"} and key not in meta["key_check"]
    assert casestore.decrypt_chunk(key, number, nonce, data)[0][1]  # it opens the chunks


def test_an_envelope_swapped_on_disk_shows_nothing_of_the_other_person(ws):
    inst, device, to = ws
    a = screening_record({**ADULT, "current_location": "PERSON-A"}, device=device.id)
    b = screening_record({**ADULT, "current_location": "PERSON-B"}, device=device.id)
    store_rows(inst, [device.seal(r, to) for r in (a, b)])
    client = _client(inst)
    _unlock(client)
    database = db.open_database(inst.path)
    (b_envelope,) = database.execute(
        "SELECT envelope FROM pulled WHERE id = ?", [b["id"]]
    ).fetchone()
    database.execute("UPDATE pulled SET envelope = ? WHERE id = ?", [b_envelope, a["id"]])
    database.conn.commit()
    database.close()
    html = client.get(f"/cases/{device.id}/{a['id']}").get_data(as_text=True)
    assert "no longer opens here" in html and "PERSON-B" not in html
    exported = client.post("/export", data={"format": "csv", "understood": "yes"})
    text = exported.get_data(as_text=True)
    assert "PERSON-B" in text and text.count("PERSON-B") == 1 and a["id"] not in text
    assert '"skipped":1' in (inst.path / "audit.log").read_text()


@pytest.mark.parametrize(
    "query",
    ["until=9999-12-31", "since=0001-01-01", "page=%C2%B2", "page=" + "9" * 5000,
     "language=" + "-abcd" * 60, "post=../../etc"],
)  # fmt: skip
def test_a_hostile_query_is_a_clear_400(ws, query):
    inst, device, to = ws
    store_rows(inst, [device.seal(screening_record(ADULT, device=device.id), to)])
    client = _client(inst)
    _unlock(client)
    paths = ("/cases",) if query.startswith("page=") else ("/cases", "/dashboard")
    for path in paths:
        assert client.get(f"{path}?{query}").status_code == 400, (path, query)


def test_the_key_opens_nothing_more_once_locked(ws, coordinator_key):
    inst, device, to = ws
    store_rows(inst, [device.seal(screening_record(ADULT, device=device.id), to)
                      for _ in range(12)])  # fmt: skip
    database = db.open_database(inst.path)
    opener = casestore.Opener(coordinator_key, crypto.key_id(coordinator_key.public_key()))
    key = casestore.store_key(database, opener)
    asked = []

    def keep_going():
        asked.append(1)
        return len(asked) <= 5  # locked while the sixth record waits

    with pytest.raises(casestore.Stopped):
        casestore.ingest(database, opener, key, frozenset(), keep_going=keep_going)
    assert len(asked) == 6 and store.count_opened(database) == 0  # that batch is not kept
    database.close()


def test_wrong_passphrases_are_slowed_down_then_locked():
    throttle, now = Throttle(), 1000.0
    for _ in range(3):
        throttle.check("dana", now)
        throttle.failed("dana", now)
    with pytest.raises(UnlockRefused) as refused:
        throttle.check("dana", now + 0.5)
    assert refused.value.wait == 1
    throttle.check("dana", now + 1.01)
    for n in range(4, 9):
        throttle.failed("dana", now + n * 100)
    with pytest.raises(UnlockRefused) as refused:
        throttle.check("dana", now + 800 + 60)
    assert refused.value.wait == 15 * 60 - 60 + 1
    throttle.succeeded("dana")
    throttle.check("dana", now + 900)


def test_the_fourth_wrong_passphrase_at_once_is_refused_unheard(ws):
    inst, _device, _to = ws
    client = _client(inst)
    codes = [client.post("/unlock", data={"passphrase": f"wrong {i} wrong"}).status_code
             for i in range(4)]  # fmt: skip
    assert codes == [401, 401, 401, 429]


def test_a_disabled_coordinator_is_locked_out_at_the_next_request(ws):
    inst, device, to = ws
    store_rows(inst, [device.seal(screening_record(ADULT, device=device.id), to)])
    client = _client(inst)
    _unlock(client)
    workspace = _workspace(client)
    assert workspace.sessions
    database = db.open_database(inst.path)
    db.set_user_disabled(database, "coordinator", True)
    database.close()
    assert client.get("/cases").status_code == 302  # to sign-in
    assert workspace.sessions == {} and workspace.key is None


def test_lock_during_requests_never_answers_500(ws):
    inst, device, to = ws
    store_rows(inst, [device.seal(screening_record(ADULT, device=device.id), to)
                      for _ in range(30)])  # fmt: skip
    client = _client(inst)
    _unlock(client)
    workspace = _workspace(client)
    token = next(iter(workspace.sessions))
    codes, stop = [], threading.Event()

    def browse():
        while not stop.is_set():
            for path in ("/cases", "/dashboard", "/cases?age=adult"):
                codes.append(client.get(path).status_code)

    thread = threading.Thread(target=browse)
    thread.start()
    for _ in range(20):
        workspace.lock_session(token)
        workspace.unlock(token, "coordinator", PASSPHRASE)
    stop.set()
    thread.join()
    assert codes and 500 not in codes


def test_rebuild_makes_a_cut_store_whole_and_keeps_the_statuses(ws, passphrase_file):
    from click.testing import CliRunner

    from intake.commands import main

    inst, device, to = ws
    rows = [device.seal(screening_record({**ADULT, "age": 20 + i}, device=device.id), to)
            for i in range(3)]  # fmt: skip
    store_rows(inst, rows)
    client = _client(inst)
    _unlock(client)
    url = f"/cases/{device.id}/{rows[1]['id']}/status"
    assert client.post(url, data={"status": "referred"}).status_code == 303
    client.post("/lock")
    database = db.open_database(inst.path)
    database.execute("DELETE FROM case_chunks")
    database.conn.commit()
    database.close()
    result = CliRunner().invoke(
        main,
        ["workspace", "rebuild", "--instance", str(inst.path),
         "--passphrase-file", str(passphrase_file)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "3 cases opened, 0 not sealed to this key, 0 that do not open" in result.output
    client = _client(inst)
    _unlock(client)
    assert "1 case matches" in client.get("/cases?status=referred").get_data(as_text=True)
    assert '"action":"store_rebuilt"' in (inst.path / "audit.log").read_text()
