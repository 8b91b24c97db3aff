"""`intake init`, `intake seal` and `intake open`: instances and sealed records."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from intake import canonical, crypto, db, instance
from intake.commands.common import (
    fail,
    instance_option,
    load_instance,
    load_public_keys,
    passphrase_option,
    read_passphrase,
    to_option,
    unused_instance_option,
)
from intake.envelope import EnvelopeError, seal_record


@click.command("init")
@instance_option
@click.option("--role", type=click.Choice(instance.ROLES), required=True, help="The node's role.")
@to_option
@click.option(
    "--key",
    "coordinator_key",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Workspace: the coordinator's encrypted private key file, copied in (owner-only).",
)
def init_command(instance_dir, role, recipients, coordinator_key) -> None:
    """Create an instance folder for a field device, a hub or a workspace."""
    keys = load_public_keys(recipients)
    if coordinator_key is not None and role != "workspace":
        fail("--key is for a workspace (--role workspace)")
    try:
        key_data = coordinator_key and instance.read_coordinator_key_file(coordinator_key)
        inst = instance.create(instance_dir, role, keys)
        if key_data:
            instance.add_coordinator_key(inst.path, key_data)
    except (instance.InstanceError, OSError) as e:
        fail(str(e))
    db.open_database(inst.path).close()
    click.echo(f"Created a {role} instance in {inst.path}")
    for key in keys:
        click.echo(f"  recipient {crypto.key_id(key)}  {crypto.fingerprint(key)}")
    if role == "field":
        click.echo(f"  device    {inst.device_id()}")
    if role == "hub":
        receipt_key = inst.receipt_key().public_key()
        click.echo(f"  receipt key {crypto.key_id(receipt_key)}  (receipt.pub: signs receipts)")
    if coordinator_key is not None:
        click.echo(f"  coordinator key copied from {coordinator_key} (still passphrase-encrypted)")


def _read_record() -> dict:
    raw = sys.stdin.buffer.read()
    try:
        # Any spacing is fine; what has no canonical form (NaN, a lone
        # surrogate, a duplicate key, an integer a double cannot hold) is not.
        record = canonical.parse(raw)
    except canonical.CanonicalJSONError as e:
        fail(f"stdin: not a JSON record: {e}")
    if not isinstance(record, dict):
        fail("stdin: a record must be a JSON object")
    return record


def _distinct_keys(paths, keys: list) -> list:
    """Keep one of each recipient key (by key id): one key, one stanza."""
    seen: dict[str, object] = {}
    for path, key in zip(paths, keys, strict=True):
        kid = crypto.key_id(key)
        if kid in seen:
            click.echo(f"intake: note: {path} is key {kid} again; sealed to it once", err=True)
        seen.setdefault(kid, key)
    return list(seen.values())


@click.command("seal")
@instance_option
@to_option
@click.option("--kind", default="record", show_default=True, help="The record's kind.")
def seal_command(instance_dir, recipients, kind) -> None:
    """Seal one JSON record read on stdin: to stdout, or into a field instance's outbox."""
    record = _read_record()
    inst = None
    if instance_dir or os.environ.get("INTAKE_INSTANCE"):
        inst = load_instance(instance_dir, "field")
    keys = _distinct_keys(recipients, load_public_keys(recipients)) if recipients else []
    if not keys and inst is None:
        fail("give at least one --to PUB, or --instance of a field instance")
    try:
        keys = keys or inst.recipient_keys()
        device = inst.device_id() if inst else None
        sealed = seal_record(record, keys, kind=kind, device=device)
    except (EnvelopeError, crypto.CryptoError) as e:
        fail(str(e))
    if inst is None:
        sys.stdout.buffer.write(sealed.data)
        return
    database = db.open_database(inst.path)
    added = db.add_to_outbox(database, sealed)
    click.echo(
        f"{sealed.record_id} {'sealed into the outbox' if added else 'already in the outbox'}"
    )


@click.command("open")
@unused_instance_option
@click.option(
    "--key",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The coordinator's private key file.",
)
@passphrase_option
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["jsonl", "csv"]),
    default="jsonl",
    show_default=True,
    help="Output format.",
)
@click.option("--with-header", is_flag=True, help="JSON Lines: wrap each record with its header.")
@click.option(
    "--jobs",
    type=click.IntRange(1, 16),
    default=1,
    show_default=True,
    help="Worker processes for opening batches (use the machine's cores).",
)
@click.option(
    "--signers",
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Public key file(s) of the field devices trusted to sign batches (device.pub); "
    "batches signed by any other key are refused. Repeat for several.",
)
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
def open_command(key, passphrase_file, output_format, with_header, jobs, signers, files) -> None:
    """Open envelope and batch files and write their records to stdout."""
    # Imported here so that no other command loads the opening code.
    from intake.workspace.opening import Opener
    from intake.workspace.reading import CsvWriter, JsonLinesWriter, open_file

    trusted = _load_signers(signers) if signers else None
    try:
        opener = Opener.from_file(key, read_passphrase(passphrase_file))
    except crypto.KeyFileError as e:
        fail(f"{key}: {e}")
    out = sys.stdout.buffer
    writer = CsvWriter(out) if output_format == "csv" else JsonLinesWriter(out, with_header)
    status = 0
    try:
        for path in files:
            say = lambda m: click.echo(m, err=True)  # noqa: E731
            status = max(status, open_file(path, opener, writer, say, jobs, trusted))
        writer.close()
    except BrokenPipeError:
        # `intake open ... | head`: stop quietly, as other Unix tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    sys.exit(status)


def _load_signers(paths) -> set[bytes]:
    """Load the trusted device keys as raw public keys, or fail naming the file."""
    trusted = set()
    for path in paths:
        try:
            trusted.update(crypto.raw_public_bytes(k) for k in crypto.load_device_public_keys(path))
        except crypto.KeyFileError as e:
            fail(f"{path}: {e}")
    return trusted
