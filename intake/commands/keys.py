"""`intake keys`: coordinator key pairs."""

from __future__ import annotations

from pathlib import Path

import click

from intake import crypto
from intake.commands.common import fail, passphrase_option, read_passphrase, unused_instance_option


@click.group("keys")
def keys_group() -> None:
    """Create and inspect coordinator key pairs."""


@keys_group.command("new")
@unused_instance_option
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder to write coordinator.key and coordinator.pub (or backup.*) into.",
)
@passphrase_option
@click.option(
    "--backup",
    is_flag=True,
    help="Make the offline backup key pair instead: backup.key and backup.pub.",
)
def keys_new(out: Path, passphrase_file, backup: bool) -> None:
    """Create a coordinator key pair (or, with --backup, the offline backup key pair).

    The private key is encrypted with a passphrase. The backup key is a
    recipient of every record, so that all can be opened if every
    coordinator key is lost: keep it offline (docs/coordinator.md).
    """
    name = "backup" if backup else "coordinator"
    key_file, pub_file = out / f"{name}.key", out / f"{name}.pub"
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
    if backup:
        click.echo(
            "This is the offline backup key: it will open every record. Keep backup.key and"
            " its passphrase offline, in two separate safe places; give only backup.pub to the"
            " hub (intake hub recipients add backup.pub --backup)."
        )
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
