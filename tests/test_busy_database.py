"""Writers wait their turn: a busy database is never a 500, and no save is lost.

Two officers save screens on one field node while its background sync
writes to the same database; twenty devices send batches to one hub at
once. Both against real `intake serve` processes over HTTP.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections import Counter

import pytest

from intake import crypto, db, envelope, instance
from intake.questionnaire import load_questionnaire
from intake.workspace.opening import Opener
from tests.browser import LiveServer
from tests.conftest import run_intake
from tests.http_client import WebClient, connection
from tests.hubs import batch_bytes, enrol_field, hub_ids, sealed_records
from tests.screening import add_user, fill_section

# The bound; INTAKE_TEST_SAVE_SECONDS shortens it for a quick local run.
SAVE_SECONDS = float(os.environ.get("INTAKE_TEST_SAVE_SECONDS", 30))
QUESTIONNAIRE = "screening-short"
DEVICES = 20
BATCHES_PER_DEVICE = 3
RECORDS_PER_BATCH = 40


@pytest.fixture
def hub(tmp_path, coordinator_key):
    hub_inst = instance.create(tmp_path / "hub", "hub", [coordinator_key.public_key()])
    server = LiveServer(hub_inst.path)
    server.start()
    yield hub_inst, server
    server.stop()


def test_a_write_that_reads_first_waits_its_turn(field_instance):
    """A transaction that reads, then writes, holds the writer lock from its start.

    Deferred, another writer could commit between its read and its write, and
    SQLite would then refuse the write at once ("database is locked").
    """
    database = db.open_database(field_instance.path)
    assert database.execute("PRAGMA busy_timeout").fetchone()[0] >= 30_000
    assert database.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    path = field_instance.path / db.DATABASE_NAME
    other = sqlite3.connect(path, timeout=10, check_same_thread=False)
    other_wrote = threading.Event()

    def write_meanwhile() -> None:
        other.execute("INSERT INTO sync_state (key, value) VALUES ('meanwhile', 'x')")
        other.commit()
        other_wrote.set()

    sealed = envelope.seal_record(
        {"i": 1}, field_instance.recipient_keys(), device=field_instance.device_id()
    )
    writer = threading.Thread(target=write_meanwhile, daemon=True)
    with database.atomic():
        assert database.execute("SELECT count(*) FROM outbox").fetchone()[0] == 0
        writer.start()
        assert not other_wrote.wait(0.5), "another writer got in between the read and the write"
        assert db.add_to_outbox(database, sealed)
    writer.join(timeout=10)
    assert other_wrote.is_set() and db.count_pending(database) == 1
    other.close()
    database.close()


def _enrolled_field_node(tmp_path, coordinator_key, hub_inst, hub_url):
    """A field instance enrolled with the hub, syncing in the background every 0.2 s."""
    field = instance.create(tmp_path / "field", "field", [coordinator_key.public_key()])
    config_file = field.path / instance.CONFIG_NAME
    config = json.loads(config_file.read_text())
    config["settings"]["sync_interval_seconds"] = 0.2
    config_file.write_text(json.dumps(config))
    code = run_intake("hub", "enroll-code", "--instance", hub_inst.path, "--name", "Crossing 7")
    assert code.returncode == 0, code.stderr
    enrolled = run_intake(
        "enroll", "--instance", field.path, hub_url, code.stdout.decode().split()[-1]
    )
    assert enrolled.returncode == 0, enrolled.stderr
    for name in ("amina", "tesfay"):
        add_user(field, name, "officer")
    return field


def _screen_until(client: WebClient, name: str, deadline: float, done: dict) -> None:
    """Fill and finish screenings until the deadline; remember what each one sent."""
    questionnaire = load_questionnaire(QUESTIONNAIRE)
    round_ = 0
    while time.monotonic() < deadline:
        round_ += 1
        text = f"{name} round {round_}"
        start = client.post(
            "/screening/start", {"questionnaire": QUESTIONNAIRE, "respondent_language": "en"}
        )
        if start.status != 303:
            continue  # counted; the test fails on it
        location, answers = start.location, {}
        while "/review" not in location and location.count("/screening/"):
            section_id = location.rstrip("/").rsplit("/", 1)[1]
            form = fill_section(questionnaire, section_id, answers, {"under_18": "no"}, text, False)
            answers.update({k: v for k, v in form.items() if k != "_shown"})
            saved = client.post(location, {**form, "action": "next"})
            if saved.status != 303:
                break
            location = saved.location
        if "/review" not in location:
            continue
        draft_id = location.split("/screening/")[1].split("/")[0]
        reviewed = client.get(location).status == 200
        if reviewed and client.post(f"/screening/{draft_id}/finish", {}).status == 200:
            done[draft_id] = answers


def _records_on_hub(hub_inst, private_key) -> dict[str, dict]:
    opener = Opener(private_key, crypto.key_id(private_key.public_key()))
    database = db.open_database(hub_inst.path)
    try:
        rows = database.execute("SELECT id, envelope FROM envelopes").fetchall()
    finally:
        database.close()
    return {record_id: json.loads(opener.open(data)[1]) for record_id, data in rows}


@pytest.mark.slow
def test_two_officers_saving_while_the_background_sync_writes(tmp_path, coordinator_key, hub):
    hub_inst, hub_server = hub
    field = _enrolled_field_node(tmp_path, coordinator_key, hub_inst, hub_server.url)
    node = LiveServer(field.path)
    node.start()
    try:
        clients = {name: WebClient(node.url) for name in ("amina", "tesfay")}
        for name, client in clients.items():
            assert client.sign_in(name, "officer password 1").status == 302
            assert client.get("/").status == 200  # the home page's form gives the CSRF token
        finished: dict[str, dict] = {}
        deadline = time.monotonic() + SAVE_SECONDS
        threads = [
            threading.Thread(target=_screen_until, args=(c, n, deadline, finished), daemon=True)
            for n, c in clients.items()
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=SAVE_SECONDS + 120)
        assert not any(t.is_alive() for t in threads), "a request never got an answer"
        statuses = sum((c.statuses for c in clients.values()), Counter())
        assert set(statuses) <= {200, 302, 303}, statuses
        assert len(finished) >= 4, (statuses, "too few screenings to mean anything")
        # Every finished screening reaches the hub through the background sync...
        wait_until = time.monotonic() + 60
        while not set(finished) <= hub_ids(hub_inst) and time.monotonic() < wait_until:
            time.sleep(0.2)
        assert set(finished) <= hub_ids(hub_inst), "".join(node.output)
    finally:
        node.stop()
    # ...with every answer of every screen saved on the way.
    records = _records_on_hub(hub_inst, coordinator_key)
    for draft_id, answers in finished.items():
        texts = {k: v for k, v in answers.items() if isinstance(v, str) and " round " in v}
        assert texts and all(records[draft_id]["answers"].get(k) == v for k, v in texts.items())
    assert "background sync failed" not in "".join(node.output)


def _send_batches(hub_url: str, batches: list[bytes], statuses: list) -> None:
    for body in batches:
        conn = connection(hub_url, timeout=60)
        try:
            conn.request(
                "POST", "/api/v1/batches", body, {"Content-Type": "application/octet-stream"}
            )
            response = conn.getresponse()
            answer = response.read()
            statuses.append(
                (response.status, json.loads(answer) if response.status == 200 else answer)
            )
        except OSError as e:
            statuses.append((repr(e), None))
        finally:
            conn.close()


def test_twenty_devices_sending_to_one_hub_at_once(tmp_path, coordinator_key, hub):
    hub_inst, hub_server = hub
    sent, work = set(), []
    for i in range(DEVICES):
        field = instance.create(tmp_path / f"d{i}", "field", [coordinator_key.public_key()])
        enrol_field(hub_inst, field, f"Crossing {i}")
        records = sealed_records(
            field.recipient_keys(), BATCHES_PER_DEVICE * RECORDS_PER_BATCH, field.device_id()
        )
        sent |= {r.record_id for r in records}
        chunks = [records[j::BATCHES_PER_DEVICE] for j in range(BATCHES_PER_DEVICE)]
        # The last batch goes twice, as after a cut connection: stored once all the same.
        batches = [batch_bytes(chunk, field.device_key()) for chunk in chunks]
        work.append(batches + batches[-1:])
    answers: list = []
    threads = [
        threading.Thread(target=_send_batches, args=(hub_server.url, b, answers), daemon=True)
        for b in work
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=180)
    assert not any(t.is_alive() for t in threads), "a batch never got an answer"
    assert len(answers) == DEVICES * (BATCHES_PER_DEVICE + 1)
    assert [status for status, _ in answers if status != 200] == [], answers
    stored = sum(answer["stored"] for _, answer in answers)
    duplicates = sum(answer["duplicate"] for _, answer in answers)
    assert stored == len(sent) and duplicates == DEVICES * RECORDS_PER_BATCH
    assert hub_ids(hub_inst) == sent
    database = db.open_database(hub_inst.path)
    try:
        assert db.count_envelopes(database) == len(sent)
    finally:
        database.close()
