"""The `intake` command as a user runs it: keys, seal, open, outbox export."""

from __future__ import annotations

import json
import struct
import unicodedata

import pytest
from cryptography.hazmat.primitives import serialization

from intake import crypto, envelope
from intake.batch import BatchReader, write_batch
from tests.conftest import PASSPHRASE, write_key_pair
from tests.forging import batch_raw, compact, seal_raw, unsorted

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


def _damage(data: bytes, envelope_bytes: bytes, back: int = 3) -> bytes:
    at = data.index(envelope_bytes) + len(envelope_bytes) - back
    return data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1 :]


def test_batch_whose_signature_fails_prints_nothing(
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
    batch.write_bytes(_damage(data, second))  # a byte changed after the device signed
    for jobs in ("1", "2"):
        result = open_files(intake_cli, key, passphrase_file, batch, extra=("--jobs", jobs))
        assert result.returncode == 2
        assert result.stdout == b""
        # Batch v2: the damaged record's own signature fails first; nothing is shown.
        assert result.stderr.decode() == f"{batch}: the signature of record 2 does not verify\n"


def test_signed_batch_with_a_bad_envelope_opens_the_good_ones_exit_1(
    intake_cli, field_instance, keys, passphrase_file, tmp_path
):
    """The device itself signed a damaged envelope: that record fails, the others open."""
    key, _, _, _ = keys
    device = field_instance.device_id()
    sealed = [
        envelope.seal_record({"i": i}, field_instance.recipient_keys(), device=device).data
        for i in range(4)
    ]
    sealed[1] = _damage(sealed[1], sealed[1])
    batch = tmp_path / "b.batch"
    with open(batch, "wb") as out:
        write_batch(out, sealed, len(sealed), field_instance.device_key())
    result = open_files(intake_cli, key, passphrase_file, batch)
    assert result.returncode == 1
    assert [json.loads(line)["i"] for line in result.stdout.splitlines()] == [0, 2, 3]
    errors = result.stderr.decode().splitlines()
    assert f"{batch}: record 2: does not authenticate: changed, damaged or wrongly keyed" in errors


def test_open_csv_neutralises_formulas(intake_cli, keys, passphrase_file, tmp_path):
    """The CSV has the workspace export's columns (docs/exports.md), formulas neutralised."""
    import csv
    import io

    from intake.workspace.exports import export_columns

    key, pub, _, _ = keys
    path = tmp_path / "r.env"
    record = {"answers": {"interpreter_id": '=HYPERLINK("x")'}, "ti": RECORD["ti"]}
    path.write_bytes(seal(intake_cli, pub, record))
    result = open_files(intake_cli, key, passphrase_file, path, extra=("--format", "csv"))
    assert result.returncode == 0, result.stderr
    rows = list(csv.reader(io.StringIO(result.stdout.decode(), newline="")))
    assert rows[0] == export_columns() and len(rows) == 2
    row = dict(zip(rows[0], rows[1], strict=True))
    assert row["q_interpreter_id"] == '\'=HYPERLINK("x")'
    assert json.loads(row["extra_fields"]) == {"ti": RECORD["ti"]}


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
    recipients, device = field_instance.recipient_keys(), field_instance.device_id()
    for i in range(700):  # several chunks of work
        db.add_to_outbox(database, envelope.seal_record({"i": i}, recipients, device=device))
    batch = tmp_path / "b.batch"
    assert intake_cli("outbox", "export", "--instance", field_instance.path, batch).returncode == 0
    data = batch.read_bytes()
    with open(batch, "rb") as stream:
        sealed = list(BatchReader(stream).envelopes())
    damaged = tmp_path / "damaged.batch"  # changed after signing: nothing opens
    damaged.write_bytes(_damage(data, sealed[300], back=1))
    signed_damaged = tmp_path / "signed-damaged.batch"  # signed so: one record fails
    sealed[300] = _damage(sealed[300], sealed[300], back=1)
    with open(signed_damaged, "wb") as out:
        write_batch(out, sealed, len(sealed), field_instance.device_key())
    truncated = tmp_path / "truncated.batch"
    truncated.write_bytes(data[: len(data) * 2 // 3])
    for path in (batch, damaged, signed_damaged, truncated):
        results = [
            open_files(intake_cli, key, passphrase_file, path, extra=("--jobs", str(jobs)))
            for jobs in (1, 2)
        ]
        assert results[0].stdout == results[1].stdout
        assert results[0].stderr == results[1].stderr
        assert results[0].returncode == results[1].returncode
    one = open_files(intake_cli, key, passphrase_file, signed_damaged, extra=("--jobs", "2"))
    assert one.returncode == 1 and b"record 301: does not authenticate" in one.stderr
    assert len(one.stdout.splitlines()) == 699
    for path in (damaged, truncated):
        refused = open_files(intake_cli, key, passphrase_file, path, extra=("--jobs", "2"))
        assert refused.returncode == 2 and refused.stdout == b""


def test_instance_before_the_command(intake_cli, field_instance):
    result = intake_cli("--instance", field_instance.path, "outbox", "status")
    assert result.returncode == 0 and b"pending:" in result.stdout


def test_open_survives_hostile_files_and_goes_on(intake_cli, keys, passphrase_file, tmp_path):

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


# -- hostile input: each file is refused and nothing of it reaches stdout ----

DEVICE_KEY = crypto.new_device_key()
DEVICE_ID = crypto.key_id(DEVICE_KEY.public_key())
OTHER_DEVICE_ID = crypto.key_id(crypto.new_device_key().public_key())


def _header(public_key, **changes) -> dict:
    header = {
        "created": "2026-11-30T12:00:00Z",
        "device": DEVICE_ID,
        "id": "6f1c2c4e-8f0a-4f43-9b55-2d7f6c1c0e11",
        "kind": "screening",
        "questionnaire": "screening-full@1",
        "recipients": [crypto.key_id(public_key)],
    }
    header.update(changes)
    return header


def _batch_header(signing_key, count: int, **changes) -> dict:
    header = {
        "batch": "3ae99ef4-d4c7-4db4-b919-2a7fcacda624",
        "count": count,
        "created": "2026-11-30T12:00:00Z",
        "device": crypto.key_id(signing_key.public_key()),
        "signer": crypto.raw_public_key(signing_key).hex(),
    }
    header.update(changes)
    return header


def _good_envelope(public_key, record=b'{"a":1}') -> bytes:
    return seal_raw(public_key, compact(_header(public_key)), envelope.pad(record))


def hostile(case: str, public_key) -> bytes:
    """Build the hostile file named by `case`, sealed to `public_key`."""
    record = envelope.pad(b'{"a":1}')
    header = compact(_header(public_key))
    if case.startswith("header"):
        header = {
            "header_not_json": b"not json at all",
            "header_extra_member": compact(_header(public_key, extra=1)),
            "header_spaces": json.dumps(_header(public_key), sort_keys=True).encode(),
            "header_key_order": unsorted(_header(public_key)),
            "header_escaped_slash": header.replace(b"screening-full@1", b"screening\\/full@1"),
            "header_u_escape": header.replace(b"screening-full@1", b"r\\u00e9f@1"),
            "header_device_not_a_key_id": compact(_header(public_key, device="someone")),
            "header_upper_case_id": header.replace(b"6f1c2c4e", b"6F1C2C4E"),
        }[case]
    elif case.startswith("record") or case.startswith("padding"):
        record = {
            "record_raw_newline": envelope.pad(b'{"a":1}\n{"injected":true}'),
            "record_newline_in_string": envelope.pad(b'{"a":"x\ny"}'),
            "record_array": envelope.pad(b"[1,2]"),
            "record_string": envelope.pad(b'"text"'),
            "record_key_order": envelope.pad(b'{"b":1,"a":2}'),
            "record_spaces": envelope.pad(b'{"a": 1}'),
            "record_float_form": envelope.pad(b'{"a":1.0}'),
            "record_duplicate_key": envelope.pad(b'{"a":1,"a":2}'),
            "padding_one_block_too_long": envelope.pad(b'{"a":1}') + bytes(envelope.PAD_BLOCK),
        }[case]
    else:
        return hostile_batch(case, public_key)
    return seal_raw(public_key, header, record)


def hostile_batch(case: str, public_key) -> bytes:
    good = [_good_envelope(public_key) for _ in range(3)]
    header = _batch_header(DEVICE_KEY, 3)
    if case == "batch_extra_member":
        return batch_raw(compact({**header, "note": "x"}), good, DEVICE_KEY)
    if case == "batch_header_spaces":
        return batch_raw(json.dumps(header, sort_keys=True).encode(), good, DEVICE_KEY)
    if case == "batch_device_not_signer":
        # Posing as another device: its id in the batch and in every envelope, our key signing.
        posing = compact(_header(public_key, device=OTHER_DEVICE_ID))
        envelopes = [seal_raw(public_key, posing, envelope.pad(b'{"a":1}')) for _ in range(3)]
        return batch_raw(compact({**header, "device": OTHER_DEVICE_ID}), envelopes, DEVICE_KEY)
    if case == "batch_envelope_of_another_device":
        other = compact(_header(public_key, device=OTHER_DEVICE_ID))
        good[2] = seal_raw(public_key, other, envelope.pad(b'{"a":1}'))
        return batch_raw(compact(header), good, DEVICE_KEY)
    if case == "batch_bad_signature":
        data = batch_raw(compact(header), good, DEVICE_KEY)
        return data[:-1] + bytes([data[-1] ^ 1])
    raise AssertionError(case)


HOSTILE_CASES = [
    "header_not_json",
    "header_extra_member",
    "header_spaces",
    "header_key_order",
    "header_escaped_slash",
    "header_u_escape",
    "header_device_not_a_key_id",
    "header_upper_case_id",
    "record_raw_newline",
    "record_newline_in_string",
    "record_array",
    "record_string",
    "record_key_order",
    "record_spaces",
    "record_float_form",
    "record_duplicate_key",
    "padding_one_block_too_long",
    "batch_extra_member",
    "batch_header_spaces",
    "batch_device_not_signer",
    "batch_envelope_of_another_device",
    "batch_bad_signature",
]


@pytest.mark.parametrize("case", HOSTILE_CASES)
def test_open_refuses_hostile_files_printing_nothing_of_them(
    intake_cli, keys, passphrase_file, tmp_path, coordinator_key, case
):
    key, _, _, _ = keys
    path = tmp_path / (case + (".batch" if case.startswith("batch") else ".env"))
    path.write_bytes(hostile(case, coordinator_key.public_key()))
    for extra in ((), ("--with-header",), ("--format", "csv"), ("--jobs", "2")):
        result = open_files(intake_cli, key, passphrase_file, path, extra=extra)
        assert result.returncode != 0, (case, extra)
        assert result.stdout == b"", (case, extra)
        assert result.stderr.startswith(f"{path}: ".encode()), result.stderr
        assert b"Traceback" not in result.stderr


def test_hostile_controls_open(intake_cli, keys, passphrase_file, tmp_path, coordinator_key):
    """The helpers that build the hostile files make good ones when nothing is changed."""
    key, _, _, _ = keys
    public_key = coordinator_key.public_key()
    single = tmp_path / "good.env"
    single.write_bytes(_good_envelope(public_key))
    batch = tmp_path / "good.batch"
    good = [_good_envelope(public_key) for _ in range(3)]
    batch.write_bytes(batch_raw(compact(_batch_header(DEVICE_KEY, 3)), good, DEVICE_KEY))
    result = open_files(intake_cli, key, passphrase_file, single, batch)
    assert result.returncode == 0, result.stderr
    assert result.stdout == b'{"a":1}\n' * 4


def test_open_output_is_one_line_per_record(intake_cli, keys, passphrase_file, tmp_path):
    """Control characters in answers are escaped: no record spans two lines."""
    key, pub, _, _ = keys
    record = {"note": "line one\nline two\r\u2028\x00\x1f", "\n": "\t"}
    path = tmp_path / "r.env"
    path.write_bytes(seal(intake_cli, pub, record))
    for extra in ((), ("--with-header",)):
        result = open_files(intake_cli, key, passphrase_file, path, extra=extra)
        assert result.returncode == 0, result.stderr
        lines = result.stdout.split(b"\n")
        assert len(lines) == 2 and lines[1] == b""
        parsed = json.loads(lines[0])
        assert (parsed["record"] if extra else parsed) == record


def test_forged_batch_is_refused_with_signers_and_named_without(
    intake_cli, keys, passphrase_file, tmp_path, coordinator_key, field_instance
):
    """A throwaway key signs a well-formed batch: only a list of enrolled devices tells."""
    key, _, _, _ = keys
    throwaway = crypto.new_device_key()
    throwaway_id = crypto.key_id(throwaway.public_key())
    public_key = coordinator_key.public_key()
    forged = tmp_path / "forged.batch"
    sealed = [
        envelope.seal_record({"forged": True}, [public_key], device=throwaway_id).data
        for _ in range(2)
    ]
    with open(forged, "wb") as out:
        write_batch(out, sealed, 2, throwaway)
    enrolled = field_instance.path / "device.pub"

    warned = open_files(intake_cli, key, passphrase_file, forged)
    assert warned.returncode == 0, warned.stderr
    fingerprint = crypto.fingerprint(throwaway.public_key())
    assert warned.stderr.decode() == (
        f"{forged}: batch signed by device {throwaway_id} (fingerprint {fingerprint}), "
        "not checked against a list of enrolled devices (use --signers)\n"
    )

    refused = open_files(intake_cli, key, passphrase_file, forged, extra=("--signers", enrolled))
    assert refused.returncode == 2
    assert refused.stdout == b""
    assert f"batch signed by device {throwaway_id}" in refused.stderr.decode()
    assert "not one of the --signers: refused" in refused.stderr.decode()

    # The enrolled device's own batch opens with the same list, and says so.
    for i in range(2):
        intake_cli("seal", "--instance", field_instance.path, input=json.dumps({"i": i}).encode())
    genuine = tmp_path / "genuine.batch"
    intake_cli("outbox", "export", "--instance", field_instance.path, genuine)
    both = tmp_path / "both.pem"
    both.write_bytes(
        enrolled.read_bytes() + crypto.public_key_pem(crypto.new_device_key().public_key())
    )
    trusted = open_files(intake_cli, key, passphrase_file, genuine, extra=("--signers", both))
    assert trusted.returncode == 0, trusted.stderr
    assert len(trusted.stdout.splitlines()) == 2
    assert trusted.stderr.decode().endswith(", one of the --signers\n")

    # A loose envelope names no signer: with a list of signers it is refused.
    loose = tmp_path / "loose.env"
    loose.write_bytes(sealed[0])
    refused = open_files(intake_cli, key, passphrase_file, loose, extra=("--signers", enrolled))
    assert refused.returncode == 2 and refused.stdout == b""
    bad_list = open_files(intake_cli, key, passphrase_file, genuine, extra=("--signers", key))
    assert bad_list.returncode == 2 and b"Traceback" not in bad_list.stderr


@pytest.mark.parametrize(
    "given",
    [
        b'{"a": NaN}',
        b'{"a": Infinity}',
        b'{"a": -Infinity}',
        b'{"a": "\\ud800"}',
        b'{"a": 1, "a": 2}',
        b'{"a": 9007199254740993}',
        b'{"a": 1e400}',
        b'{"a": ' + b"[" * 40 + b"]" * 40 + b"}",
        b"\xff\xfe",
    ],
    ids=["nan", "inf", "-inf", "surrogate", "duplicate", "big_int", "overflow", "deep", "utf16"],
)
def test_seal_refuses_what_has_no_canonical_form_in_one_line(intake_cli, keys, given):
    _, pub, _, _ = keys
    result = intake_cli("seal", "--to", pub, input=given)
    assert result.returncode == 2 and result.stdout == b""
    lines = result.stderr.decode().splitlines()
    assert len(lines) == 1 and lines[0].startswith("intake: stdin: "), result.stderr


def test_seal_accepts_numbers_and_writes_them_as_jcs(intake_cli, keys, passphrase_file, tmp_path):
    key, pub, _, _ = keys
    path = tmp_path / "n.env"
    path.write_bytes(seal(intake_cli, pub, {"b": 1.5, "a": 1e21, "c": 3.0, "d": 1e-7, "e": 2**53}))
    result = open_files(intake_cli, key, passphrase_file, path)
    assert result.stdout == b'{"a":1e+21,"b":1.5,"c":3,"d":1e-7,"e":9007199254740992}\n'


def test_seal_to_the_same_key_twice_writes_one_stanza(intake_cli, keys, tmp_path):
    _, pub, _, pub2 = keys
    copy = tmp_path / "copy.pub"
    copy.write_bytes(pub.read_bytes())
    result = intake_cli("seal", "--to", pub, "--to", copy, "--to", pub2, input=b"{}")
    assert result.returncode == 0, result.stderr
    stanzas = envelope.parse_envelope(result.stdout).stanzas
    assert [s.key_id for s in stanzas] == [
        crypto.key_id(crypto.load_recipient_public_key(p)) for p in (pub, pub2)
    ]
    assert b"sealed to it once" in result.stderr


def test_passphrase_is_nfc_normalised_and_old_files_still_open(tmp_path):
    from intake import keyfile

    composed = "passphrase café crème"  # U+00E9, as one keyboard sends it
    decomposed = unicodedata.normalize("NFD", composed)  # e + U+0301, as another does
    assert composed != decomposed
    key = crypto.new_recipient_key()
    new_file = tmp_path / "new.key"
    new_file.write_bytes(crypto.private_key_pem(key, decomposed, log2_n=10))
    for typed in (composed, decomposed):
        assert crypto.load_recipient_private_key(new_file, typed).private_numbers() == (
            key.private_numbers()
        )
    # Written before normalisation, with the passphrase's bytes as typed.
    plain = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    old_file = tmp_path / "old.key"
    old_file.write_bytes(keyfile.encrypt_pkcs8(plain, decomposed.encode("utf-8"), 10))
    assert crypto.load_recipient_private_key(old_file, decomposed).private_numbers() == (
        key.private_numbers()
    )
    with pytest.raises(crypto.WrongPassphraseError):
        crypto.load_recipient_private_key(old_file, "passphrase cafe creme")
    ascii_file = tmp_path / "ascii.key"
    ascii_file.write_bytes(crypto.private_key_pem(key, PASSPHRASE, log2_n=10))
    plain_old = tmp_path / "ascii-old.key"
    plain_old.write_bytes(keyfile.encrypt_pkcs8(plain, PASSPHRASE.encode(), 10))
    assert ascii_file.read_bytes() != plain_old.read_bytes()  # fresh salts, same secret
    crypto.load_recipient_private_key(plain_old, PASSPHRASE)


def test_json_lines_writer_never_writes_a_raw_line_break():
    """Defence in depth: should a record with a line break ever get past the reader."""
    import io

    from intake.workspace.reading import JsonLinesWriter, Opened, RecordShapeError

    out = io.BytesIO()
    writer = JsonLinesWriter(out)
    writer.write(Opened(None, b'{"a":"x\\ny"}'))
    with pytest.raises(RecordShapeError):
        writer.write(Opened(None, b'{"a":1}\n{"injected":true}'))
    writer.close()
    assert out.getvalue() == b'{"a":"x\\ny"}\n'
