"""The `intake assess` command: the decision rule from the command line."""

from __future__ import annotations

import json

import click

from intake.commands.common import unused_instance_option
from intake.questionnaire.assessment import assess


@click.command("assess")
@unused_instance_option
@click.option(
    "--child", is_flag=True, help="Use the child strengths and rule (under 18, or age uncertain)."
)
@click.option(
    "--indicators",
    default="",
    metavar="DR1,EX1,...",
    help="Comma-separated indicator ids recorded (ACT for the child act).",
)
@click.option("--urgent", is_flag=True, help="An urgent-safety answer was yes.")
@click.pass_context
def assess_command(ctx: click.Context, child: bool, indicators: str, urgent: bool) -> None:
    """Print the screening assessment for recorded indicators, as JSON."""
    ids = [part.strip().upper() for part in indicators.split(",") if part.strip()]
    try:
        result = assess(ids, child=child, urgent=("unspecified",) if urgent else ())
    except ValueError as exc:
        click.echo(f"Error: {exc}", err=True)
        ctx.exit(2)
    click.echo(json.dumps(result, ensure_ascii=False, indent=2))
