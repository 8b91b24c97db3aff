"""Keys and people over real processes: a hub (`intake serve`) and a field device's commands.

Several coordinators, each with a key pair made by `intake keys new`; a
backup key made by `intake keys new --backup`; a key retired on the hub.
Every record is checked with `intake open --key` and each key in turn.
Expected outputs are written by hand.
"""

from __future__ import annotations

import json
import re

import pytest

from intake import crypto, db, instance
from tests.browser import LiveServer
from tests.conftest import run_intake
from tests.hubs import enrol_field

PASSPHRASE = "a long coordinator passphrase"


def ok(*args, input: bytes | None = None) -> str:
    """Run `intake ...`; insist it succeeds; return its stdout."""
    result = run_intake(*args, input=input)
    assert result.returncode == 0, (args, result.stdout, result.stderr)
    return result.stdout.decode()


@pytest.fixture(scope="module")
def people(tmp_path_factory):
    """Coordinators A and B and the offline backup key, as `intake keys new` makes them."""
    root = tmp_path_factory.mktemp("people")
    secret = root / "passphrase"
    secret.write_text(PASSPHRASE + "\n")
    made = {"passphrase": secret}
    for name, extra in (("a", []), ("b", []), ("offline", ["--backup"])):
        ok("keys", "new", "--out", root / name, "--passphrase-file", secret, *extra)
    made["a"] = (root / "a" / "coordinator.key", root / "a" / "coordinator.pub")
    made["b"] = (root / "b" / "coordinator.key", root / "b" / "coordinator.pub")
    made["backup"] = (root / "offline" / "backup.key", root / "offline" / "backup.pub")
    return made


def _fingerprint(pub) -> str:
    """The fingerprint as its owner reads it out (intake keys show)."""
    return re.search(r"fingerprint: ([0-9a-f ]+)", ok("keys", "show", pub)).group(1)


def _key_id(pub) -> str:
    return crypto.key_id(crypto.load_recipient_public_key(pub))


@pytest.fixture
def hub(tmp_path):
    """A hub served by the real `intake serve` (started by the test, once it has its keys)."""
    server = LiveServer(tmp_path / "hub")
    yield server
    server.stop()


def _enrol(hub, field, *trusted) -> str:
    code = ok("hub", "enroll-code", "--instance", hub.instance, "--name", "Crossing 7").split()[-1]
    trust = [x for fp in trusted for x in ("--trust-recipient", fp)]
    return ok("enroll", "--instance", field, hub.url, code, *trust)


def _seal(field, n: int) -> None:
    record = json.dumps({"n": n, "t": "ሰላም"}).encode()
    ok("seal", "--instance", field, "--kind", "screening", input=record)


def _opened(people, who: str, *batches) -> tuple[list[int], str, int]:
    """Open batches with one person's key: (record numbers, stderr, exit status)."""
    key, _pub = people[who]
    result = run_intake("open", "--key", key, "--passphrase-file", people["passphrase"], *batches)
    # Sorted: records sealed in the same second are exported in the order of their ids.
    records = sorted(json.loads(line)["n"] for line in result.stdout.decode().splitlines())
    return records, result.stderr.decode(), result.returncode


def test_several_coordinators_each_open_what_is_sealed_once_both_keys_are_installed(
    tmp_path, people, hub
):
    a_pub, b_pub = people["a"][1], people["b"][1]
    field = tmp_path / "field"
    ok("init", "--instance", hub.instance, "--role", "hub", "--to", a_pub)
    ok("init", "--instance", field, "--role", "field", "--to", a_pub)
    hub.start()
    _enrol(hub, field)

    # Coordinator B joins on the hub: the device hears of the key but does not seal to it yet.
    ok("hub", "recipients", "add", b_pub, "--instance", hub.instance)
    synced = ok("sync", "--instance", field)
    assert synced.splitlines()[1:] == [
        "1 recipient key(s) wait for confirmation on this device: intake recipients list,"
        " then intake recipients trust FINGERPRINT"
    ]
    assert (
        "recipient keys waiting for confirmation: 1 (intake recipients list; records are not"
        " sealed to them yet)"
    ) in ok("outbox", "status", "--instance", field)
    listed = ok("recipients", "list", "--instance", field)
    assert f"waiting    {_key_id(b_pub)}  coordinator" in listed
    assert _fingerprint(b_pub) in listed
    _seal(field, 1)
    ok("outbox", "export", "--instance", field, tmp_path / "before.batch")
    ok("sync", "--instance", field)

    # Someone at the device compares B's fingerprint with B, then confirms it.
    trusted = ok("recipients", "trust", _fingerprint(b_pub), "--instance", field)
    assert trusted == (
        f"Installed coordinator key {_key_id(b_pub)}: records sealed from now on are sealed"
        " to it too\n"
    )
    assert "waiting" not in ok("outbox", "status", "--instance", field)
    _seal(field, 2)
    _seal(field, 3)
    ok("outbox", "export", "--instance", field, tmp_path / "after.batch")

    # Each coordinator, in their own workspace, with their own key.
    assert _opened(people, "a", tmp_path / "after.batch")[0] == [2, 3]
    assert _opened(people, "b", tmp_path / "after.batch")[0] == [2, 3]
    # Before the confirmation, the record was sealed to A alone.
    assert _opened(people, "a", tmp_path / "before.batch")[0] == [1]
    records, stderr, status = _opened(people, "b", tmp_path / "before.batch")
    assert records == [] and status != 0
    assert f"1 record(s) not sealed to key {_key_id(b_pub)}" in stderr
    # The hub took every record (each is sealed to a key it lists).
    assert "2 stored, 0 already on the hub, 0 rejected" in ok("sync", "--instance", field)


def test_a_retired_key_opens_no_record_sealed_after_its_retirement(tmp_path, people, hub):
    a_pub, b_pub, backup_pub = people["a"][1], people["b"][1], people["backup"][1]
    field = tmp_path / "field"
    ok("init", "--instance", hub.instance, "--role", "hub", "--to", a_pub, "--to", b_pub)
    ok("hub", "recipients", "add", backup_pub, "--backup", "--instance", hub.instance)
    ok("init", "--instance", field, "--role", "field", "--to", a_pub)
    hub.start()
    enrolled = _enrol(hub, field, _fingerprint(b_pub), _fingerprint(backup_pub))
    assert f"Records will also be sealed to {_key_id(backup_pub)}" in enrolled
    _seal(field, 1)
    ok("outbox", "export", "--instance", field, tmp_path / "sealed-before.batch")
    ok("sync", "--instance", field)

    ok("hub", "recipients", "remove", a_pub, "--instance", hub.instance)
    # A record sealed before the device's next sync is still sealed to A.
    _seal(field, 2)
    ok("outbox", "export", "--instance", field, tmp_path / "before-sync.batch")
    synced = ok("sync", "--instance", field)
    assert synced.splitlines()[1:] == [
        f"Retired recipient key {_key_id(a_pub)}: the hub no longer lists it, and records"
        " sealed from now on are not sealed to it"
    ]
    retired = field / "recipients" / "retired" / f"{_key_id(a_pub)}.pub"
    assert retired.read_bytes() == a_pub.read_bytes()
    listed = ok("recipients", "list", "--instance", field)
    assert re.search(rf"retired    {_key_id(a_pub)}  -  since \d{{4}}-", listed)
    assert f"installed  {_key_id(backup_pub)}  backup" in listed
    _seal(field, 3)
    _seal(field, 4)
    ok("outbox", "export", "--instance", field, tmp_path / "after.batch")

    records, stderr, status = _opened(people, "a", tmp_path / "after.batch")
    assert records == [] and status == 2
    assert f"2 record(s) not sealed to key {_key_id(a_pub)}" in stderr
    before = [tmp_path / "sealed-before.batch", tmp_path / "before-sync.batch"]
    assert _opened(people, "a", *before)[0] == [1, 2]
    everything = [*before, tmp_path / "after.batch"]
    assert _opened(people, "b", *everything)[0] == [1, 2, 3, 4]
    assert _opened(people, "backup", *everything)[0] == [1, 2, 3, 4]
    assert "2 stored, 0 already on the hub, 0 rejected" in ok("sync", "--instance", field)


def test_a_list_the_device_cannot_trust_changes_nothing(tmp_path, people, hub, coordinator_key):
    a_pub, b_pub = people["a"][1], people["b"][1]
    field = tmp_path / "field"
    ok("init", "--instance", hub.instance, "--role", "hub", "--to", a_pub, "--to", b_pub)
    ok("init", "--instance", field, "--role", "field", "--to", a_pub, "--to", b_pub)
    hub.start()
    _enrol(hub, field)
    before = sorted(p.name for p in (field / "recipients").rglob("*"))

    # The hub's list comes signed by another key (the hub's key file replaced).
    ok("hub", "recipients", "remove", a_pub, "--instance", hub.instance)
    hub.stop()
    (hub.instance / "receipt.key").unlink()
    crypto.write_private_file(
        hub.instance / "receipt.key", crypto.device_key_pem(crypto.new_receipt_key())
    )
    hub.start()
    database = db.open_database(field)
    db.set_sync_state(database, "hub_url", hub.url)  # the same hub, on a new port
    database.close()
    _seal(field, 1)
    result = run_intake("sync", "--instance", field)
    assert result.returncode == 0
    assert result.stdout.decode().startswith("sent 1: 1 stored")
    assert result.stderr.decode() == (
        "intake: the hub's recipient list is ignored (the list is not signed by the pinned"
        " hub key); nothing changed\n"
    )
    assert sorted(p.name for p in (field / "recipients").rglob("*")) == before

    # A device enrolled before hubs signed anything has no key to check a list with.
    old = instance.create(tmp_path / "old", "field", [coordinator_key.public_key()])
    enrol_field(instance.load(hub.instance), old, "Old post")
    database = db.open_database(old.path)
    db.set_sync_state(database, "hub_url", hub.url)
    database.close()
    result = run_intake("sync", "--instance", old.path)
    assert result.returncode == 0
    assert result.stderr.decode() == (
        "intake: the hub's recipient list is ignored: this device has no hub key pinned (it"
        " enrolled before hubs signed their lists); enrol it again to follow the hub's list\n"
    )


def test_the_device_keeps_its_last_key_when_the_hub_lists_only_unconfirmed_ones(
    tmp_path, people, hub
):
    a_pub, b_pub = people["a"][1], people["b"][1]
    field = tmp_path / "field"
    ok("init", "--instance", hub.instance, "--role", "hub", "--to", a_pub)
    ok("init", "--instance", field, "--role", "field", "--to", a_pub)
    hub.start()
    _enrol(hub, field)
    ok("hub", "recipients", "add", b_pub, "--instance", hub.instance)
    ok("hub", "recipients", "remove", a_pub, "--instance", hub.instance)
    result = run_intake("sync", "--instance", field)
    assert result.returncode == 0
    assert result.stderr.decode() == (
        f"intake: Kept recipient key(s) {_key_id(a_pub)} that the hub no longer lists: they"
        " are the last keys this device can seal to. Confirm a new key first (intake"
        " recipients list)\n"
    )
    assert sorted(p.name for p in (field / "recipients").glob("*.pub")) == [f"{_key_id(a_pub)}.pub"]
    status = ok("outbox", "status", "--instance", field)
    assert f"recipient keys the hub no longer lists, kept as the last ones: {_key_id(a_pub)}" in (
        status
    )
    # Confirming B follows the list in full: A is retired at once.
    trusted = ok("recipients", "trust", _fingerprint(b_pub), "--instance", field)
    assert f"Retired recipient key {_key_id(a_pub)}" in trusted
    assert sorted(p.name for p in (field / "recipients").glob("*.pub")) == [f"{_key_id(b_pub)}.pub"]


def test_recovery_with_the_backup_key_as_docs_coordinator_md_says(tmp_path, people, hub):
    """docs/coordinator.md, "Recovery with the backup key", step by step."""
    a_pub = people["a"][1]
    backup_key, backup_pub = people["backup"]
    passphrase = ("--passphrase-file", people["passphrase"])
    ok("init", "--instance", hub.instance, "--role", "hub", "--to", a_pub)
    ok("hub", "recipients", "add", backup_pub, "--backup", "--instance", hub.instance)
    hub.start()
    crossing, shelter = tmp_path / "crossing7", tmp_path / "shelter2"
    for field in (crossing, shelter):
        ok("init", "--instance", field, "--role", "field", "--to", a_pub)
    # One device confirms the backup key at enrolment, the other later.
    _enrol(hub, crossing, _fingerprint(backup_pub))
    code = ok("hub", "enroll-code", "--instance", hub.instance, "--name", "Shelter 2").split()[-1]
    waits = run_intake("enroll", "--instance", shelter, hub.url, code)
    assert waits.returncode == 1 and b"NOT installed" in waits.stderr
    _seal(shelter, 100)  # sealed before the backup key was installed there
    ok("outbox", "export", "--instance", shelter, tmp_path / "early.batch")
    ok("sync", "--instance", shelter)
    ok("recipients", "trust", _fingerprint(backup_pub), "--instance", shelter)
    for n in (1, 2, 3):
        _seal(crossing, n)
    for n in (4, 5):
        _seal(shelter, n)
    ok("outbox", "export", "--instance", crossing, tmp_path / "crossing7.batch")
    ok("outbox", "export", "--instance", shelter, tmp_path / "shelter2.batch")
    for field in (crossing, shelter):
        ok("sync", "--instance", field)

    # 1. Fetch the backup key (copied, never moved) from its offline place.
    workstation = tmp_path / "workstation"
    workstation.mkdir()
    (workstation / "backup.key").write_bytes(backup_key.read_bytes())
    # 2. Verify its fingerprint against the one the hub lists as backup.
    shown = ok("keys", "show", workstation / "backup.key", *passphrase)
    fingerprint = re.search(r"fingerprint: ([0-9a-f ]+)", shown).group(1)
    listed = ok("hub", "recipients", "list", "--instance", hub.instance)
    assert f"{_key_id(backup_pub)}  backup       {fingerprint}" in listed.splitlines()
    # 3. A workspace for the recovery, pulling from the hub.
    made = ok("hub", "tokens", "new", "--name", "recovery", "--instance", hub.instance)
    token = made.splitlines()[1]
    recovery = workstation / "recovery"
    ok("init", "--instance", recovery, "--role", "workspace", "--key", workstation / "backup.key")
    ok("connect", hub.url, token, "--instance", recovery)
    ok("pull", "--instance", recovery)
    # 4. Open everything with the backup key.
    opened = run_intake("workspace", "open", "--instance", recovery, *passphrase)
    numbers = sorted(json.loads(line)["n"] for line in opened.stdout.decode().splitlines())
    assert numbers == [1, 2, 3, 4, 5]
    assert "not sealed to key" in opened.stderr.decode()  # record 100, sealed before
    batches = [tmp_path / "crossing7.batch", tmp_path / "shelter2.batch"]
    opened = run_intake("open", "--key", workstation / "backup.key", *passphrase, *batches)
    assert opened.returncode == 0, opened.stderr
    assert sorted(json.loads(line)["n"] for line in opened.stdout.decode().splitlines()) == [
        1,
        2,
        3,
        4,
        5,
    ]
    records, stderr, status = _opened(people, "backup", tmp_path / "early.batch")
    assert records == [] and f"1 record(s) not sealed to key {_key_id(backup_pub)}" in stderr
    ok("hub", "tokens", "revoke", "recovery", "--instance", hub.instance)
