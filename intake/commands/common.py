"""What several command modules share: options, loading an instance, reading secrets.

No command module imports another, nor the group in `intake.commands`: they
all take their helpers from here.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from intake import crypto, instance

# Commands that need no instance (keys, open, assess, translate) still accept
# --instance, so that scripts can pass it to every command alike.
unused_instance_option = click.option(
    "--instance", hidden=True, expose_value=False, type=click.Path(file_okay=False)
)
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
