"""The workspace's case store and index: encrypted at rest, strict filters, duplicates, locking.

Expected values are written by hand from the records built here.
"""

from __future__ import annotations

import csv
import io
import time

import pytest
from click.testing import CliRunner

from intake import crypto, db
from intake.commands import main
from intake.workspace import casestore
from intake.workspace.index import CaseIndex, Filter, FilterError
from intake.workspace.opening import Opener
from intake.workspace.unlocked import open_store
from tests.canary import describe
from tests.conftest import PASSPHRASE
from tests.workspaces import Device, make_workspace, screening_record, store_rows

CANARY = "CANARY-case-store-91c2"
CONSENT = {"consent_explained": "yes", "consent": "yes", "danger_now": "no"}


def _adult(**answers) -> dict:
    return {**CONSENT, "under_18": "no", **answers}


@pytest.fixture
def filled(tmp_path, coordinator_key):
    inst = make_workspace(tmp_path / "ws", coordinator_key)
    device = Device("Crossing 7")
    device.pin(inst)
    people = [
        _adult(age=30, gender="man", nationality="ER", exploitation_country="LY",
               current_location=CANARY),
        _adult(age=31, gender="man", nationality="ER", exploitation_country="LY"),
        _adult(age=45, gender="woman", nationality="RO", safe_contact="own_phone",
               contact_phone="+40 712 345 678"),
        _adult(age=22, gender="woman", nationality="NG", safe_contact="own_phone",
               contact_phone="0040712345678"),
        {**CONSENT, "under_18": "yes"},
    ]  # fmt: skip
    records = [screening_record(p, device=device.id) for p in people]
    store_rows(inst, [device.seal(r, [coordinator_key.public_key()]) for r in records])
    return inst, records, device


def _opener(coordinator_key) -> Opener:
    return Opener(coordinator_key, crypto.key_id(coordinator_key.public_key()))


def test_the_store_opens_once_and_holds_no_answer_in_the_clear(filled, coordinator_key):
    inst, records, device = filled
    database = db.open_database(inst.path)
    index = open_store(database, _opener(coordinator_key))
    assert len(index) == 5
    assert database.execute("SELECT count(*) FROM case_chunks").fetchone()[0] == 1
    again = open_store(database, _opener(coordinator_key))  # nothing new to open
    assert len(again) == 5
    assert database.execute("SELECT count(*) FROM case_chunks").fetchone()[0] == 1
    database.close()
    assert describe(inst.path, CANARY) == []


def test_a_changed_chunk_or_another_key_does_not_open(filled, coordinator_key, second_key):
    inst, _records, _device = filled
    database = db.open_database(inst.path)
    open_store(database, _opener(coordinator_key))
    with pytest.raises(casestore.StoreError, match="another key"):
        casestore.store_key(database, _opener(second_key))
    key = casestore.store_key(database, _opener(coordinator_key))
    number, nonce, data = database.execute("SELECT chunk, nonce, data FROM case_chunks").fetchone()
    for position in (0, len(data) // 2, len(data) - 1):
        changed = bytearray(data)
        changed[position] ^= 1
        with pytest.raises(casestore.StoreError, match="changed"):
            casestore.decrypt_chunk(key, number, nonce, bytes(changed))
    with pytest.raises(casestore.StoreError, match="changed"):  # moved to another number
        casestore.decrypt_chunk(key, number + 1, nonce, data)
    database.close()


def test_records_sealed_to_another_key_are_listed_not_lost(tmp_path, coordinator_key, second_key):
    inst = make_workspace(tmp_path / "ws", coordinator_key)
    device = Device()
    device.pin(inst)
    other = screening_record(_adult(age=40), device=device.id)
    store_rows(inst, [device.seal(other, [second_key.public_key()])])
    database = db.open_database(inst.path)
    assert len(open_store(database, _opener(coordinator_key))) == 0
    from intake.db import case_store

    assert case_store.not_opened(database) == [
        {"device": device.id, "id": other["id"], "state": "not_for_key",
         "reason": "not sealed to this coordinator's key"}
    ]  # fmt: skip
    database.close()


def test_possible_duplicates_share_a_phone_or_a_profile(filled, coordinator_key):
    inst, records, _device = filled
    database = db.open_database(inst.path)
    index = open_store(database, _opener(coordinator_key))
    database.close()

    def dups(n):
        case = next(c for c in index.cases if c.id == records[n]["id"])
        return sorted(c.id for c in index.possible_duplicates(case))

    assert dups(0) == [records[1]["id"]]  # ER man in LY, 30 and 31
    assert dups(2) == [records[3]["id"]]  # the same phone, written two ways
    assert dups(4) == []


@pytest.mark.parametrize(
    "values",
    [
        {"status": "open"},
        {"outcome": "victim"},
        {"age": "teen"},
        {"urgent": "no"},
        {"since": "2026-02-30"},
        {"until": "30/11/2026"},
        {"post": "Crossing 7"},
        {"language": "Arabic"},
        {"q": "x" * 201},
        {"q": "line\nbreak"},
    ],
)
def test_a_filter_out_of_place_is_refused(values):
    with pytest.raises(FilterError):
        Filter.parse(values)


def test_filters_and_search_narrow_the_list(filled, coordinator_key):
    inst, records, _device = filled
    database = db.open_database(inst.path)
    index: CaseIndex = open_store(database, _opener(coordinator_key))
    database.close()
    assert len(index.select(Filter.parse({"age": "child"}))) == 1
    assert len(index.select(Filter.parse({"age": "adult"}))) == 4
    assert len(index.select(Filter.parse({"q": CANARY.lower()}))) == 1
    assert len(index.select(Filter.parse({"q": records[2]["reference"]}))) == 1
    assert len(index.select(Filter.parse({"status": "closed"}))) == 0
    today = records[0]["finished"][:10]
    assert len(index.select(Filter.parse({"since": today, "until": today}))) == 5
    assert len(index.select(Filter.parse({"until": "2000-01-01"}))) == 0


def test_the_export_command_writes_the_filtered_cases(filled, tmp_path, passphrase_file):
    inst, records, _device = filled
    out = tmp_path / "adults.csv"
    result = CliRunner().invoke(
        main,
        ["export", "--instance", str(inst.path), "--format", "csv", "--out", str(out),
         "--passphrase-file", str(passphrase_file), "--age", "adult"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Wrote 4 of 5 cases" in result.output
    assert out.stat().st_mode & 0o077 == 0
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert sorted(r["record_id"] for r in rows) == sorted(r["id"] for r in records[:4])
    audit = (inst.path / "audit.log").read_text()
    assert '"action":"export"' in audit and CANARY not in audit
    bad = CliRunner().invoke(
        main,
        ["export", "--instance", str(inst.path), "--format", "csv", "--out", str(out),
         "--passphrase-file", str(passphrase_file), "--since", "yesterday"],
    )  # fmt: skip
    assert bad.exit_code == 2 and "since" in bad.output


def test_the_workspace_locks_when_its_last_session_goes_idle(filled, coordinator_key):
    from intake.auth import KeyRing
    from intake.workspace.unlocked import Workspace

    inst, _records, _device = filled
    ring = KeyRing(idle_seconds=1)
    token = ring.add(object(), time.time())
    ws = Workspace(inst, ring)
    ws.unlock(token, "coordinator", PASSPHRASE)
    assert ws.is_unlocked(token) and len(ws.index) == 5
    with pytest.raises(crypto.CryptoError):
        ws.unlock(ring.add(object(), time.time()), "someone", "a wrong passphrase")
    time.sleep(1.2)
    ws.sweep()
    assert not ws.is_unlocked(token)
    assert ws.opener is None and ws.key is None and ws.index is None


def test_a_key_is_added_once_to_a_workspace_made_without_one(tmp_path, coordinator_key):
    from intake import instance
    from tests.conftest import write_key_pair

    ws = instance.create(tmp_path / "ws", "workspace", [])
    key_file, pub_file = write_key_pair(tmp_path / "keys", coordinator_key)
    run = CliRunner().invoke
    out = str(tmp_path / "x.csv")
    refused = run(main, ["export", "--instance", str(ws.path), "--format", "csv",
                         "--out", out, "--passphrase-file", str(pub_file)])  # fmt: skip
    assert refused.exit_code == 2 and "holds no coordinator key" in refused.output
    assert run(main, ["workspace", "key", "--instance", str(ws.path), str(pub_file)]).exit_code == 2
    added = run(main, ["workspace", "key", "--instance", str(ws.path), str(key_file)])
    assert added.exit_code == 0, added.output
    assert (ws.path / "coordinator.key").stat().st_mode & 0o077 == 0
    again = run(main, ["workspace", "key", "--instance", str(ws.path), str(key_file)])
    assert again.exit_code == 2 and "already" in again.output
