"""The `intake` command as a user runs it: keys, seal, open, outbox export."""

from __future__ import annotations

import json

import pytest

from intake import crypto, envelope
from intake.batch import BatchReader
from tests.conftest import PASSPHRASE, write_key_pair

RECORD = {"ar": "هل أنت في أمان الآن؟", "ti": "ሕጂ ብሰላም ዲኻ፧", "n": 1}
RECORD_BYTES = envelope.canonical_json(RECORD)


def seal(intake_cli, pub, record=RECORD, *extra) -> bytes:
    result = intake_cli("seal", "--to", pub, *extra, input=json.dumps(record).encode())
    assert result.returncode == 0, result.stderr
    return result.stdout


def open_files(intake_cli, key, passphrase_file, *files, extra=()):
    return intake_cli("open", "--key", key, "--passphrase-file", passphrase_file, *extra, *files)


def test_keys_new_and_show(intake_cli, tmp_path, passphrase_file):
    result = intake_cli(
        "keys", "new", "--out", tmp_path / "k", "--passphrase-file", passphrase_file
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout.decode()
    assert "key id:" in out and "fingerprint:" in out
    shown_pub = intake_cli("keys", "show", tmp_path / "k" / "coordinator.pub").stdout.decode()
    shown_key = intake_cli(
        "keys", "show", tmp_path / "k" / "coordinator.key", "--passphrase-file", passphrase_file
    ).stdout.decode()
    assert shown_pub == shown_key
    assert shown_pub.splitlines()[0] in out
    mode = (tmp_path / "k" / "coordinator.key").stat().st_mode & 0o777
    assert mode == 0o600


def test_keys_new_takes_passphrase_from_environment(intake_cli, tmp_path):
    result = intake_cli(
        "keys", "new", "--out", tmp_path / "k", env={"INTAKE_PASSPHRASE": PASSPHRASE}
    )
    assert result.returncode == 0, result.stderr
    key = crypto.load_recipient_private_key(tmp_path / "k" / "coordinator.key", PASSPHRASE)
    assert crypto.key_id(key.public_key()) in result.stdout.decode()


def test_keys_new_refuses_a_short_passphrase_and_overwriting(intake_cli, tmp_path):
    short = tmp_path / "short"
    short.write_text("eleven char")
    result = intake_cli("keys", "new", "--out", tmp_path / "k", "--passphrase-file", short)
    assert result.returncode == 2
    assert b"at least 12" in result.stderr
    assert not (tmp_path / "k" / "coordinator.key").exists()
    env = {"INTAKE_PASSPHRASE": PASSPHRASE}
    assert intake_cli("keys", "new", "--out", tmp_path / "k", env=env).returncode == 0
    again = intake_cli("keys", "new", "--out", tmp_path / "k", env=env)
    assert again.returncode == 2 and b"already exists" in again.stderr


def test_seal_then_open_round_trips_byte_for_byte(intake_cli, keys, passphrase_file, tmp_path):
    key, pub, key2, pub2 = keys
    env_file = tmp_path / "r.env"
    result = intake_cli(
        "seal", "--to", pub, "--to", pub2, "--kind", "screening", input=RECORD_BYTES
    )
    assert result.returncode == 0
    env_file.write_bytes(result.stdout)
    for k in (key, key2):
        opened = open_files(intake_cli, k, passphrase_file, env_file)
        assert opened.returncode == 0, opened.stderr
        assert opened.stdout == RECORD_BYTES + b"\n"


def test_open_refuses_any_changed_byte_with_one_line_and_exit_2(
    intake_cli, keys, passphrase_file, tmp_path
):
    key, pub, _, _ = keys
    data = seal(intake_cli, pub)
    for i in range(0, len(data), 37):
        changed = bytearray(data)
        changed[i] ^= 0x04
        path = tmp_path / f"changed-{i}.env"
        path.write_bytes(bytes(changed))
        result = open_files(intake_cli, key, passphrase_file, path)
        assert result.returncode == 2, i
        assert result.stdout == b""
        lines = result.stderr.decode().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"{path}: ")


@pytest.mark.parametrize(
    "case, expected",
    [
        ("wrong_key", "not sealed to key"),
        ("truncated", "truncated"),
        ("version", "unknown envelope format version 2"),
        ("not_envelope", "not an Intake envelope"),
        ("empty", "truncated"),
        ("missing", "cannot read"),
    ],
)
def test_open_errors_name_the_file_and_reason(
    intake_cli, keys, passphrase_file, tmp_path, case, expected
):
    key, pub, _, _ = keys
    data = seal(intake_cli, pub)
    path = tmp_path / f"{case}.env"
    if case == "wrong_key":
        other_key, _ = write_key_pair(tmp_path / "other", crypto.new_recipient_key())
        path.write_bytes(data)
        key = other_key
    elif case == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif case == "version":
        path.write_bytes(data[:7] + b"\x02" + data[8:])
    elif case == "not_envelope":
        path.write_bytes(b"hello, not an envelope at all")
    elif case == "empty":
        path.write_bytes(b"")
    result = open_files(intake_cli, key, passphrase_file, path)
    assert result.returncode == 2
    line = result.stderr.decode().strip()
    assert line.startswith(f"{path}: ") and expected in line


def test_wrong_passphrase_is_one_line_exit_2(intake_cli, keys, tmp_path):
    key, pub, _, _ = keys
    path = tmp_path / "r.env"
    path.write_bytes(seal(intake_cli, pub))
    wrong = tmp_path / "wrong"
    wrong.write_text("not the passphrase at all")
    result = intake_cli("open", "--key", key, "--passphrase-file", wrong, path)
    assert result.returncode == 2
    assert (
        result.stderr.decode().strip()
        == f"intake: {key}: wrong passphrase, or the key file is damaged"
    )


def test_seal_refuses_bad_input(intake_cli, keys):
    _, pub, _, _ = keys
    for bad in (b"", b"not json", b"[1, 2]", b'{"a": NaN'):
        result = intake_cli("seal", "--to", pub, input=bad)
        assert result.returncode == 2 and result.stdout == b""
    assert intake_cli("seal", input=b"{}").returncode == 2  # no recipient at all


def test_outbox_export_and_open_batch(intake_cli, field_instance, keys, passphrase_file, tmp_path):
    key, _, key2, _ = keys
    for i in range(3):
        record = {"i": i, "ti": RECORD["ti"]}
        result = intake_cli(
            "seal",
            "--instance",
            field_instance.path,
            "--kind",
            "screening",
            input=json.dumps(record).encode(),
        )
        assert result.returncode == 0, result.stderr
    status = intake_cli("outbox", "status", "--instance", field_instance.path).stdout.decode()
    assert "pending:      3" in status
    batch = tmp_path / "out.batch"
    exported = intake_cli("outbox", "export", "--instance", field_instance.path, batch)
    assert exported.returncode == 0, exported.stderr
    for k in (key, key2):
        opened = open_files(intake_cli, k, passphrase_file, batch)
        assert opened.returncode == 0, opened.stderr
        records = sorted(json.loads(line)["i"] for line in opened.stdout.splitlines())
        assert records == [0, 1, 2]
    # Exporting is not an acknowledgement: the records stay until the hub says so.
    again = intake_cli("outbox", "export", "--instance", field_instance.path, tmp_path / "b2")
    assert b"Wrote 3 sealed record(s)" in again.stdout


def test_batch_with_bad_envelopes_opens_the_good_ones_exit_1(
    intake_cli, field_instance, keys, passphrase_file, tmp_path
):
    key, _, _, _ = keys
    for i in range(4):
        intake_cli("seal", "--instance", field_instance.path, input=json.dumps({"i": i}).encode())
    batch = tmp_path / "b.batch"
    intake_cli("outbox", "export", "--instance", field_instance.path, batch)
    data = batch.read_bytes()
    with open(batch, "rb") as stream:
        second = list(BatchReader(stream).envelopes())[1]
    # Flip a byte in the second envelope's ciphertext.
    at = data.index(second) + len(second) - 3
    batch.write_bytes(data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1 :])
    result = open_files(intake_cli, key, passphrase_file, batch)
    assert result.returncode == 1
    assert len(result.stdout.splitlines()) == 3
    errors = result.stderr.decode().splitlines()
    assert any(line.startswith(f"{batch}: record 2: ") for line in errors)
    assert any("signature does not verify" in line for line in errors)


def test_open_csv_neutralises_formulas(intake_cli, keys, passphrase_file, tmp_path):
    key, pub, _, _ = keys
    path = tmp_path / "r.env"
    path.write_bytes(seal(intake_cli, pub, {"name": '=HYPERLINK("x")', "ti": RECORD["ti"]}))
    result = open_files(intake_cli, key, passphrase_file, path, extra=("--format", "csv"))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.decode().splitlines()
    assert lines[0] == "record_id,kind,created,device,questionnaire,name,ti,extra"
    assert "'=HYPERLINK" in lines[1] and RECORD["ti"] in lines[1]


def test_open_with_header(intake_cli, keys, passphrase_file, tmp_path):
    key, pub, _, _ = keys
    path = tmp_path / "r.env"
    path.write_bytes(seal(intake_cli, pub, RECORD, "--kind", "referral"))
    result = open_files(intake_cli, key, passphrase_file, path, extra=("--with-header",))
    line = json.loads(result.stdout)
    assert line["record"] == RECORD and line["header"]["kind"] == "referral"


def test_init_refuses_field_without_recipient_and_twice(intake_cli, keys, tmp_path):
    _, pub, _, _ = keys
    assert intake_cli("init", "--instance", tmp_path / "f", "--role", "field").returncode == 2
    ok = intake_cli("init", "--instance", tmp_path / "f", "--role", "field", "--to", pub)
    assert ok.returncode == 0, ok.stderr
    again = intake_cli("init", "--instance", tmp_path / "f", "--role", "field", "--to", pub)
    assert again.returncode == 2 and b"already" in again.stderr


def test_instance_from_environment(intake_cli, keys, tmp_path):
    _, pub, _, _ = keys
    env = {"INTAKE_INSTANCE": str(tmp_path / "f")}
    assert intake_cli("init", "--role", "field", "--to", pub, env=env).returncode == 0
    sealed = intake_cli("seal", input=b"{}", env=env)
    assert b"sealed into the outbox" in sealed.stdout


def test_jobs_give_the_same_output_and_reports(
    intake_cli, field_instance, keys, passphrase_file, tmp_path
):
    key, _, _, _ = keys
    from intake import db

    database = db.open_database(field_instance.path)
    recipients = field_instance.recipient_keys()
    for i in range(700):  # several chunks of work
        db.add_to_outbox(database, envelope.seal_record({"i": i}, recipients))
    batch = tmp_path / "b.batch"
    assert intake_cli("outbox", "export", "--instance", field_instance.path, batch).returncode == 0
    data = batch.read_bytes()
    with open(batch, "rb") as stream:
        victim = list(BatchReader(stream).envelopes())[300]
    at = data.index(victim) + len(victim) - 1
    damaged = tmp_path / "damaged.batch"
    damaged.write_bytes(data[:at] + bytes([data[at] ^ 1]) + data[at + 1 :])
    truncated = tmp_path / "truncated.batch"
    truncated.write_bytes(data[: len(data) * 2 // 3])
    for path in (batch, damaged, truncated):
        results = [
            open_files(intake_cli, key, passphrase_file, path, extra=("--jobs", str(jobs)))
            for jobs in (1, 2)
        ]
        assert results[0].stdout == results[1].stdout
        assert results[0].stderr == results[1].stderr
        assert results[0].returncode == results[1].returncode
    one = open_files(intake_cli, key, passphrase_file, damaged, extra=("--jobs", "2"))
    assert one.returncode == 1 and b"record 301: does not authenticate" in one.stderr
    assert len(one.stdout.splitlines()) == 699


def test_instance_before_the_command(intake_cli, field_instance):
    result = intake_cli("--instance", field_instance.path, "outbox", "status")
    assert result.returncode == 0 and b"pending:" in result.stdout


def test_open_survives_hostile_files_and_goes_on(intake_cli, keys, passphrase_file, tmp_path):
    import struct

    key, pub, _, _ = keys
    good = tmp_path / "good.env"
    good.write_bytes(seal(intake_cli, pub))
    header = b'{"batch":"3ae99ef4-d4c7-4db4-b919-2a7fcacda624","count":Infinity}'
    hostile = tmp_path / "infinity.batch"
    hostile.write_bytes(b"INTAKEB\x01" + struct.pack(">H", len(header)) + header)
    deep = tmp_path / "deep.batch"
    deep.write_bytes(b"INTAKEB\x01" + struct.pack(">H", 4000) + b"[" * 4000)
    listed = tmp_path / "list.env"
    listed.write_bytes(seal(intake_cli, pub, {"a": ["x"]}))
    for extra in ((), ("--format", "csv"), ("--with-header",)):
        result = open_files(intake_cli, key, passphrase_file, hostile, deep, good, extra=extra)
        assert result.returncode == 2, result.stderr
        assert b"Traceback" not in result.stderr
        assert RECORD["ti"].encode() in result.stdout  # the good file after them was opened
