"""The `intake` command: one click group, also reachable as `flask --app intake`.

Commands print one line per problem, naming the file and the reason, and
exit 2 when nothing could be done, 1 when part of the work failed.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from intake import crypto, db, instance
from intake.cli_options import unused_instance_option
from intake.envelope import EnvelopeError, seal_record

instance_option = click.option(
    "--instance",
    "instance_dir",
    envvar="INTAKE_INSTANCE",
    type=click.Path(file_okay=False, path_type=Path),
    help="Instance folder (default: $INTAKE_INSTANCE, else ./instance).",
)


def fail(message: str, status: int = 2):
    """Print one error line and exit with the given status."""
    click.echo(f"intake: {message}", err=True)
    sys.exit(status)


def load_instance(instance_dir: Path | None, *roles: str) -> instance.Instance:
    """Load the instance folder or fail with a clear message."""
    try:
        inst = instance.load(instance_dir)
        if roles:
            inst.require_role(*roles)
    except instance.InstanceError as e:
        fail(str(e))
    return inst


def read_secret(path: Path | None, variable: str, label: str, confirm: bool = False) -> str:
    """Take a secret from a file, else an environment variable, else a hidden prompt."""
    if path is not None:
        try:
            return path.read_text("utf-8").rstrip("\r\n")
        except OSError as e:
            fail(f"{path}: cannot read {label.lower()} file: {e.strerror}")
    if os.environ.get(variable):
        return os.environ[variable]
    return click.prompt(label, hide_input=True, confirmation_prompt=confirm, err=True)


def read_passphrase(passphrase_file: Path | None, confirm: bool = False) -> str:
    """Take the passphrase from a file, else INTAKE_PASSPHRASE, else a prompt."""
    return read_secret(passphrase_file, "INTAKE_PASSPHRASE", "Passphrase", confirm)


def load_public_keys(paths) -> list:
    """Load recipient public key files or fail naming the file."""
    keys = []
    for path in paths:
        try:
            keys.append(crypto.load_recipient_public_key(path))
        except crypto.KeyFileError as e:
            fail(f"{path}: {e}")
    return keys


passphrase_option = click.option(
    "--passphrase-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="File holding the passphrase (else $INTAKE_PASSPHRASE, else a prompt).",
)
to_option = click.option(
    "--to",
    "recipients",
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="A recipient's public key file (.pub); repeat for several.",
)


def _set_instance(ctx, _param, value):
    # Given before the command (`intake --instance DIR seal`), it reaches every
    # command through the environment variable the commands read.
    if value is not None:
        os.environ["INTAKE_INSTANCE"] = str(value)
    return value


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="intake")
@click.option(
    "--instance",
    type=click.Path(file_okay=False),
    expose_value=False,
    is_eager=True,
    callback=_set_instance,
    help="Instance folder for every command (else $INTAKE_INSTANCE, else ./instance).",
)
def main() -> None:
    """Intake: screen, refer and track, with answers sealed on the spot."""


@main.command("init")
@instance_option
@click.option("--role", type=click.Choice(instance.ROLES), required=True, help="The node's role.")
@to_option
def init_command(instance_dir, role, recipients) -> None:
    """Create an instance folder for a field device, a hub or a workspace."""
    keys = load_public_keys(recipients)
    try:
        inst = instance.create(instance_dir, role, keys)
    except (instance.InstanceError, OSError) as e:
        fail(str(e))
    db.open_database(inst.path).close()
    click.echo(f"Created a {role} instance in {inst.path}")
    for key in keys:
        click.echo(f"  recipient {crypto.key_id(key)}  {crypto.fingerprint(key)}")
    if role == "field":
        click.echo(f"  device    {inst.device_id()}")


@main.group("keys")
def keys_group() -> None:
    """Create and inspect coordinator key pairs."""


@keys_group.command("new")
@unused_instance_option
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder to write coordinator.key and coordinator.pub into.",
)
@passphrase_option
def keys_new(out: Path, passphrase_file) -> None:
    """Create a coordinator key pair; the private key is encrypted with a passphrase."""
    key_file, pub_file = out / "coordinator.key", out / "coordinator.pub"
    for path in (key_file, pub_file):
        if path.exists():
            fail(f"{path}: already exists; refusing to overwrite a key")
    passphrase = read_passphrase(passphrase_file, confirm=True)
    try:
        crypto.check_passphrase(passphrase)
    except crypto.WeakPassphraseError as e:
        fail(str(e))
    key = crypto.new_recipient_key()
    out.mkdir(parents=True, exist_ok=True)
    crypto.write_private_file(key_file, crypto.private_key_pem(key, passphrase))
    pub_file.write_bytes(crypto.public_key_pem(key.public_key()))
    click.echo(f"Wrote {key_file} (keep it and its passphrase safe) and {pub_file}")
    click.echo(f"key id:      {crypto.key_id(key.public_key())}")
    click.echo(f"fingerprint: {crypto.fingerprint(key.public_key())}")


@keys_group.command("show")
@unused_instance_option
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@passphrase_option
def keys_show(file: Path, passphrase_file) -> None:
    """Print the key id and fingerprint of a public or private key file."""
    try:
        if b"PRIVATE KEY" in file.read_bytes():
            passphrase = read_passphrase(passphrase_file)
            public_key = crypto.load_recipient_private_key(file, passphrase).public_key()
        else:
            public_key = crypto.load_any_public_key(file)
    except OSError as e:
        fail(f"{file}: {e.strerror}")
    except crypto.KeyFileError as e:
        fail(f"{file}: {e}")
    click.echo(f"key id:      {crypto.key_id(public_key)}")
    click.echo(f"fingerprint: {crypto.fingerprint(public_key)}")


def _read_record() -> dict:
    raw = sys.stdin.buffer.read()
    try:
        record = json.loads(raw)
    except (UnicodeDecodeError, ValueError) as e:
        fail(f"stdin: not a JSON record: {e}")
    if not isinstance(record, dict):
        fail("stdin: a record must be a JSON object")
    return record


@main.command("seal")
@instance_option
@to_option
@click.option("--kind", default="record", show_default=True, help="The record's kind.")
def seal_command(instance_dir, recipients, kind) -> None:
    """Seal one JSON record read on stdin: to stdout, or into a field instance's outbox."""
    record = _read_record()
    inst = None
    if instance_dir or os.environ.get("INTAKE_INSTANCE"):
        inst = load_instance(instance_dir, "field")
    keys = load_public_keys(recipients) if recipients else []
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


@main.command("open")
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
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
def open_command(key, passphrase_file, output_format, with_header, jobs, files) -> None:
    """Open envelope and batch files and write their records to stdout."""
    # Imported here so that no other command loads the opening code.
    from intake.workspace.opening import Opener
    from intake.workspace.reading import CsvWriter, JsonLinesWriter, open_file

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
            status = max(status, open_file(path, opener, writer, say, jobs))
        writer.close()
    except BrokenPipeError:
        # `intake open ... | head`: stop quietly, as other Unix tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    sys.exit(status)


def register_commands() -> None:
    """Attach the commands that live in their own modules."""
    from intake.demo import demo_command
    from intake.hub_cli import enroll_command, hub_group, sync_command
    from intake.outbox_cli import outbox_group
    from intake.questionnaire.cli import assess_command
    from intake.server import serve_command
    from intake.translate_cli import translate_group
    from intake.users_cli import users_group

    commands = (outbox_group, serve_command, demo_command, assess_command, users_group)
    for command in (*commands, translate_group, hub_group, enroll_command, sync_command):
        main.add_command(command)


register_commands()
