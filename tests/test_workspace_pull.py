"""Field, hub and workspace as three real processes on 127.0.0.1: origin checked by the workspace.

Screenings sealed on a field device and synced to the hub are pulled,
listed and opened on a workspace; a second pull adds nothing. Records the
hub injects (signed by no enrolled device, or by a revoked one after its
revocation) are reported and never become cases, and a hub that changes a
known device's key is refused loudly. Expected outputs are written by hand.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import pty
import subprocess
import sys

import pytest

from intake import crypto, db, envelope, instance
from intake.batch import record_signature
from intake.hub.coordinators import new_token
from tests.browser import LiveServer
from tests.conftest import run_intake, write_key_pair
from tests.hubs import enrol_field, sealed_records


@pytest.fixture
def nodes(tmp_path, coordinator_key):
    key_file, pub_file = write_key_pair(tmp_path / "keys", coordinator_key)
    hub = instance.create(tmp_path / "hub", "hub", [coordinator_key.public_key()])
    server = LiveServer(hub.path)
    server.start()
    field = instance.create(tmp_path / "field", "field", [coordinator_key.public_key()])
    yield hub, server, field, key_file
    server.stop()


def _ok(result):
    assert result.returncode == 0, result.stderr.decode() + result.stdout.decode()
    return result.stdout.decode()


def _enrol(hub, server, field, name):
    code = _ok(run_intake("hub", "enroll-code", "--instance", hub.path, "--name", name)).split()[-1]
    _ok(run_intake("enroll", "--instance", field.path, server.url, code))


def _seal_on_field(field, answers: list[dict]) -> list[str]:
    ids = []
    for record in answers:
        out = _ok(
            run_intake(
                "seal", "--instance", field.path, "--kind", "screening",
                input=json.dumps(record).encode(),
            )
        )  # fmt: skip
        ids.append(out.split()[0])
    return ids


def _inject(hub, sealed, signature: bytes) -> None:
    """Store an envelope in the hub's database directly, as a hub taken over could."""
    header = envelope.parse_envelope(sealed.data).header
    database = db.open_database(hub.path)
    with database.atomic():
        database.execute(
            "INSERT INTO envelopes (device, id, kind, created, batch_id, received, envelope,"
            " signature) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [header["device"], header["id"], header["kind"], header["created"],
             "00000000-0000-4000-8000-000000000000", envelope.utc_now(), sealed.data, signature],
        )  # fmt: skip
    database.close()


def _workspace(tmp_path, key_file, hub, server):
    ws = tmp_path / "workspace"
    _ok(run_intake("init", "--instance", ws, "--role", "workspace", "--key", key_file))
    out = _ok(run_intake("hub", "tokens", "new", "--instance", hub.path, "--name", "Coordinator A"))
    token = out.splitlines()[1]
    _ok(run_intake("connect", "--instance", ws, server.url, token))
    return ws, token


def _pull_at_a_terminal(ws) -> str:
    """Run `intake pull` with a pseudo-terminal as its stdout and stderr; return what it showed."""
    controller, terminal = pty.openpty()
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTAKE_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "intake", "pull", "--instance", str(ws)],
        stdout=terminal, stderr=terminal, env=env,
    )  # fmt: skip
    os.close(terminal)
    shown = b""
    with contextlib.suppress(OSError):  # EIO once the process has closed the terminal
        while chunk := os.read(controller, 4096):
            shown += chunk
    os.close(controller)
    assert process.wait(timeout=60) == 0, shown
    return shown.decode()


def _lines_of(result) -> list[str]:
    return result.stdout.decode().splitlines()


def test_screenings_go_from_field_to_workspace_and_only_device_signed_ones_are_cases(
    tmp_path, nodes, coordinator_key, passphrase_file
):
    hub, server, field, key_file = nodes
    _enrol(hub, server, field, "Crossing 7")
    ids = _seal_on_field(field, [{"answer": "ሰላም", "i": 1}, {"answer": "two", "i": 2}])
    assert "sent 2: 2 stored" in _ok(run_intake("sync", "--instance", field.path))
    ws, _token = _workspace(tmp_path, key_file, hub, server)
    assert (ws / "coordinator.key").stat().st_mode & 0o077 == 0

    first = run_intake("pull", "--instance", ws)
    out = _ok(first)
    fingerprint = crypto.fingerprint(field.device_key().public_key())
    assert f"New device pinned: 'Crossing 7' ({field.device_id()}), enrolled " in out
    assert f"  fingerprint {fingerprint}" in out
    assert out.splitlines()[-1] == (
        "pulled 2 new (2 verified, 0 unverifiable, 0 refused); 0 already here"
    )
    assert "\r" not in first.stderr.decode()  # no terminal: no progress line

    cases = _lines_of(run_intake("workspace", "cases", "--instance", ws))
    assert sorted(line.split()[2] for line in cases[:-1]) == sorted(ids)
    assert all(line.startswith("Crossing 7") for line in cases[:-1])
    opened = _ok(
        run_intake("workspace", "open", "--instance", ws, "--passphrase-file", passphrase_file)
    )
    records = [json.loads(line) for line in opened.splitlines()]
    assert sorted(r["answer"] for r in records) == ["two", "ሰላም"]

    second = _ok(run_intake("pull", "--instance", ws))
    assert second.splitlines()[-1] == (
        "pulled 0 new (0 verified, 0 unverifiable, 0 refused); 0 already here"
    )
    # From the start again: everything is already here.
    database = db.open_database(ws)
    db.set_pull_state(database, "cursor", "0")
    database.close()
    again = _ok(run_intake("pull", "--instance", ws))
    assert again.splitlines()[-1] == (
        "pulled 0 new (0 verified, 0 unverifiable, 0 refused); 2 already here"
    )

    # (1) Sealed to the coordinator, in the enrolled device's name, signed by another key.
    throwaway = crypto.new_device_key()
    forged = envelope.seal_record(
        {"answer": "forged"}, [coordinator_key.public_key()], kind="screening",
        device=field.device_id(),
    )  # fmt: skip
    _inject(hub, forged, record_signature(throwaway, forged.data))
    # (1b) In the name of a device that was never enrolled, signed by its own key.
    stranger = envelope.seal_record(
        {"answer": "stranger"}, [coordinator_key.public_key()], kind="screening",
        device=crypto.key_id(throwaway.public_key()),
    )  # fmt: skip
    _inject(hub, stranger, record_signature(throwaway, stranger.data))
    # (2) Signed by an enrolled device after its revocation (its key was stolen).
    lost = instance.create(tmp_path / "lost", "field", [coordinator_key.public_key()])
    _enrol(hub, server, lost, "Lost tablet")
    _ok(run_intake("hub", "revoke", "--instance", hub.path, lost.device_id()))
    late = envelope.seal_record(
        {"answer": "after revocation"}, [coordinator_key.public_key()], kind="screening",
        device=lost.device_id(),
    )  # fmt: skip
    _inject(hub, late, record_signature(lost.device_key(), late.data))

    injected = run_intake("pull", "--instance", ws)
    assert injected.returncode == 1
    out, err = injected.stdout.decode(), injected.stderr.decode()
    assert f"New device pinned: 'Lost tablet' ({lost.device_id()})" in out
    assert out.splitlines()[-1] == (
        "pulled 3 new (0 verified, 0 unverifiable, 3 refused); 0 already here"
    )
    assert (
        f"refused {field.device_id()} {forged.record_id}: the record signature does not verify"
        " with the device's pinned key" in err
    )
    assert (
        f"refused {crypto.key_id(throwaway.public_key())} {stranger.record_id}:"
        " no device this workspace pinned has this id" in err
    )
    assert (
        f"refused {lost.device_id()} {late.record_id}: sealed after its device was revoked" in err
    )
    cases = _lines_of(run_intake("workspace", "cases", "--instance", ws))
    assert sorted(line.split()[2] for line in cases[:-1]) == sorted(ids)
    assert cases[-1] == "2 cases; 3 records held that are not cases (origin)"
    opened = _ok(
        run_intake("workspace", "open", "--instance", ws, "--passphrase-file", passphrase_file)
    )
    assert sorted(json.loads(line)["answer"] for line in opened.splitlines()) == ["two", "ሰላም"]


def test_a_hub_that_changes_a_known_device_key_is_refused_loudly(tmp_path, nodes, coordinator_key):
    hub, server, field, key_file = nodes
    _enrol(hub, server, field, "Crossing 7")
    _seal_on_field(field, [{"i": 1}])
    _ok(run_intake("sync", "--instance", field.path))
    ws, _token = _workspace(tmp_path, key_file, hub, server)
    _ok(run_intake("pull", "--instance", ws))

    # The hub now claims another key for the same device, and records signed by it.
    impostor = crypto.new_device_key()
    database = db.open_database(hub.path)
    with database.atomic():
        database.execute(
            "UPDATE devices SET public_key = ? WHERE id = ?",
            [crypto.raw_public_key(impostor).hex(), field.device_id()],
        )
    database.close()
    forged = envelope.seal_record(
        {"i": "forged"}, [coordinator_key.public_key()], kind="screening", device=field.device_id()
    )
    _inject(hub, forged, record_signature(impostor, forged.data))

    result = run_intake("pull", "--instance", ws)
    assert result.returncode == 1
    err = result.stderr.decode()
    assert (
        f"intake: REFUSED: the hub now gives device 'Crossing 7' ({field.device_id()}) another key"
        in err
    )
    assert (
        f"refused {field.device_id()} {forged.record_id}: the hub changed this device's key" in err
    )
    devices = _ok(run_intake("workspace", "devices", "--instance", ws))
    assert f"{field.device_id()}  Crossing 7" in devices and "key-changed" in devices
    # The pinned key is the device's own, not the one the hub offered.
    database = db.open_database(ws)
    pinned = db.pinned_devices(database)[field.device_id()]["public_key"]
    database.close()
    assert pinned == crypto.raw_public_key(field.device_key()).hex()
    assert len(_lines_of(run_intake("workspace", "cases", "--instance", ws))) == 2  # 1 case


def test_tokens_are_kept_as_hashes_and_a_revoked_token_is_refused(tmp_path, nodes):
    hub, server, _field, key_file = nodes
    ws, token = _workspace(tmp_path, key_file, hub, server)
    assert token.startswith("intake-token-") and len(token) > 40
    listing = _ok(run_intake("hub", "tokens", "list", "--instance", hub.path))
    assert listing.startswith("Coordinator A") and "active" in listing and token not in listing
    # Only the hash is kept: the token is in no file of the hub (database, WAL, config).
    stored = b"".join(p.read_bytes() for p in hub.path.rglob("*") if p.is_file())
    assert token.encode() not in stored
    assert hashlib.sha256(token.encode()).hexdigest().encode() in stored

    # At a terminal, a progress line is redrawn in place; its summary follows.
    shown = _pull_at_a_terminal(ws)
    assert "\r  0 envelopes so far..." in shown
    assert "pulled 0 new (0 verified, 0 unverifiable, 0 refused); 0 already here" in shown

    _ok(run_intake("hub", "tokens", "revoke", "--instance", hub.path, "Coordinator A"))
    result = run_intake("pull", "--instance", ws)
    assert result.returncode == 2
    assert "the hub refused the token (revoked, or not this hub's)" in result.stderr.decode()
    wrong = run_intake("connect", "--instance", ws, server.url, "intake-token-guessed")
    assert wrong.returncode == 2


def test_connect_and_pull_over_tls_trust_exactly_the_pinned_certificate(tmp_path, coordinator_key):
    import re

    key_file, _pub = write_key_pair(tmp_path / "keys", coordinator_key)
    hub = instance.create(tmp_path / "hub", "hub", [coordinator_key.public_key()])
    server = LiveServer(hub.path)
    server.start(20, "--tls")
    try:
        fingerprint = re.search(r"--fingerprint ([0-9a-f]{64})", "".join(server.output)).group(1)
        ws = tmp_path / "workspace"
        _ok(run_intake("init", "--instance", ws, "--role", "workspace", "--key", key_file))
        out = _ok(run_intake("hub", "tokens", "new", "--instance", hub.path, "--name", "A"))
        token = out.splitlines()[1]
        unpinned = run_intake("connect", "--instance", ws, server.url, token)
        assert unpinned.returncode == 2
        assert "an https:// hub needs --fingerprint" in unpinned.stderr.decode()
        refused = run_intake(
            "connect", "--instance", ws, server.url, token, "--fingerprint", "ab" * 32
        )
        assert refused.returncode == 2
        assert f"the hub's certificate fingerprint is {fingerprint}" in refused.stderr.decode()
        grouped = " ".join(fingerprint[i : i + 4] for i in range(0, 64, 4))
        _ok(run_intake("connect", "--instance", ws, server.url, token, "--fingerprint", grouped))
        pulled = _ok(run_intake("pull", "--instance", ws))
        assert pulled.splitlines()[-1] == (
            "pulled 0 new (0 verified, 0 unverifiable, 0 refused); 0 already here"
        )
        plain = run_intake("connect", "--instance", ws, "http://192.0.2.1:8443/", token)
        assert "must be reached over https://" in plain.stderr.decode()
    finally:
        server.stop()


def _records_on_hub(hub, field, coordinator_key, n: int) -> tuple[list[str], str]:
    """Store n screenings signed by the field device on the hub, as a sync would; add a token."""
    device = field.device_id()
    records = sealed_records([coordinator_key.public_key()], n, device)
    rows = [
        (r.record_id, r.kind, r.created, r.data, record_signature(field.device_key(), r.data))
        for r in records
    ]
    batch = {
        "batch_id": "00000000-0000-4000-8000-000000000001", "device": device,
        "received": envelope.utc_now(), "count": n, "rejected": 0, "source": "http",
    }  # fmt: skip
    database = db.open_database(hub.path)
    db.store_batch(database, batch, rows)
    token = new_token(database, "Coordinator A")
    database.close()
    return [r.record_id for r in records], token


def _held(ws) -> tuple[str | None, list[str]]:
    """Return the workspace's stored cursor and its cases' ids, sorted."""
    database = db.open_database(ws.path)
    try:
        return db.get_pull_state(database, "cursor"), sorted(c["id"] for c in db.cases(database))
    finally:
        database.close()


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_pull_cut_at_any_page_resumes_after_the_last_page_stored(
    tmp_path, nodes, coordinator_key, monkeypatch, jobs
):
    from intake.workspace import pulling

    hub, server, field, _key_file = nodes
    enrol_field(hub, field)
    ids, token = _records_on_hub(hub, field, coordinator_key, 3)  # seq 1, 2, 3: three pages
    real_get = pulling._get
    for cut_at in (1, 2, 3):
        for how in ("cut", "truncated"):
            ws = instance.create(tmp_path / f"ws-{cut_at}-{how}", "workspace", [])
            pulling.connect(ws, server.url, token, None)
            asked = []

            def failing_get(url, path, token, pin, cut_at=cut_at, how=how, asked=asked):
                content_type, body = real_get(url, path, token, pin)
                if path.startswith("/api/v1/envelopes"):
                    asked.append(path)
                    if len(asked) == cut_at and how == "cut":
                        raise pulling.PullError("the connection was cut")
                    if len(asked) == cut_at:
                        body = body[:-1]  # its header reads well; its last entry does not
                return content_type, body

            monkeypatch.setattr(pulling, "_get", failing_get)
            with pytest.raises(pulling.PullError, match="connection was cut|truncated"):
                pulling.pull(ws, limit=1, jobs=jobs)
            # Every page before the cut is stored with its cursor; none after it.
            assert _held(ws) == (str(cut_at - 1), sorted(ids[: cut_at - 1]))
            monkeypatch.setattr(pulling, "_get", real_get)
            report = pulling.pull(ws, limit=1, jobs=jobs)
            new = 3 - (cut_at - 1)
            assert (report.new, report.verified, report.already) == (new, new, 0)
            assert _held(ws) == ("3", sorted(ids))
            again = pulling.pull(ws, limit=1, jobs=jobs)
            assert (again.new, again.already) == (0, 0)


@pytest.mark.parametrize(("records", "pages"), [(4, ["0", "2"]), (5, ["0", "2", "4"])])
def test_pages_end_where_the_hub_says_and_nothing_is_asked_after_the_last(
    tmp_path, nodes, coordinator_key, monkeypatch, records, pages
):
    from intake.workspace import pulling

    hub, server, field, _key_file = nodes
    enrol_field(hub, field)
    ids, token = _records_on_hub(hub, field, coordinator_key, records)
    ws = instance.create(tmp_path / "ws", "workspace", [])
    pulling.connect(ws, server.url, token, None)
    real_get, asked = pulling._get, []

    def counting_get(url, path, token, pin):
        asked.append(path)
        return real_get(url, path, token, pin)

    monkeypatch.setattr(pulling, "_get", counting_get)
    report = pulling.pull(ws, limit=2, jobs=2)
    assert (report.new, report.verified) == (records, records)
    assert [p for p in asked if "envelopes" in p] == [
        f"/api/v1/envelopes?after={after}&limit=2" for after in pages
    ]
    assert _held(ws) == (str(records), sorted(ids))
