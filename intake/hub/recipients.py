"""The hub's recipients: the coordinators' keys and the backup key devices seal to.

Each key is a file `recipients/KEYID.pub`; a backup key (kept offline, a
recipient of everything so that every record can be recovered) also has
an empty marker `recipients/KEYID.backup`. Devices get the whole list,
signed with the hub's receipt key, at enrolment and at every sync.
"""

from __future__ import annotations

from pathlib import Path

from intake import crypto, instance
from intake.recipient_list import write_recipient_list

BACKUP_MARKER = ".backup"


def _marker(inst: instance.Instance, key) -> Path:
    return inst.recipients_dir / f"{crypto.key_id(key)}{BACKUP_MARKER}"


def roles(inst: instance.Instance) -> list[tuple[object, str]]:
    """Return every recipient key with its role ("coordinator" or "backup")."""
    return [
        (key, "backup" if _marker(inst, key).exists() else "coordinator")
        for key in inst.recipient_keys()
    ]


def add(inst: instance.Instance, key, backup: bool) -> None:
    """Add a recipient key (or change its role) on this hub."""
    instance.add_recipient(inst.path, key)
    if backup:
        _marker(inst, key).touch()
    else:
        _marker(inst, key).unlink(missing_ok=True)


def remove(inst: instance.Instance, key) -> bool:
    """Remove a recipient key; False if it is not one. Devices retire it at their next sync."""
    target = inst.recipients_dir / f"{crypto.key_id(key)}.pub"
    if not target.exists():
        return False
    target.unlink()
    _marker(inst, key).unlink(missing_ok=True)
    return True


def signed_list(inst: instance.Instance) -> bytes:
    """Return the full recipient list, signed with the hub's receipt key."""
    return write_recipient_list(inst.receipt_key(), roles(inst))
