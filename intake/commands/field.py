"""`intake enroll` and `intake sync`: a field device and its hub."""

from __future__ import annotations

import sys

import click

from intake import crypto
from intake.commands.common import fail, instance_option, load_instance
from intake.field import recipients, sync


@click.command("enroll")
@instance_option
@click.argument("hub_url")
@click.argument("code")
@click.option("--fingerprint", help="The hub's TLS certificate fingerprint (https only).")
@click.option(
    "--trust-recipient",
    "trusted",
    multiple=True,
    help="Fingerprint of a coordinator key the hub may offer, checked with its owner.",
)
def enroll_command(instance_dir, hub_url, code, fingerprint, trusted) -> None:
    """Enrol this field device with a hub, using a one-time code from its administrator.

    The hub also offers its coordinators' keys. Each is installed only if its
    fingerprint was given with --trust-recipient, or confirmed at the prompt
    after comparing it with the coordinator: a wrong key would read every
    record sealed from then on.
    """
    inst = load_instance(instance_dir, "field")
    try:
        answer = sync.enrol(inst, hub_url, code, fingerprint)
    except sync.SyncError as e:
        fail(str(e))
    click.echo(f"Enrolled as {answer['name']!r} (device {answer['device']}) with {hub_url}")
    if answer["receipt_key_id"]:
        click.echo(f"Pinned the hub's receipt key {answer['receipt_key_id']}")
    else:
        click.echo("This hub signs no receipts: hand-carried batches cannot be acknowledged")
    wanted = {sync.normalise_fingerprint(f) for f in trusted}

    def confirm(key) -> bool:
        shown = crypto.fingerprint(key)
        if crypto.fingerprint_hex(key) in wanted:
            return True
        if not sys.stdin.isatty():
            return False
        click.echo(f"The hub offers the coordinator key {crypto.key_id(key)}:\n  {shown}")
        return click.confirm("Does this match, group by group, what the coordinator read out?")

    installed, refused = sync.accept_recipients(inst, answer["offered"], confirm)
    for key in installed:
        click.echo(
            f"Records will also be sealed to {crypto.key_id(key)}  {crypto.fingerprint(key)}"
        )
    for key in refused:
        click.echo(
            f"NOT installed: {crypto.key_id(key)}  {crypto.fingerprint(key)}\n"
            "  Check it with the coordinator, then:"
            f" intake recipients trust {crypto.fingerprint_hex(key)}",
            err=True,
        )
    signed_list = answer.get("recipient_list")
    if isinstance(signed_list, str):
        _tell(recipients.apply_list(inst, signed_list.encode("utf-8")))
    if refused:
        raise SystemExit(1)


def _tell(report) -> None:
    """Print what the hub's recipient list changed here, and what waits."""
    if report is None:
        return
    news, warnings = report.lines()
    for line in news:
        click.echo(line)
    for line in warnings:
        click.echo(f"intake: {line}", err=True)


@click.command("sync")
@instance_option
@click.option("--retries", default=5, show_default=True, type=int, help="Retries per batch.")
def sync_command(instance_dir, retries) -> None:
    """Send every sealed record waiting in the outbox to the hub."""
    inst = load_instance(instance_dir, "field")
    try:
        report = sync.sync(inst, retries=retries)
    except sync.SyncError as e:
        fail(str(e))
    click.echo(
        f"sent {report.sent}: {report.stored} stored, {report.duplicate} already on the hub,"
        f" {report.rejected} rejected; {report.pending} waiting"
    )
    _tell(report.recipients)
    if report.attention:
        click.echo(
            f"{report.attention} refused by the hub stay in the outbox and are sent again:"
            " see intake outbox status",
            err=True,
        )
    if report.rejected:
        raise SystemExit(1)
