"""`intake demo`: a demo field instance with a demo coordinator key, for `make run`."""

from __future__ import annotations

import secrets
from pathlib import Path

import click

from intake import accounts, crypto, db, instance
from intake.commands.common import fail, instance_option

DEMO_OFFICER = "officer"


def _demo_password(folder: Path) -> str:
    """Return the demo officer's password, made once at random."""
    path = folder / "officer-password.txt"
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        crypto.write_private_file(path, secrets.token_urlsafe(9).encode() + b"\n")
    return path.read_text().strip()


def _demo_keys(folder: Path) -> tuple[Path, Path, str]:
    """Create (once) a demo coordinator key pair with a random passphrase."""
    key_file, pub_file = folder / "coordinator.key", folder / "coordinator.pub"
    passphrase_file = folder / "passphrase.txt"
    if not key_file.exists():
        folder.mkdir(parents=True, exist_ok=True)
        passphrase = secrets.token_urlsafe(12)
        key = crypto.new_recipient_key()
        crypto.write_private_file(key_file, crypto.private_key_pem(key, passphrase))
        pub_file.write_bytes(crypto.public_key_pem(key.public_key()))
        crypto.write_private_file(passphrase_file, passphrase.encode() + b"\n")
    return key_file, pub_file, passphrase_file.read_text().strip()


@click.command("demo")
@instance_option
@click.option(
    "--keys",
    "keys_dir",
    default="demo",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the demo coordinator key pair (kept outside the instance).",
)
def demo_command(instance_dir, keys_dir: Path) -> None:
    """Prepare (once) a demo field instance and demo coordinator key, and say how to use them."""
    folder = instance.resolve_path(instance_dir)
    if keys_dir.resolve().is_relative_to(folder.resolve()):
        fail("the coordinator key must not live inside the field instance")
    key_file, pub_file, passphrase = _demo_keys(keys_dir)
    if not (folder / instance.CONFIG_NAME).exists():
        inst = instance.create(folder, "field", [crypto.load_recipient_public_key(pub_file)])
        database = db.open_database(inst.path)
        accounts.create_user(database, DEMO_OFFICER, "officer", _demo_password(keys_dir))
        database.close()
    click.echo(f"Demo field instance: {folder}/")
    click.echo(f"Sign in as: {DEMO_OFFICER}   password: {_demo_password(keys_dir)}")
    click.echo(f"Demo coordinator key: {key_file} (passphrase: {passphrase})")
    click.echo("  This key stands for the central referral point's; never keep a real one")
    click.echo("  on a field device.")
    click.echo("  The `intake` command is in .venv: first run `. .venv/bin/activate`")
    click.echo("  (or call .venv/bin/intake), in another terminal from this folder.")
    click.echo(
        f"  Open what the device exports: intake outbox export --instance {folder} out.batch"
    )
    passphrase_file = keys_dir / "passphrase.txt"
    click.echo(f"  then: intake open --key {key_file} --passphrase-file {passphrase_file} FILE")
