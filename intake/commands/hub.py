"""`intake hub ...`: devices, recipients and hand-carried imports on the hub."""

from __future__ import annotations

import os
from pathlib import Path

import click

from intake import crypto, db
from intake.commands.common import fail, instance_option, load_instance, load_public_keys
from intake.envelope import utc_now


@click.group("hub")
def hub_group() -> None:
    """Run the central referral point's hub: devices, recipients, imports."""


@hub_group.command("enroll-code")
@instance_option
@click.option("--name", required=True, help="The device's name, e.g. 'Crossing 7'.")
def hub_enroll_code(instance_dir, name) -> None:
    """Print a one-time code (valid 24 hours) that enrols one field device."""
    from intake.hub.enrolment import CODE_HOURS, new_code

    inst = load_instance(instance_dir, "hub")
    code = new_code(db.open_database(inst.path), name)
    click.echo(f"Enrolment code for {name!r}: {code}")
    click.echo(f"It works once, within {CODE_HOURS} hours: intake enroll HUB_URL {code}")


@hub_group.command("revoke")
@instance_option
@click.argument("device")
def hub_revoke(instance_dir, device) -> None:
    """Refuse every batch from a lost or stolen device, at once."""
    inst = load_instance(instance_dir, "hub")
    if not db.revoke_device(db.open_database(inst.path), device, utc_now()):
        fail(f"no enrolled, unrevoked device {device!r} (see: intake hub devices)")
    click.echo(f"Device {device} is revoked: its batches are refused from now on")


@hub_group.command("devices")
@instance_option
def hub_devices(instance_dir) -> None:
    """List enrolled devices: name, enrolled, last seen, records received, revoked."""
    inst = load_instance(instance_dir, "hub")
    for d in db.list_devices(db.open_database(inst.path)):
        state = f"revoked {d['revoked']}" if d["revoked"] else "active"
        click.echo(
            f"{d['id']}  {d['name']:<20} enrolled {d['enrolled']}  last seen "
            f"{d['last_seen'] or '-'}  {d['records_received']} records  {state}"
        )


@hub_group.command("import")
@instance_option
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--receipt",
    "receipt_out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the signed receipt (default: FILE.receipt next to the batch).",
)
def hub_import(instance_dir, file: Path, receipt_out: Path | None) -> None:
    """Import a batch file carried by hand, with the same checks; write the hub's signed receipt.

    Carried back to the device, the receipt (intake outbox ack RECEIPT) lets
    it forget exactly the records this hub holds.
    """
    from intake.hub.receiving import BatchRefused, receive_batch

    inst = load_instance(instance_dir, "hub")
    try:
        with open(file, "rb") as stream:
            receipt = receive_batch(
                db.open_database(inst.path), stream, inst.recipient_ids(), "file"
            )
    except OSError as e:
        fail(f"{file}: {e.strerror}")
    except BatchRefused as refused:
        fail(f"{file}: {refused.reason}")
    summary = receipt.as_json()
    click.echo(
        f"{file}: {summary['stored']} stored, {summary['duplicate']} already here,"
        f" {summary['rejected']} rejected"
    )
    for result in receipt.results:
        if result["status"] == "rejected":
            click.echo(f"  {result['id']}: {result['reason']}")
    _write_receipt(inst, receipt, receipt_out or file.with_name(file.name + ".receipt"))


def _write_receipt(inst, answer, target: Path) -> None:
    """Write the signed receipt whole or not at all, and say where."""
    from intake.receipt import write_receipt

    try:
        data = write_receipt(inst.receipt_key(), answer.batch_id, answer.device, answer.results)
    except (OSError, crypto.KeyFileError) as e:
        fail(f"{inst.path / 'receipt.key'}: cannot sign the receipt: {e}", 1)
    partial = target.with_name(f".{target.name}.partial")
    try:
        with open(partial, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, target)
    except OSError as e:
        partial.unlink(missing_ok=True)
        # The batch is stored: importing it again gives the receipt ("already here").
        fail(f"{target}: cannot write the receipt: {e.strerror}; import again with --receipt", 1)
    click.echo(f"Receipt signed by this hub: {target}")
    click.echo(f"  Carry it back to the device and run: intake outbox ack {target.name}")


@hub_group.group("recipients")
def hub_recipients() -> None:
    """Change the keys devices seal to: coordinators' keys and the backup key."""


@hub_recipients.command("add")
@instance_option
@click.argument("pub", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--backup", is_flag=True, help="It is the offline backup key (intake keys new --backup)."
)
def hub_recipients_add(instance_dir, pub, backup) -> None:
    """Add a coordinator's public key (or the backup key); devices are told at their next sync."""
    from intake.hub import recipients

    inst = load_instance(instance_dir, "hub")
    [key] = load_public_keys([pub])
    recipients.add(inst, key, backup)
    role = "backup key" if backup else "recipient"
    click.echo(f"Added {role} {crypto.key_id(key)}  {crypto.fingerprint(key)}")
    click.echo(
        "Each device seals to it once its fingerprint, read out by the key's owner, is"
        " confirmed there (intake recipients trust FINGERPRINT)"
    )


@hub_recipients.command("list")
@instance_option
def hub_recipients_list(instance_dir) -> None:
    """List the keys devices are told to seal to, with their role and fingerprint."""
    from intake.hub import recipients

    inst = load_instance(instance_dir, "hub")
    for key, role in recipients.roles(inst):
        click.echo(f"{crypto.key_id(key)}  {role:<11}  {crypto.fingerprint(key)}")


@hub_recipients.command("remove")
@instance_option
@click.argument("pub", type=click.Path(dir_okay=False, path_type=Path))
def hub_recipients_remove(instance_dir, pub) -> None:
    """Remove a key: each device stops sealing to it at its next sync (sealed records stay so)."""
    from intake.hub import recipients

    inst = load_instance(instance_dir, "hub")
    [key] = load_public_keys([pub])
    if not recipients.remove(inst, key):
        fail(f"{crypto.key_id(key)} is not a recipient of this hub")
    click.echo(f"Removed recipient {crypto.key_id(key)}")
    click.echo("Each device stops sealing to it at its next sync.")


@hub_group.group("tokens")
def hub_tokens() -> None:
    """Coordinator access tokens: what a workspace pulls with (intake connect)."""


@hub_tokens.command("new")
@instance_option
@click.option("--name", required=True, help="Whose workspace it is for, e.g. 'Coordinator A'.")
def hub_tokens_new(instance_dir, name) -> None:
    """Make a token and print it once: the hub keeps only its hash."""
    from intake.hub.coordinators import new_token

    inst = load_instance(instance_dir, "hub")
    token = new_token(db.open_database(inst.path), name)
    if token is None:
        fail(f"there is already a token named {name!r} (see: intake hub tokens list)")
    click.echo(f"Token for {name!r} (shown only now; this hub keeps only its hash):")
    click.echo(token)
    click.echo("On the workspace: intake connect HUB_URL TOKEN [--fingerprint FP]")


@hub_tokens.command("list")
@instance_option
def hub_tokens_list(instance_dir) -> None:
    """List tokens: name, created, revoked (never the token)."""
    inst = load_instance(instance_dir, "hub")
    for t in db.list_tokens(db.open_database(inst.path)):
        state = f"revoked {t['revoked']}" if t["revoked"] else "active"
        click.echo(f"{t['name']:<24} created {t['created']}  {state}")


@hub_tokens.command("revoke")
@instance_option
@click.argument("name")
def hub_tokens_revoke(instance_dir, name) -> None:
    """Refuse a token from now on (a lost workstation, a coordinator who left)."""
    inst = load_instance(instance_dir, "hub")
    if not db.revoke_token(db.open_database(inst.path), name, utc_now()):
        fail(f"no unrevoked token named {name!r} (see: intake hub tokens list)")
    click.echo(f"Token {name!r} is revoked: it is refused from now on")
