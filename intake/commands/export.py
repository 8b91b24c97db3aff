"""`intake export`: the workspace's cases, all or filtered, as CSV, Excel or HTCDS."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from intake import crypto, db
from intake.commands.common import (
    fail,
    instance_option,
    load_instance,
    passphrase_option,
    read_passphrase,
)

FORMATS = ("csv", "xlsx", "htcds")


@click.command("export")
@instance_option
@click.option("--format", "fmt", type=click.Choice(FORMATS), required=True, help="File format.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="File to write (replaced if it exists; readable by you only).",
)
@passphrase_option
@click.option("--status", help="new, in_review, referred or closed.")
@click.option("--since", help="Sealed on or after this date (YYYY-MM-DD).")
@click.option("--until", help="Sealed on or before this date (YYYY-MM-DD).")
@click.option("--post", help="Field post: the device id (intake workspace devices).")
@click.option("--outcome", help="refer_now, consider_referral or no_indicators.")
@click.option("--language", help="The person's language code (for example ti).")
@click.option("--age", type=click.Choice(("adult", "child")), help="Adults or children only.")
@click.option("--urgent", is_flag=True, help="Only cases with an urgent flag.")
@click.option("--search", help="Text that the reference, officer or typed answers hold.")
def export_command(instance_dir, fmt, out, passphrase_file, search, urgent, **filters) -> None:
    """Write the workspace's cases (all, or those a filter keeps) to a file.

    The file holds the answers in the clear: keep it on an encrypted disk and
    delete it when done. Each export is written to the audit log.
    """
    from intake.instance import InstanceError
    from intake.workspace import exporting
    from intake.workspace.audit import AuditError, AuditLog, cli_actor
    from intake.workspace.index import Filter, FilterError
    from intake.workspace.opening import Opener
    from intake.workspace.unlocked import open_store

    inst = load_instance(instance_dir, "workspace")
    try:
        flt = Filter.parse({**filters, "urgent": "yes" if urgent else "", "q": search or ""})
    except FilterError as e:
        fail(f"filter: {e}")
    try:
        opener = Opener.from_file(inst.coordinator_key_path(), read_passphrase(passphrase_file))
    except InstanceError as e:
        fail(str(e))
    except crypto.CryptoError as e:
        fail(f"{inst.coordinator_key_path()}: {e}")
    database = db.open_database(inst.path)
    try:
        index = open_store(database, opener)
        selected = index.select(flt)
        # Logged before a byte is written: an export the log cannot take does not happen.
        try:
            AuditLog(inst.path).append(
                cli_actor(), "export", None,
                {"format": fmt, "cases": len(selected), "filter": flt.describe()},
            )  # fmt: skip
        except AuditError as e:
            fail(f"not exported: the audit log refuses the entry ({e}); see intake audit verify")
        try:
            written, skipped = _write_file(
                out, lambda f: exporting.export(database, opener, selected, fmt, f)
            )
        except OSError as e:
            fail(f"{out}: not exported: {e.strerror or e}")
    finally:
        database.close()
    click.echo(f"Wrote {written} of {len(index)} cases to {out} ({fmt})")
    click.echo("The file holds answers in the clear: keep it safe and delete it when done.")
    if skipped:
        click.echo(f"intake: {skipped} cases did not open and are not in the file", err=True)
        sys.exit(1)


def _write_file(out: Path, write):
    """Write to a private partial file, then put it in place of `out`; return what `write` does.

    Half an export is answers in the clear in a hidden file nobody knows to
    delete: on any error, also an interruption, the partial file is removed.
    """
    partial = out.with_name(f".{out.name}.partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with open(fd, "wb") as f:
            result = write(f)
        partial.replace(out)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return result
