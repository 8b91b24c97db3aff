"""`intake recipients`: which keys a field device seals to, and confirming new ones."""

from __future__ import annotations

import click

from intake import crypto
from intake.commands.common import fail, instance_option, load_instance


@click.group("recipients")
def recipients_group() -> None:
    """See and confirm the keys this field device seals records to."""


@recipients_group.command("list")
@instance_option
def recipients_list(instance_dir) -> None:
    """List installed keys, keys waiting for confirmation, and retired keys."""
    from intake.field import recipients

    inst = load_instance(instance_dir, "field")
    shown = recipients.describe(inst)
    for entry in shown:
        since = f"  since {entry.since}" if entry.since else ""
        click.echo(f"{entry.state:<9}  {crypto.key_id(entry.key)}  {entry.role}{since}")
        click.echo(f"           {crypto.fingerprint(entry.key)}")
    waiting = [e for e in shown if e.state == "waiting"]
    if waiting:
        click.echo(
            f"{len(waiting)} key(s) wait: compare each fingerprint, group by group, with its"
            " owner, then: intake recipients trust FINGERPRINT"
        )


@recipients_group.command("trust")
@instance_option
@click.argument("fingerprint", nargs=-1, required=True)
def recipients_trust(instance_dir, fingerprint) -> None:
    """Install a waiting key once its fingerprint has been checked with its owner."""
    from intake.field import recipients

    inst = load_instance(instance_dir, "field")
    try:
        chosen, report = recipients.trust(inst, " ".join(fingerprint))
    except recipients.RecipientsError as e:
        fail(f"{e}; nothing was changed")
    click.echo(
        f"Installed {chosen.role} key {chosen.key_id}: records sealed from now on are"
        " sealed to it too"
    )
    news, warnings = report.lines()
    for line in news:
        click.echo(line)
    for line in warnings:
        click.echo(f"intake: {line}", err=True)
