"""Recipient lists: the hub's signed key list, read strictly, followed unevenly by the device.

Removals apply at once, additions wait for a confirmed fingerprint, the
last key is never removed, and a list that fails in any way changes
nothing. Expected bytes and messages are written by hand. The same over
real processes: tests/test_recipients_sync.py.
"""

from __future__ import annotations

import re

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from intake import crypto, db, instance
from intake.canonical import encode as canonical_json
from intake.field import recipients
from intake.field.receipts import PIN_KEY
from intake.recipient_list import (
    ListSignatureError,
    MalformedListError,
    read_recipient_list,
    write_recipient_list,
)

# SubjectPublicKeyInfo DER of any P-256 key, up to its uncompressed point (04 || X || Y):
# SEQUENCE { SEQUENCE { id-ecPublicKey, prime256v1 }, BIT STRING (66 bytes, 0 unused bits) }.
P256_SPKI_PREFIX = "3059301306072a8648ce3d020106082a8648ce3d030107034200" + "04"
ISSUED = re.compile(rb'"issued":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"')


@pytest.fixture
def hub_key():
    return crypto.new_receipt_key()


@pytest.fixture
def field(tmp_path, coordinator_key, hub_key):
    """A field device sealing to the coordinator's key, with the hub's key pinned."""
    inst = instance.create(tmp_path / "field", "field", [coordinator_key.public_key()])
    database = db.open_database(inst.path)
    db.set_sync_state(database, PIN_KEY, crypto.raw_public_key(hub_key).hex())
    database.close()
    return inst


def _installed(inst) -> set[str]:
    return {crypto.key_id(k) for k in instance.load(inst.path).recipient_keys()}


def _files(inst) -> dict[str, bytes]:
    """Every file under recipients/ with its bytes: what "nothing changed" compares."""
    root = inst.recipients_dir
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _signed(hub_key, body: bytes) -> bytes:
    """Sign a body exactly as docs/envelope.md says, without the code under test."""
    signature = hub_key.sign(b"intake-recipients-v1\x00" + body)
    return b"INTAKE-RECIPIENTS 1\n" + body + b"\n" + signature.hex().encode() + b"\n"


def _body(hub_key, entries: list[tuple[str, str]], issued="2026-11-30T12:00:00Z") -> bytes:
    return canonical_json(
        {
            "hub_key": crypto.key_id(hub_key.public_key()),
            "issued": issued,
            "recipients": [{"public_key": der, "role": role} for der, role in entries],
        }
    )


def _der(key) -> str:
    return crypto.spki_der(key.public_key()).hex()


def test_the_list_is_laid_out_byte_by_byte_as_documented(hub_key, coordinator_key, second_key):
    data = write_recipient_list(
        hub_key,
        [(second_key.public_key(), "backup"), (coordinator_key.public_key(), "coordinator")],
    )
    magic, body, signature, end = data.split(b"\n")
    assert magic == b"INTAKE-RECIPIENTS 1" and end == b""
    assert re.fullmatch(rb"[0-9a-f]{128}", signature)
    ed25519.Ed25519PublicKey.from_public_bytes(crypto.raw_public_key(hub_key)).verify(
        bytes.fromhex(signature.decode()), b"intake-recipients-v1\x00" + body
    )
    hub_id = crypto.key_id(hub_key.public_key()).encode()
    assert body.startswith(b'{"hub_key":"' + hub_id + b'","issued":"')
    assert ISSUED.search(body)
    entries = sorted(
        [(crypto.key_id(coordinator_key.public_key()), _der(coordinator_key), "coordinator"),
         (crypto.key_id(second_key.public_key()), _der(second_key), "backup")]
    )  # fmt: skip
    expected = b"".join(
        b'{"public_key":"' + der.encode() + b'","role":"' + role.encode() + b'"}'
        for _kid, der, role in entries
    )
    assert body.endswith(b'"recipients":[' + expected.replace(b'}{"', b'},{"') + b"]}")
    for _kid, der, _role in entries:
        assert der.startswith(P256_SPKI_PREFIX) and len(der) == 182
    signed = read_recipient_list(data, hub_key.public_key())
    assert [(r.key_id, r.role) for r in signed.recipients] == [(k, r) for k, _d, r in entries]


def test_every_changed_byte_is_refused(hub_key, coordinator_key):
    data = write_recipient_list(hub_key, [(coordinator_key.public_key(), "coordinator")])
    for i in range(len(data)):
        for flip in (0x01, 0x80):
            changed = bytearray(data)
            changed[i] ^= flip
            with pytest.raises((MalformedListError, ListSignatureError)):
                read_recipient_list(bytes(changed), hub_key.public_key())
    for cut in range(len(data)):
        with pytest.raises((MalformedListError, ListSignatureError)):
            read_recipient_list(data[:cut], hub_key.public_key())
    with pytest.raises(MalformedListError):
        read_recipient_list(data + b"\n", hub_key.public_key())


@pytest.mark.parametrize(
    "case",
    ["duplicate", "out_of_order", "unknown_role", "extra_member", "compressed_point", "spaced"],
)
def test_a_list_signed_by_the_hub_but_not_in_its_one_form_is_refused(
    case, hub_key, coordinator_key, second_key
):
    a, b = sorted([coordinator_key, second_key], key=lambda k: crypto.key_id(k.public_key()))
    entries = {
        "duplicate": [(_der(a), "coordinator"), (_der(a), "backup")],
        "out_of_order": [(_der(b), "coordinator"), (_der(a), "coordinator")],
        "unknown_role": [(_der(a), "reader")],
        "compressed_point": [(_compressed_der(a), "coordinator")],
    }.get(case, [(_der(a), "coordinator")])
    body = _body(hub_key, entries)
    if case == "extra_member":
        body = body[:-1] + b',"z":1}'
    if case == "spaced":
        body = body.replace(b'","issued"', b'", "issued"')
    with pytest.raises(MalformedListError):
        read_recipient_list(_signed(hub_key, body), hub_key.public_key())


def _compressed_der(key) -> str:
    from cryptography.hazmat.primitives import serialization

    point = key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint
    )
    # The same SEQUENCE with a 34-byte BIT STRING holding the 33-byte compressed point.
    return ("3039301306072a8648ce3d020106082a8648ce3d030107032200" + point.hex()).lower()


def test_removals_apply_at_once_and_additions_wait(field, hub_key, coordinator_key, second_key):
    listed = [(coordinator_key.public_key(), "coordinator"), (second_key.public_key(), "backup")]
    report = recipients.apply_list(field, write_recipient_list(hub_key, listed))
    assert report.warning is None and report.retired == []
    assert [r.key_id for r in report.waiting] == [crypto.key_id(second_key.public_key())]
    assert _installed(field) == {crypto.key_id(coordinator_key.public_key())}
    news, _ = report.lines()
    assert news == [
        "1 recipient key(s) wait for confirmation on this device: intake recipients list,"
        " then intake recipients trust FINGERPRINT"
    ]
    chosen, after = recipients.trust(field, crypto.fingerprint(second_key.public_key()))
    assert chosen.role == "backup" and after.waiting == []
    both = {crypto.key_id(coordinator_key.public_key()), crypto.key_id(second_key.public_key())}
    assert _installed(field) == both
    report = recipients.apply_list(
        field, write_recipient_list(hub_key, [(second_key.public_key(), "backup")])
    )
    gone = crypto.key_id(coordinator_key.public_key())
    assert report.retired == [gone]
    assert _installed(field) == {crypto.key_id(second_key.public_key())}
    assert (field.recipients_dir / "retired" / f"{gone}.pub").read_bytes() == (
        crypto.public_key_pem(coordinator_key.public_key())
    )
    states = {(crypto.key_id(e.key), e.state) for e in recipients.describe(field)}
    assert states == {(gone, "retired"), (crypto.key_id(second_key.public_key()), "installed")}


def test_the_last_key_is_never_removed(field, hub_key, coordinator_key, second_key):
    only = crypto.key_id(coordinator_key.public_key())
    report = recipients.apply_list(
        field, write_recipient_list(hub_key, [(second_key.public_key(), "coordinator")])
    )
    assert report.retired == [] and report.kept == [only]
    assert _installed(field) == {only}
    _, warnings = report.lines()
    assert warnings == [
        f"Kept recipient key(s) {only} that the hub no longer lists: they are the last keys"
        " this device can seal to. Confirm a new key first (intake recipients list)"
    ]
    # Once the new key is confirmed, the list is followed in full.
    _, after = recipients.trust(field, crypto.fingerprint_hex(second_key.public_key()))
    assert after.retired == [only]
    assert _installed(field) == {crypto.key_id(second_key.public_key())}
    # A list naming nobody retires nothing.
    report = recipients.apply_list(field, write_recipient_list(hub_key, []))
    assert report.kept == [crypto.key_id(second_key.public_key())]
    assert _installed(field) == {crypto.key_id(second_key.public_key())}


def _hostile(name, hub_key, coordinator_key, second_key) -> bytes:
    """A list that removes the coordinator's key and offers another: each refused whole."""
    listed = [(second_key.public_key(), "coordinator")]
    genuine = write_recipient_list(hub_key, listed)
    if name == "signed by another key":
        return write_recipient_list(crypto.new_receipt_key(), listed)
    if name == "altered bytes":
        return genuine.replace(b'"role":"coordinator"', b'"role":"backup"')
    if name == "for another hub key id":
        body = _body(hub_key, [(_der(second_key), "coordinator")])
        other = crypto.key_id(crypto.new_receipt_key().public_key()).encode()
        return _signed(
            hub_key, re.sub(rb'"hub_key":"[0-9a-f]{16}"', b'"hub_key":"' + other + b'"', body)
        )
    if name == "unsigned":
        return genuine.rsplit(b"\n", 2)[0] + b"\n"
    raise AssertionError(name)  # pragma: no cover


HOSTILE = {
    "signed by another key": "the hub's recipient list is ignored (the list is not signed by"
    " the pinned hub key); nothing changed",
    "altered bytes": "the hub's recipient list is ignored (the list is not signed by the pinned"
    " hub key); nothing changed",
    "for another hub key id": "the hub's recipient list is ignored (recipient list names another"
    " hub key than the one that signed it); nothing changed",
    "unsigned": "the hub's recipient list is ignored (recipient list is truncated or has extra"
    " lines); nothing changed",
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_a_hostile_list_is_ignored_with_one_line_and_changes_nothing(
    name, field, hub_key, coordinator_key, second_key
):
    recipients.apply_list(
        field, write_recipient_list(hub_key, [(coordinator_key.public_key(), "coordinator")])
    )
    before = (_files(field), db.get_sync_state(db.open_database(field.path), "recipient_list"))
    report = recipients.apply_list(field, _hostile(name, hub_key, coordinator_key, second_key))
    assert report.warning == HOSTILE[name]
    assert "\n" not in report.warning
    assert report.retired == [] and report.waiting == []
    after = (_files(field), db.get_sync_state(db.open_database(field.path), "recipient_list"))
    assert after == before
    assert _installed(field) == {crypto.key_id(coordinator_key.public_key())}


def test_an_older_list_is_ignored(field, hub_key, coordinator_key, second_key):
    a, b = sorted([coordinator_key, second_key], key=lambda k: crypto.key_id(k.public_key()))
    both = [(_der(a), "coordinator"), (_der(b), "coordinator")]
    newer = _signed(hub_key, _body(hub_key, both, "2026-11-30T12:00:00Z"))
    older = _signed(
        hub_key, _body(hub_key, [(_der(second_key), "coordinator")], "2026-11-30T11:59:59Z")
    )
    assert recipients.apply_list(field, newer).warning is None
    report = recipients.apply_list(field, older)
    assert report.warning == (
        "the hub's recipient list is ignored (issued 2026-11-30T11:59:59Z, before the one"
        " applied here, 2026-11-30T12:00:00Z); nothing changed"
    )
    assert _installed(field) == {crypto.key_id(coordinator_key.public_key())}


def test_a_device_with_no_hub_key_pinned_ignores_lists(
    tmp_path, hub_key, coordinator_key, second_key
):
    inst = instance.create(tmp_path / "old", "field", [coordinator_key.public_key()])
    report = recipients.apply_list(
        inst, write_recipient_list(hub_key, [(second_key.public_key(), "coordinator")])
    )
    assert report.warning == (
        "the hub's recipient list is ignored: this device has no hub key pinned (it enrolled"
        " before hubs signed their lists); enrol it again to follow the hub's list"
    )
    assert _installed(inst) == {crypto.key_id(coordinator_key.public_key())}


def test_trust_takes_only_a_whole_fingerprint_on_the_hubs_list(
    field, hub_key, coordinator_key, second_key
):
    stranger = crypto.new_recipient_key()
    recipients.apply_list(
        field,
        write_recipient_list(
            hub_key,
            [
                (coordinator_key.public_key(), "coordinator"),
                (second_key.public_key(), "coordinator"),
            ],
        ),
    )
    for given, reason in (
        (crypto.key_id(second_key.public_key()), "give the key's whole fingerprint"),
        (crypto.fingerprint(stranger.public_key()), "no key with this fingerprint"),
        (crypto.fingerprint(coordinator_key.public_key()), "is installed already"),
    ):
        with pytest.raises(recipients.RecipientsError, match=reason):
            recipients.trust(field, given)
    assert _installed(field) == {crypto.key_id(coordinator_key.public_key())}


def test_the_hub_marks_its_backup_key_in_the_list(tmp_path, coordinator_key, second_key):
    from intake.hub import recipients as hub_recipients

    hub = instance.create(tmp_path / "hub", "hub", [coordinator_key.public_key()])
    hub_recipients.add(hub, second_key.public_key(), backup=True)
    signed = read_recipient_list(hub_recipients.signed_list(hub), hub.receipt_key().public_key())
    roles = {r.key_id: r.role for r in signed.recipients}
    assert roles == {
        crypto.key_id(coordinator_key.public_key()): "coordinator",
        crypto.key_id(second_key.public_key()): "backup",
    }
    assert hub_recipients.remove(hub, second_key.public_key())
    assert not (hub.recipients_dir / f"{crypto.key_id(second_key.public_key())}.backup").exists()


def test_keys_new_backup_writes_the_offline_backup_key_pair(tmp_path):
    from click.testing import CliRunner

    from intake.commands import main

    runner = CliRunner()
    short = tmp_path / "short"
    short.write_text("eleven char")
    refused = runner.invoke(
        main,
        ["keys", "new", "--backup", "--out", str(tmp_path / "k"), "--passphrase-file", str(short)],
    )
    assert refused.exit_code == 2 and "at least 12" in refused.output
    assert not (tmp_path / "k" / "backup.key").exists()
    secret = tmp_path / "secret"
    secret.write_text("a long backup passphrase\n")
    args = [
        "keys",
        "new",
        "--backup",
        "--out",
        str(tmp_path / "k"),
        "--passphrase-file",
        str(secret),
    ]
    made = runner.invoke(main, args)
    assert made.exit_code == 0, made.output
    assert sorted(p.name for p in (tmp_path / "k").iterdir()) == ["backup.key", "backup.pub"]
    key = crypto.load_recipient_private_key(
        tmp_path / "k" / "backup.key", "a long backup passphrase"
    )
    assert (tmp_path / "k" / "backup.key").stat().st_mode & 0o777 == 0o600
    assert crypto.load_recipient_public_key(tmp_path / "k" / "backup.pub") == key.public_key()
    lines = made.output.splitlines()
    assert lines[1] == (
        "This is the offline backup key: it will open every record. Keep backup.key and its"
        " passphrase offline, in two separate safe places; give only backup.pub to the hub"
        " (intake hub recipients add backup.pub --backup)."
    )
    assert lines[2:] == [
        f"key id:      {crypto.key_id(key.public_key())}",
        f"fingerprint: {crypto.fingerprint(key.public_key())}",
    ]
    again = runner.invoke(main, args)
    assert again.exit_code == 2 and "already exists" in again.output


def test_a_key_retired_while_a_record_is_being_sealed_is_simply_not_a_recipient(
    field, coordinator_key, second_key, monkeypatch
):
    instance.add_recipient(field.path, second_key.public_key())
    load = crypto.load_recipient_public_key
    first = sorted(field.recipients_dir.glob("*.pub"))[0]

    def retired_meanwhile(path):
        if path == first:
            first.unlink()  # a sync in another process retired it after the listing
        return load(path)

    monkeypatch.setattr(crypto, "load_recipient_public_key", retired_meanwhile)
    keys = field.recipient_keys()
    assert len(keys) == 1 and crypto.key_id(keys[0]) != first.stem
