"""`intake connect`, `intake pull` and `intake workspace ...`: the coordinator's store."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from intake import crypto, db, instance
from intake.commands.common import (
    fail,
    instance_option,
    load_instance,
    passphrase_option,
    read_passphrase,
)


@click.command("connect")
@instance_option
@click.argument("hub_url")
@click.argument("token")
@click.option(
    "--fingerprint",
    help="SHA-256 fingerprint of the hub's TLS certificate (needed for https://).",
)
def connect_command(instance_dir, hub_url, token, fingerprint) -> None:
    """Connect this workspace to a hub with a coordinator token (intake hub tokens new)."""
    from intake.workspace.pulling import PullError, connect

    inst = load_instance(instance_dir, "workspace")
    try:
        devices = connect(inst, hub_url, token, fingerprint)
    except PullError as e:
        fail(str(e))
    click.echo(f"Connected to {hub_url}: it lists {len(devices)} devices")
    click.echo("Next: intake pull (each new device is shown to you and pinned)")


def _progress(report) -> None:
    # Only a person at a terminal sees a line redrawn; a log gets the summary.
    click.echo(f"\r  {report.new + report.already} envelopes so far...", err=True, nl=False)


@click.command("pull")
@instance_option
@click.option(
    "--jobs",
    type=click.IntRange(1, 16),
    default=min(4, os.cpu_count() or 1),
    show_default="the machine's cores, up to 4",
    help="Worker processes that check record signatures.",
)
def pull_command(instance_dir, jobs) -> None:
    """Fetch every envelope not yet here from the hub, checking each record's device signature."""
    from intake.workspace.pulling import PullError, pull

    inst = load_instance(instance_dir, "workspace")
    interactive = sys.stderr.isatty() or sys.stdout.isatty()
    try:
        report = pull(inst, _progress if interactive else lambda _r: None, jobs=jobs)
    except PullError as e:
        if interactive:
            click.echo("", err=True)
        fail(str(e))
    if interactive:
        click.echo("", err=True)
    _audit_pull(inst, report)
    status = _show_pinning(report.pinning)
    for row in report.refusals:
        click.echo(f"intake: refused {row['device']} {row['id']}: {row['reason']}", err=True)
    click.echo(report.summary())
    sys.exit(1 if status or report.refused else 0)


def _audit(inst, action: str, subject: str | None = None, detail: dict | None = None) -> None:
    from intake.workspace.audit import AuditLog, cli_actor

    AuditLog(inst.path).append(cli_actor(), action, subject, detail)


def _audit_pull(inst, report) -> None:
    """Log a pull, each device pinned and each key change refused (never a record's content)."""
    for d in report.pinning.new:
        _audit(inst, "device_pinned", d["device"], {"fingerprint": d["fingerprint"]})
    for d in report.pinning.key_changed:
        _audit(inst, "device_key_changed", d["device"])
    _audit(inst, "pull", None, {"new": report.new, "refused": report.refused})


def _show_pinning(pinning) -> int:
    """Show every device pinned for the first time, and refuse changed keys loudly."""
    for d in pinning.new:
        click.echo(f"New device pinned: {d['name']!r} ({d['device']}), enrolled {d['enrolled']}")
        click.echo(f"  fingerprint {d['fingerprint']}")
        click.echo("  Check it with the hub's administrator if you did not expect it.")
    for d in pinning.revoked:
        click.echo(f"Device {d['name']!r} ({d['device']}) was revoked on {d['revoked']}")
    for d in pinning.key_changed:
        click.echo(
            f"intake: REFUSED: the hub now gives device {d['name']!r} ({d['device']}) another key"
            f" ({d['offered'][:16]}...) than the one pinned here. Its records are not verified"
            " and never become cases. Ask the hub's administrator why (docs/coordinator.md).",
            err=True,
        )
    return 1 if pinning.key_changed else 0


@click.group("workspace")
def workspace_group() -> None:
    """The workspace's store: hand-carried batches, pinned devices, cases, opening."""


@workspace_group.command("import")
@instance_option
@click.option(
    "--signers",
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Public key file(s) of devices not pinned by a pull (device.pub). Repeat for several.",
)
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
def workspace_import(instance_dir, signers, files) -> None:
    """Take batch files carried by hand into the store, verified with the device's key."""
    from intake.workspace.importing import BatchImportError, import_batch, raw_signers

    inst = load_instance(instance_dir, "workspace")
    trusted = raw_signers(_device_keys(signers)) if signers else None
    database = db.open_database(inst.path)
    status = 0
    for path in files:
        try:
            new, total = import_batch(database, path, trusted)
        except BatchImportError as e:
            click.echo(f"intake: {path}: refused: {e}", err=True)
            status = 1
            continue
        refused = [r for r in new if r["origin"] == "refused"]
        for row in refused:
            click.echo(f"intake: {path}: refused {row['id']}: {row['reason']}", err=True)
        click.echo(
            f"{path}: {len(new)} new ({len(refused)} refused); {total - len(new)} already here"
        )
        _audit(inst, "import", None, {"new": len(new), "refused": len(refused)})
        status = max(status, 1 if refused else 0)
    sys.exit(status)


def _device_keys(paths) -> list:
    keys = []
    for path in paths:
        try:
            keys.extend(crypto.load_device_public_keys(path))
        except crypto.KeyFileError as e:
            fail(f"{path}: {e}")
    return keys


@workspace_group.command("key")
@instance_option
@click.argument("key_file", type=click.Path(dir_okay=False, path_type=Path))
def workspace_key(instance_dir, key_file) -> None:
    """Keep the coordinator's encrypted private key in a workspace made without --key."""
    from intake.instance import InstanceError, read_coordinator_key_file

    inst = load_instance(instance_dir, "workspace")
    if (inst.path / instance.COORDINATOR_KEY_NAME).exists():
        # Replacing it would strand the case store, sealed to the key it holds.
        fail(f"{inst.path} holds a coordinator key already; a workspace keeps one key for life")
    try:
        instance.add_coordinator_key(inst.path, read_coordinator_key_file(key_file))
    except (InstanceError, OSError) as e:
        fail(str(e))
    click.echo(f"Coordinator key copied from {key_file} (still passphrase-encrypted)")


@workspace_group.command("rebuild")
@instance_option
@passphrase_option
def workspace_rebuild(instance_dir, passphrase_file) -> None:
    """Open every verified record again into a new case store, keeping the statuses.

    For a store that refuses to unlock because it was cut or changed on disk:
    the sealed, signed envelopes are the record; the store is their index.
    """
    from intake.instance import InstanceError
    from intake.workspace import casestore
    from intake.workspace.opening import Opener
    from intake.workspace.unlocked import text_questions

    inst = load_instance(instance_dir, "workspace")
    try:
        opener = Opener.from_file(inst.coordinator_key_path(), read_passphrase(passphrase_file))
    except (InstanceError, crypto.KeyFileError) as e:
        fail(str(e))
    _audit(inst, "store_rebuilt")
    database = db.open_database(inst.path)
    try:
        report = casestore.rebuild(database, opener, text_questions())
    finally:
        database.close()
    click.echo(
        f"Rebuilt the case store: {report.opened} cases opened,"
        f" {report.not_for_key} not sealed to this key, {report.unopenable} that do not open"
    )


@workspace_group.command("devices")
@instance_option
@click.option(
    "--export",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the pinned devices' public keys (PEM) to this file, for intake open --signers.",
)
def workspace_devices(instance_dir, export) -> None:
    """List the devices pinned here: name, id, enrolled, fingerprint, state."""
    inst = load_instance(instance_dir, "workspace")
    devices = db.pinned_devices(db.open_database(inst.path)).values()
    for d in devices:
        state = d["state"] + (f", revoked {d['revoked']}" if d["revoked"] else "")
        click.echo(f"{d['device']}  {d['name']:<20} enrolled {d['enrolled']}  {state}")
        click.echo(f"  fingerprint {d['fingerprint']}")
    if export is not None:
        # Only keys still pinned: a device whose key the hub changed is trusted for nothing.
        pems = [
            crypto.public_key_pem(crypto.device_public_key(bytes.fromhex(d["public_key"])))
            for d in devices
            if d["state"] == "pinned"
        ]
        export.write_bytes(b"".join(pems))
        click.echo(f"Wrote {len(pems)} device keys to {export} (intake open --signers {export})")


@workspace_group.command("cases")
@instance_option
def workspace_cases(instance_dir) -> None:
    """List the verified records (from their envelope headers; nothing is opened)."""
    inst = load_instance(instance_dir, "workspace")
    database = db.open_database(inst.path)
    rows = db.cases(database)
    for r in rows:
        click.echo(f"{r['name'] or r['device']:<20} {r['id']}  {r['created']}  {r['kind']}")
    others = db.not_cases(database)
    click.echo(f"{len(rows)} cases; {len(others)} records held that are not cases (origin)")


@workspace_group.command("open")
@instance_option
@passphrase_option
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["jsonl", "csv"]),
    default="jsonl",
    show_default=True,
    help="Output format.",
)
def workspace_open(instance_dir, passphrase_file, output_format) -> None:
    """Open every verified record of the store with this workspace's key, to stdout."""
    from intake.instance import InstanceError
    from intake.workspace.audit import AuditError
    from intake.workspace.opening import Opener

    inst = load_instance(instance_dir, "workspace")
    try:
        key_path = inst.coordinator_key_path()
        opener = Opener.from_file(key_path, read_passphrase(passphrase_file))
    except (InstanceError, crypto.KeyFileError) as e:
        fail(str(e))
    database = db.open_database(inst.path)
    try:
        # Records written out in the clear: logged like an export, before a
        # byte is out. An export the audit log cannot take does not happen.
        detail = {"format": output_format, "cases": len(db.cases(database)), "filter": "all"}
        try:
            _audit(inst, "export", None, detail)
        except AuditError as e:
            fail(f"nothing opened: the audit log refuses the entry ({e}); see intake audit verify")
        problems = _write_opened(database, opener, output_format)
    finally:
        database.close()
    sys.exit(1 if problems else 0)


def _write_opened(database, opener, output_format: str) -> int:
    """Write every verified record of the store, opened, to stdout; return how many did not open."""
    from intake.workspace.reading import CsvWriter, JsonLinesWriter, RecordShapeError, open_envelope

    out = sys.stdout.buffer
    writer = CsvWriter(out) if output_format == "csv" else JsonLinesWriter(out)
    problems = 0
    try:
        for data in db.verified_envelopes(database):
            status, value = open_envelope(data, opener, writer.needs_header)
            try:
                if status != "ok":
                    raise RecordShapeError(value)
                writer.write(value)
            except RecordShapeError as e:
                click.echo(f"intake: a record does not open: {e}", err=True)
                problems += 1
        writer.close()
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return problems
