"""The workspace's audit log: hash-chained, appended safely, and any changed byte is named.

Expected hashes and entry numbers are worked out here from the format in
docs/audit.md, not read from the module under test.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import sys
import threading
import time

import pytest

from intake import db, instance
from intake.workspace.audit import AuditError, AuditLog, verify

ZERO = "0" * 64


@pytest.fixture
def workspace(tmp_path, coordinator_key):
    inst = instance.create(tmp_path / "ws", "workspace", [coordinator_key.public_key()])
    db.open_database(inst.path).close()
    return inst.path


@pytest.fixture
def database(workspace):
    database = db.open_database(workspace)
    yield database
    database.close()


def expected_hash(entry: dict) -> str:
    body = {k: v for k, v in entry.items() if k != "hash"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(b"intake-audit-v1\n" + text.encode("utf-8")).hexdigest()


def line_of(entry: dict) -> bytes:
    text = json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.encode("utf-8") + b"\n"


def read_entries(workspace) -> list[dict]:
    return [json.loads(line) for line in (workspace / "audit.log").read_bytes().splitlines()]


def five_entries(workspace, database) -> bytes:
    """A small log of five varied entries; return its bytes."""
    log = AuditLog(workspace, database)
    log.append("cli:root", "pull", None, {"new": 12, "refused": 0})
    log.append("أمينة", "unlock")
    log.append("amina", "case_view", 'dev"1\\/3f2a-0c')
    log.append("amina", "status_change", "dev1/3f2a", {"from": "new", "to": "referred"})
    log.append("bo", "export", None, {"format": "csv", "cases": 12, "filter": "status=new"})
    return (workspace / "audit.log").read_bytes()


# -- the format ------------------------------------------------------------


def test_a_missing_log_is_an_empty_intact_one(workspace):
    verdict = verify(workspace)
    assert (verdict.ok, verdict.entries, verdict.broken_seq) == (True, 0, None)


def test_entries_are_canonical_lines_chained_by_hash(workspace, database):
    log = AuditLog(workspace, database)
    first = log.append("amina", "unlock")
    log.append("amina", "case_view", "dev1/3f2a")
    log.append("amina", "export", None, {"format": "csv", "cases": 2})
    raw = (workspace / "audit.log").read_bytes()
    entries = read_entries(workspace)
    assert raw == b"".join(line_of(e) for e in entries)
    assert [sorted(e) for e in entries] == [
        ["action", "actor", "detail", "hash", "prev", "seq", "subject", "time"]
    ] * 3
    assert [e["seq"] for e in entries] == [1, 2, 3]
    assert [e["prev"] for e in entries] == [ZERO, entries[0]["hash"], entries[1]["hash"]]
    assert [e["hash"] for e in entries] == [expected_hash(e) for e in entries]
    assert entries[0] == first
    assert (entries[1]["subject"], entries[1]["detail"]) == ("dev1/3f2a", None)
    assert entries[2]["detail"] == {"format": "csv", "cases": 2}
    assert json.loads(db.get_pull_state(database, "audit_head")) == {
        "seq": 3,
        "hash": entries[2]["hash"],
    }
    assert stat.S_IMODE(os.stat(workspace / "audit.log").st_mode) == 0o600
    verdict = verify(workspace, database)
    assert (verdict.ok, verdict.entries, verdict.last) == (True, 3, entries[2])


@pytest.mark.parametrize(
    "actor, action, subject, detail",
    [
        ("amina", "read_answers", None, None),  # not an action of the set
        ("", "unlock", None, None),
        ("amina", "export", "", None),
        ("amina", "export", None, {"query": {"text": "nested"}}),
        ("amina", "export", None, {"filter": "x" * 201}),
        ("amina", "export", None, {"Filter": "status=new"}),
        ("amina", "export", None, {"cases": True}),
        ("amina", "export", None, {"share": 0.5}),
        ("amina", "export", None, ["csv"]),
        ("amina", "export", None, {f"k{i}": i for i in range(13)}),
    ],
)
def test_a_malformed_entry_is_refused_and_nothing_written(
    workspace, actor, action, subject, detail
):
    with pytest.raises(AuditError):
        AuditLog(workspace).append(actor, action, subject, detail)
    assert not (workspace / "audit.log").exists()
    assert verify(workspace).ok


# -- many writers at once --------------------------------------------------

CHILD = """
import os, sys, time
from intake.workspace.audit import AuditLog
log = AuditLog(sys.argv[1])
open(sys.argv[2] + ".ready", "w").close()
while not os.path.exists("go"):
    time.sleep(0.005)
for n in range(int(sys.argv[3])):
    log.append(sys.argv[2], "case_view", f"dev/{n}", {"n": n})
"""


def test_threads_and_processes_appending_at_once_keep_one_chain(workspace, tmp_path):
    children = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, str(workspace), f"process{p}", "60"], cwd=tmp_path
        )
        for p in range(2)
    ]
    failures = []

    def append(name: str, own_connection: bool) -> None:
        # A thread gives its own connection (as a request does, g.db), or lets the log open one.
        database = db.open_database(workspace) if own_connection else None
        try:
            log = AuditLog(workspace, database)
            for n in range(30):
                log.append(name, "case_view", f"dev/{n}", {"n": n})
        except Exception as e:
            failures.append(e)
        finally:
            if database:
                database.close()

    threads = [threading.Thread(target=append, args=(f"thread{t}", t % 2)) for t in range(4)]
    deadline = time.monotonic() + 120
    while not all((tmp_path / f"process{p}.ready").exists() for p in range(2)):
        assert time.monotonic() < deadline, "the processes did not start"
        time.sleep(0.01)
    (tmp_path / "go").touch()  # all at once
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [c.wait(timeout=300) for c in children] == [0, 0]
    assert failures == []
    entries = read_entries(workspace)
    assert [e["seq"] for e in entries] == list(range(1, 2 * 60 + 4 * 30 + 1))
    written = sorted((e["actor"], e["detail"]["n"]) for e in entries)
    expected = [(f"process{p}", n) for p in range(2) for n in range(60)]
    expected += [(f"thread{t}", n) for t in range(4) for n in range(30)]
    assert written == sorted(expected)
    verdict = verify(workspace)
    assert (verdict.ok, verdict.entries) == (True, 240)


# -- any change is caught and named -----------------------------------------


def other_bytes(byte: int) -> list[int]:
    """Replacements for a byte: one bit flipped, a letter, a hex digit (all different from it)."""
    letter = ord("x") if byte != ord("x") else ord("y")
    digit = ord("7") if byte != ord("7") else ord("8")
    return [byte ^ 0x01, letter, digit]


def test_changing_any_byte_names_the_entry_it_is_in(workspace, database):
    original = five_entries(workspace, database)
    assert original.count(b"\n") == 5
    assert verify(workspace, database).ok
    log_file = workspace / "audit.log"
    for position in range(len(original)):
        line = original[:position].count(b"\n") + 1  # a line's newline belongs to its entry
        for replacement in other_bytes(original[position]):
            changed = bytearray(original)
            changed[position] = replacement
            log_file.write_bytes(bytes(changed))
            verdict = verify(workspace, database)
            assert not verdict.ok, (position, chr(replacement))
            assert (verdict.broken_seq, verdict.line) == (line, line), (
                position,
                chr(replacement),
                verdict.reason,
            )
            assert verdict.entries == line - 1
    log_file.write_bytes(original)
    assert verify(workspace, database).ok


def test_removed_moved_added_and_rewritten_entries_are_named(workspace, database):
    original = five_entries(workspace, database)
    lines = original.splitlines(keepends=True)
    entries = [json.loads(x) for x in lines]
    forged = {
        **entries[4],
        "seq": 6,
        "prev": entries[4]["hash"],
        "action": "case_view",
        "detail": None,
    }
    forged["hash"] = expected_hash(forged)
    rewritten = []  # a whole new history, each hash right: only the head in the database differs
    for e in entries:
        e = {**e, "actor": "nobody", "prev": rewritten[-1]["hash"] if rewritten else ZERO}
        rewritten.append({**e, "hash": expected_hash(e)})
    unlinked = {**entries[2], "actor": "nobody", "prev": ZERO}  # its own hash right
    unlinked["hash"] = expected_hash(unlinked)
    linked = {**entries[2], "actor": "nobody"}  # follows entry 2: entry 4 does not follow it
    linked["hash"] = expected_hash(linked)
    cases = {
        "entry replaced, not linked": (b"".join([*lines[:2], line_of(unlinked), *lines[3:]]), 3),
        "entry replaced, linked": (b"".join([*lines[:2], line_of(linked), *lines[3:]]), 4),
        "last line deleted": (b"".join(lines[:4]), 5),
        "middle line deleted": (b"".join(lines[:2] + lines[3:]), 3),
        "two lines swapped": (b"".join([lines[0], lines[2], lines[1], *lines[3:]]), 2),
        "forged line added": (original + line_of(forged), 6),
        "whole history rewritten": (b"".join(line_of(e) for e in rewritten), 5),
        "last line cut short": (original[:-20], 5),
        "last newline gone": (original[:-1], 5),
        "blank line added": (original + b"\n", 6),
        "file emptied": (b"", 1),
    }
    for name, (data, broken) in cases.items():
        (workspace / "audit.log").write_bytes(data)
        verdict = verify(workspace, database)
        assert (verdict.ok, verdict.broken_seq) == (False, broken), (name, verdict.reason)
    (workspace / "audit.log").unlink()
    verdict = verify(workspace, database)
    assert (verdict.ok, verdict.broken_seq, verdict.entries) == (False, 1, 0)


def test_a_log_whose_end_is_broken_takes_no_more_entries(workspace, database):
    """An append reads only the last entry (a case view must not read the whole log)."""
    original = five_entries(workspace, database)
    lines = original.splitlines(keepends=True)
    changed_last = original.replace(b'"bo"', b'"al"')
    for data in (b"".join(lines[:4]), original[:-1], changed_last, original + b"{}\n", b""):
        (workspace / "audit.log").write_bytes(data)
        with pytest.raises(AuditError, match="intake audit verify"):
            AuditLog(workspace, database).append("amina", "case_view", "dev1/3f2a")
        assert (workspace / "audit.log").read_bytes() == data


def test_an_entry_written_but_not_recorded_is_taken_by_the_next_append(workspace, database):
    """A power cut between the file's fsync and the head's commit leaves one entry past the head."""
    five_entries(workspace, database)
    fourth = read_entries(workspace)[3]
    head = json.dumps({"hash": fourth["hash"], "seq": 4}, separators=(",", ":"))
    db.set_pull_state(database, "audit_head", head)
    verdict = verify(workspace, database)
    assert (verdict.ok, verdict.broken_seq) == (False, 5)
    AuditLog(workspace, database).append("amina", "lock")
    verdict = verify(workspace, database)
    assert (verdict.ok, verdict.entries) == (True, 6)


def test_restart_keeps_the_broken_log_and_begins_a_chain_naming_it(workspace, database):
    log = AuditLog(workspace, database)
    original = five_entries(workspace, database)
    with pytest.raises(AuditError, match="intact"):
        log.restart("cli:root")
    damaged = original.replace(b'"bo"', b'"al"')
    (workspace / "audit.log").write_bytes(damaged)
    kept, verdict, first = log.restart("cli:root")
    assert kept.read_bytes() == damaged
    assert verdict.broken_seq == 5
    assert read_entries(workspace) == [first]
    assert (first["seq"], first["prev"], first["action"]) == (1, ZERO, "audit_restarted")
    assert first["detail"] == {"broken_log": kept.name, "entries": 4, "broken_at": 5}
    assert verify(workspace, database).ok


# -- the command -----------------------------------------------------------


def test_the_command_reports_an_intact_chain_and_logs_the_check(workspace, database, intake_cli):
    result = intake_cli("audit", "verify", "--instance", workspace)
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode().startswith("audit log: 0 entries, chain intact\n")
    five_entries(workspace, database)
    last = read_entries(workspace)[-1]
    result = intake_cli("audit", "verify", "--instance", workspace)
    assert result.returncode == 0, result.stderr
    out = result.stdout.decode()
    assert out.startswith(f"audit log: 6 entries, chain intact (last: #6 {last['time']})\n")
    assert read_entries(workspace)[-1]["action"] == "audit_verified"
    assert read_entries(workspace)[-1]["detail"] == {"entries": 6, "last_hash": last["hash"]}


def test_the_command_names_the_broken_entry(workspace, database, intake_cli):
    original = five_entries(workspace, database)
    position = original.index(b"status_change")  # on line 4
    changed = original[:position] + b"S" + original[position + 1 :]
    (workspace / "audit.log").write_bytes(changed)
    result = intake_cli("audit", "verify", "--instance", workspace)
    assert result.returncode == 1
    assert result.stdout == b""
    assert result.stderr.decode().startswith("intake: audit log broken at entry #4 (line 4): ")
    assert (workspace / "audit.log").read_bytes() == changed


def test_the_command_needs_a_workspace(field_instance, intake_cli):
    result = intake_cli("audit", "verify", "--instance", field_instance.path)
    assert result.returncode == 2
    assert b"workspace" in result.stderr


def test_the_restart_command_keeps_the_broken_log(workspace, database, intake_cli):
    original = five_entries(workspace, database)
    result = intake_cli("audit", "restart", "--instance", workspace)
    assert result.returncode == 2
    assert (
        result.stderr.decode() == "intake: the audit log is intact: there is nothing to restart\n"
    )
    (workspace / "audit.log").write_bytes(original[:-1])
    result = intake_cli("audit", "restart", "--instance", workspace)
    assert result.returncode == 0, result.stderr
    assert "it broke at entry #5 (line 5): the line has no newline" in result.stdout.decode()
    [kept] = workspace.glob("audit-broken-*.log")
    assert kept.read_bytes() == original[:-1]
    assert [e["action"] for e in read_entries(workspace)] == ["audit_restarted"]
    assert intake_cli("audit", "verify", "--instance", workspace).returncode == 0
