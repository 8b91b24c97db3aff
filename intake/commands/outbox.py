"""`intake outbox`: what a field device holds sealed, and carrying it by hand."""

from __future__ import annotations

import os
from pathlib import Path

import click

from intake import db
from intake.batch import write_batch
from intake.commands.common import fail, instance_option, load_instance


@click.group("outbox")
def outbox_group() -> None:
    """Inspect and export a field device's sealed records."""


@outbox_group.command("status")
@instance_option
def outbox_status(instance_dir) -> None:
    """Print how many records wait for the hub, and the last export."""
    inst = load_instance(instance_dir, "field")
    database = db.open_database(inst.path)
    summary = db.outbox_summary(database)
    click.echo(f"pending:      {summary['pending']}")
    click.echo(f"acknowledged: {summary['acknowledged']}")
    if summary["attention"]:
        click.echo(
            f"needing attention: {summary['attention']} of the pending (refused by the hub;"
            " kept, sent and exported again)"
        )
        for record in db.refused_records(database):
            click.echo(f"  {record['id']}  {record['refused_at'] or '-'}  {record['reason']}")
        if summary["attention"] > 20:
            click.echo(f"  ... and {summary['attention'] - 20} more")
    for key, label in (("last_sync", "last sync:   "), ("last_failure", "last failure:")):
        value = db.get_sync_state(database, key)
        if value:
            click.echo(f"{label} {value}")
    last = db.last_export(database)
    if last:
        click.echo(f"last export:  {last['created']} ({last['count']} records)")
    _recipients_status(inst)


def _recipients_status(inst) -> None:
    """Say when recipient keys from the hub wait for confirmation here."""
    from intake.field import recipients

    left = recipients.pending(inst)
    if left.waiting:
        click.echo(
            f"recipient keys waiting for confirmation: {len(left.waiting)}"
            " (intake recipients list; records are not sealed to them yet)"
        )
    if left.kept:
        click.echo(
            f"recipient keys the hub no longer lists, kept as the last ones: {', '.join(left.kept)}"
        )


@outbox_group.command("export")
@instance_option
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def outbox_export(instance_dir, file: Path) -> None:
    """Write every unacknowledged envelope into FILE as one batch signed by the device."""
    inst = load_instance(instance_dir, "field")
    device_key = inst.device_key()
    database = db.open_database(inst.path)
    partial = file.with_name(f".{file.name}.partial")
    # One read transaction: the count and the envelopes come from one snapshot,
    # even while the app keeps adding records.
    database.execute("BEGIN")
    try:
        count = db.count_pending(database)
        with open(partial, "wb") as out:
            header = write_batch(out, db.pending_envelopes(database), count, device_key)
            out.flush()
            os.fsync(out.fileno())
    except OSError as e:
        partial.unlink(missing_ok=True)
        fail(f"{file}: cannot write: {e.strerror}")
    finally:
        database.execute("COMMIT")
    # Renamed only when complete: a cut-off export never looks like a batch.
    os.replace(partial, file)
    with database.atomic():
        db.record_export(database, header.batch_id, header.created, count)
    click.echo(f"Wrote {count} sealed record(s) to {file} (batch {header.batch_id})")
    click.echo(
        "They stay in the outbox until the hub acknowledges them: through a sync, or"
        " the receipt of `intake hub import` (intake outbox ack RECEIPT)."
    )


@outbox_group.command("ack")
@instance_option
@click.argument("receipt_file", metavar="RECEIPT", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--hub-key",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The hub's receipt.pub, pinned here if this device enrolled before hubs signed receipts.",
)
def outbox_ack(instance_dir, receipt_file: Path, hub_key: Path | None) -> None:
    """Forget the records a hub's signed receipt (from intake hub import) says it holds."""
    from intake.field.receipts import AcknowledgeError, acknowledge_receipt
    from intake.receipt import MAX_RECEIPT_LENGTH

    inst = load_instance(instance_dir, "field")
    try:
        with open(receipt_file, "rb") as f:
            data = f.read(MAX_RECEIPT_LENGTH + 1)
    except OSError as e:
        fail(f"{receipt_file}: {e.strerror}")
    try:
        report = acknowledge_receipt(inst, data, hub_key)
    except AcknowledgeError as e:
        fail(f"{receipt_file}: {e}; nothing was changed")
    if report.pinned_now:
        click.echo(f"Pinned the hub receipt key {report.pinned_now}")
    receipt = report.receipt
    held = len(receipt.held_ids())
    click.echo(
        f"{receipt_file}: batch {receipt.batch_id}, signed by hub key {receipt.hub_key}:"
        f" the hub holds {held}, refused {len(receipt.results) - held}"
    )
    click.echo(
        f"acknowledged {report.cleared} record(s) here; {report.refused} refused by the hub"
        f" stay in the outbox; {report.pending} waiting"
    )
