"""`intake audit ...`: check the workspace's hash-chained audit log, and begin a new one."""

from __future__ import annotations

import sqlite3

import click

from intake.commands.common import fail, instance_option, load_instance


@click.group("audit")
def audit_group() -> None:
    """Check the workspace's audit log (unlocks, case views, changes, exports)."""


@audit_group.command("verify")
@instance_option
def verify_command(instance_dir) -> None:
    """Check every entry of the audit log; name the first broken one (exit 1)."""
    from intake.workspace.audit import AuditError, AuditLog, cli_actor, verify

    inst = load_instance(instance_dir, "workspace")
    try:
        verdict = verify(inst.path)
    except (OSError, sqlite3.Error) as e:
        fail(f"cannot read the audit log: {e}")
    if not verdict.ok:
        fail(f"audit log broken{_where(verdict)}: {verdict.reason}", 1)
    click.echo(f"audit log: {_entries(verdict.entries)}, chain intact{_last(verdict.last)}")
    if verdict.last:
        # A chain rewritten in full is intact again: only this hash, kept elsewhere, shows it.
        click.echo(f"  last hash {verdict.last['hash']}")
    try:
        AuditLog(inst.path).append(cli_actor(), "audit_verified", None, _summary(verdict))
    except (AuditError, OSError, sqlite3.Error) as e:
        fail(f"the chain is intact, but the check could not be logged: {e}", 1)


@audit_group.command("restart")
@instance_option
def restart_command(instance_dir) -> None:
    """Keep a broken audit log aside as evidence and begin a new chain that names it."""
    from intake.workspace.audit import AuditError, AuditLog, cli_actor

    inst = load_instance(instance_dir, "workspace")
    try:
        kept, verdict, first = AuditLog(inst.path).restart(cli_actor())
    except (AuditError, OSError, sqlite3.Error) as e:
        fail(str(e))
    click.echo(f"The broken log ({_entries(verdict.entries)} intact) is kept as {kept}")
    click.echo(f"  it broke{_where(verdict)}: {verdict.reason}")
    click.echo(f"A new chain begins with entry #{first['seq']} ({first['action']}).")


def _where(verdict) -> str:
    if verdict.broken_seq is None:
        return ""
    return f" at entry #{verdict.broken_seq} (line {verdict.line})"


def _entries(count: int) -> str:
    return f"{count} entr{'y' if count == 1 else 'ies'}"


def _last(last: dict | None) -> str:
    return f" (last: #{last['seq']} {last['time']})" if last else ""


def _summary(verdict) -> dict:
    detail = {"entries": verdict.entries}
    if verdict.last:
        detail["last_hash"] = verdict.last["hash"]
    return detail
