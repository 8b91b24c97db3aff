"""`intake translate`: keep the message catalogs of every language in step with the code."""

from __future__ import annotations

import sys

import click

from intake.commands.common import unused_instance_option
from intake.i18n import catalogs as translate


@click.group("translate")
def translate_group() -> None:
    """Extract, update, compile and check the message catalogs."""


@translate_group.command("extract")
@unused_instance_option
def translate_extract() -> None:
    """Write intake/translations/messages.pot from the code, templates and questionnaires."""
    changed = translate.write_template()
    click.echo(f"{translate.TEMPLATE}: {'updated' if changed else 'already current'}")


@translate_group.command("update")
@unused_instance_option
@click.argument("locales", nargs=-1)
def translate_update(locales) -> None:
    """Merge the template into each language's catalog (all languages by default)."""
    for locale in locales or translate.shipped_locales():
        translate.update(locale)
        click.echo(f"updated {translate.po_path(locale)}")


@translate_group.command("compile")
@unused_instance_option
@click.option("--quiet", is_flag=True, help="Print nothing when all went well.")
def translate_compile(quiet) -> None:
    """Compile every language's catalog that exists to the .mo file gettext reads."""
    for locale, target in translate.compile_all().items():
        if target is None:
            click.echo(f"{locale}: not compiled, the catalog has gaps (see intake translate check)")
        elif not quiet:
            click.echo(f"compiled {target}")


@translate_group.command("check")
@unused_instance_option
def translate_check() -> None:
    """Check every language: all translated, none fuzzy, placeholders intact, template current."""
    failed = False
    if not translate.template_is_current():
        click.echo("messages.pot is stale: run `intake translate extract`, then `update`")
        failed = True
    with open(translate.TEMPLATE, "rb") as f:
        template_ids = translate._messages(translate.read_po(f))
    total = len(template_ids)
    click.echo(
        f"{'en':<8}{100:6.1f}% translated ({total}/{total}), 0 fuzzy, placeholders intact,"
        " source language (the template)"
    )
    for locale in translate.shipped_locales():
        report = translate.check(locale, template_ids)
        click.echo(report.line())
        for problem in report.problems:
            click.echo(f"    {problem}")
        failed |= not report.ok
    click.echo("all catalogs complete" if not failed else "catalogs have gaps")
    sys.exit(1 if failed else 0)
