"""`intake users`: accounts on this instance."""

from __future__ import annotations

from pathlib import Path

import click

from intake import accounts, db
from intake.commands.common import fail, instance_option, load_instance, read_secret


@click.group("users")
def users_group() -> None:
    """Add, list, disable and unlock the people who sign in here."""


@users_group.command("add")
@instance_option
@click.argument("name")
@click.option("--role", type=click.Choice(accounts.ROLES), required=True, help="What they may do.")
@click.option(
    "--password-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="File holding the password (else $INTAKE_PASSWORD, else a prompt).",
)
def users_add(instance_dir, name, role, password_file) -> None:
    """Add a user who signs in with NAME and a password."""
    inst = load_instance(instance_dir)
    password = read_secret(password_file, "INTAKE_PASSWORD", "Password", confirm=True)
    database = db.open_database(inst.path)
    try:
        accounts.create_user(database, name, role, password)
    except accounts.AccountError as e:
        fail(str(e))
    click.echo(f"Added {name} ({role}) to {inst.path}")


@users_group.command("list")
@instance_option
def users_list(instance_dir) -> None:
    """List the users, their roles and whether they are disabled."""
    inst = load_instance(instance_dir)
    for user in db.list_users(db.open_database(inst.path)):
        state = "disabled" if user["disabled"] else "active"
        click.echo(f"{user['username']:<24} {user['role']:<12} {state}")


def _set_disabled(instance_dir, name: str, disabled: bool) -> None:
    inst = load_instance(instance_dir)
    if not db.set_user_disabled(db.open_database(inst.path), name, disabled):
        fail(f"no user named {name!r}")
    click.echo(f"{name} is now {'disabled' if disabled else 'active'}")


@users_group.command("disable")
@instance_option
@click.argument("name")
def users_disable(instance_dir, name) -> None:
    """Stop a user from signing in (their drafts stay sealed under their key)."""
    _set_disabled(instance_dir, name, True)


@users_group.command("enable")
@instance_option
@click.argument("name")
def users_enable(instance_dir, name) -> None:
    """Let a disabled user sign in again."""
    _set_disabled(instance_dir, name, False)


@users_group.command("unlock")
@instance_option
@click.argument("name")
def users_unlock(instance_dir, name) -> None:
    """Clear a user's failed sign-ins, ending a lock at once."""
    inst = load_instance(instance_dir)
    db.clear_sign_in_failures(db.open_database(inst.path), name)
    click.echo(f"Failed sign-ins of {name} cleared")
