"""The `intake` command: one click group, also reachable as `flask --app intake`.

Commands print one line per problem, naming the file and the reason, and
exit 2 when nothing could be done, 1 when part of the work failed.
"""

from __future__ import annotations

import os

import click

from intake.commands import (
    assess,
    audit,
    demo,
    export,
    field,
    hub,
    keys,
    outbox,
    recipients,
    records,
    serve,
    translate,
    users,
    workspace,
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


for command in (
    records.init_command,
    keys.keys_group,
    records.seal_command,
    records.open_command,
    outbox.outbox_group,
    users.users_group,
    hub.hub_group,
    field.enroll_command,
    field.sync_command,
    serve.serve_command,
    demo.demo_command,
    assess.assess_command,
    translate.translate_group,
    recipients.recipients_group,
    workspace.connect_command,
    workspace.pull_command,
    workspace.workspace_group,
    audit.audit_group,
    export.export_command,
):
    main.add_command(command)
