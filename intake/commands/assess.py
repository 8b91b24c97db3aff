"""The `intake assess` command: the decision rule from the command line."""

from __future__ import annotations

import json

import click

from intake.commands.common import unused_instance_option
from intake.questionnaire.assessment import LISTS, assess
from intake.questionnaire.catalogue import load_catalogue


@click.command("assess")
@unused_instance_option
@click.option(
    "--child", is_flag=True, help="Use the child strengths and rules (under 18, or age uncertain)."
)
@click.option(
    "--indicators",
    default="",
    metavar="DR1,ACT,...",
    help="Comma-separated ids recorded: indicators, ACT, purposes, observations, urgent needs.",
)
@click.option("--urgent", is_flag=True, help="An urgent need was recorded (which one unsaid).")
@click.option(
    "--exploitation",
    type=click.Choice(LISTS),
    default="labour",
    show_default=True,
    help="Which ILO lists give the strengths.",
)
@click.option(
    "--list",
    "list_items",
    is_flag=True,
    help="Print every item the rule reads (id, kind, dimension, strength, source) and exit.",
)
@click.pass_context
def assess_command(
    ctx: click.Context, child: bool, indicators: str, urgent: bool, exploitation: str, list_items
) -> None:
    """Print the screening assessment for recorded indicators, as JSON."""
    if list_items:
        click.echo(json.dumps(load_catalogue().items(), ensure_ascii=False, indent=2))
        return
    ids = [part.strip().upper() for part in indicators.split(",") if part.strip()]
    try:
        result = assess(
            ids,
            child=child,
            urgent=("UNSPECIFIED",) if urgent else (),
            exploitation=exploitation,
        )
    except ValueError as exc:
        click.echo(f"Error: {exc}", err=True)
        ctx.exit(2)
    click.echo(json.dumps(result, ensure_ascii=False, indent=2))
