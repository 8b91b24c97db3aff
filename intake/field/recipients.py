"""The keys this device seals to, kept in step with the hub's signed list.

The device seals every finished record to the keys in `recipients/*.pub`.
At each sync the hub hands over its full list, signed with the receipt key
pinned at enrolment (intake/recipient_list.py), and the device follows it
unevenly, on purpose:

- A key the list no longer names is retired at once: records sealed from
  then on are not sealed to it (a coordinator who left, a key that may have
  leaked). Its public key moves to `recipients/retired/` for the record.
- A key the list adds is NOT installed on the hub's word: a key sealed to
  reads every later record, so it waits until someone on the device
  confirms its fingerprint with its owner (`intake recipients trust`).
- The device never ends with no key at all: a list that would retire the
  last installed key leaves it installed, and says so.

A list that fails in any way (another signer, a changed byte, another hub's
key id, older than the one applied) is ignored whole, with one line saying
why; nothing changes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from intake import crypto, db, instance
from intake.envelope import utc_now
from intake.field.receipts import PIN_KEY
from intake.http import normalise_fingerprint
from intake.recipient_list import (
    MAX_LIST_LENGTH,
    Recipient,
    RecipientListError,
    SignedRecipientList,
    read_recipient_list,
)

LIST_STATE = "recipient_list"  # the last list applied, as the hub signed it
RETIRED_STATE = "retired:"  # + key id: when the key was retired here
RETIRED_DIR = "retired"
NOT_PINNED = (
    "the hub's recipient list is ignored: this device has no hub key pinned (it enrolled"
    " before hubs signed their lists); enrol it again to follow the hub's list"
)


class RecipientsError(Exception):
    """A key could not be confirmed; nothing was changed."""


@dataclass
class ListReport:
    """What applying the hub's list changed here, and what waits."""

    retired: list[str] = field(default_factory=list)  # key ids retired now
    kept: list[str] = field(default_factory=list)  # unlisted, kept as the last keys
    waiting: list[Recipient] = field(default_factory=list)
    warning: str | None = None  # the list was ignored, and why

    def lines(self) -> tuple[list[str], list[str]]:
        """Return what to tell the person: (news, warnings)."""
        news = [
            f"Retired recipient key {kid}: the hub no longer lists it, and records sealed"
            " from now on are not sealed to it"
            for kid in self.retired
        ]
        warnings = [self.warning] if self.warning else []
        if self.kept:
            warnings.append(
                f"Kept recipient key(s) {', '.join(self.kept)} that the hub no longer lists:"
                " they are the last keys this device can seal to. Confirm a new key first"
                " (intake recipients list)"
            )
        if self.waiting:
            news.append(
                f"{len(self.waiting)} recipient key(s) wait for confirmation on this device:"
                " intake recipients list, then intake recipients trust FINGERPRINT"
            )
        return news, warnings


def _pinned(database):
    raw = db.get_sync_state(database, PIN_KEY)
    return crypto.receipt_public_key(bytes.fromhex(raw)) if raw else None


def _installed(inst: instance.Instance) -> dict[str, object]:
    """Return the installed keys by key id, with the file each is in."""
    found = {}
    for path in sorted(inst.recipients_dir.glob("*.pub")):
        try:
            found[crypto.key_id(crypto.load_recipient_public_key(path))] = path
        except crypto.KeyFileError:
            if path.exists():  # else retired meanwhile by another process
                raise
    return found


def _stored(database, pinned) -> SignedRecipientList | None:
    """Return the list applied last, checked again; None if there is none."""
    raw = db.get_sync_state(database, LIST_STATE)
    if not raw or pinned is None:
        return None
    try:
        return read_recipient_list(raw.encode("ascii"), pinned)
    except RecipientListError:
        return None  # pinned anew since (enrolled again): the next sync brings a list


def _retire(inst: instance.Instance, database, path, kid: str) -> bool:
    """Move a key to retired/; False if another process (the background sync) just did."""
    target = inst.recipients_dir / RETIRED_DIR / f"{kid}.pub"
    target.parent.mkdir(exist_ok=True)
    try:
        # One rename: a record being sealed right now sees the key or not, never half of it.
        os.replace(path, target)
    except FileNotFoundError:
        return False
    db.set_sync_state(database, RETIRED_STATE + kid, utc_now())
    return True


def _follow(inst: instance.Instance, database, signed: SignedRecipientList) -> ListReport:
    """Retire what the list no longer names (never the last key); list what waits."""
    installed = _installed(inst)
    listed = signed.key_ids()
    unlisted = [kid for kid in installed if kid not in listed]
    report = ListReport(waiting=[r for r in signed.recipients if r.key_id not in installed])
    if unlisted and len(unlisted) == len(installed):
        # Sealing to nobody would lose every record: keep them until a new key is confirmed.
        report.kept = unlisted
        return report
    report.retired = [kid for kid in unlisted if _retire(inst, database, installed[kid], kid)]
    return report


def apply_list(inst: instance.Instance, data: bytes) -> ListReport:
    """Check the hub's signed list and follow it; ignore it whole if anything is wrong."""
    inst.require_role("field")
    database = db.open_database(inst.path)
    try:
        pinned = _pinned(database)
        if pinned is None:
            return ListReport(warning=NOT_PINNED)
        try:
            signed = read_recipient_list(data[: MAX_LIST_LENGTH + 1], pinned)
        except RecipientListError as e:
            return ListReport(warning=f"the hub's recipient list is ignored ({e}); nothing changed")
        last = _stored(database, pinned)
        if last is not None and signed.issued < last.issued:
            return ListReport(
                warning=f"the hub's recipient list is ignored (issued {signed.issued}, before"
                f" the one applied here, {last.issued}); nothing changed"
            )
        db.set_sync_state(database, LIST_STATE, data.decode("ascii"))
        return _follow(inst, database, signed)
    finally:
        database.close()


def trust(inst: instance.Instance, fingerprint: str) -> tuple[Recipient, ListReport]:
    """Install the waiting key with this full fingerprint, then follow the list again."""
    inst.require_role("field")
    wanted = normalise_fingerprint(fingerprint)
    if len(wanted) != 64:
        raise RecipientsError("give the key's whole fingerprint (64 hex digits, spaces allowed)")
    database = db.open_database(inst.path)
    try:
        signed = _stored(database, _pinned(database))
        if signed is None:
            raise RecipientsError("no recipient list from the hub yet: run intake sync first")
        matches = [r for r in signed.recipients if crypto.fingerprint_hex(r.public_key) == wanted]
        if not matches:
            raise RecipientsError(
                "no key with this fingerprint is on the hub's list (intake recipients list)"
            )
        [chosen] = matches
        if chosen.key_id in _installed(inst):
            raise RecipientsError(f"key {chosen.key_id} is installed already")
        instance.add_recipient(inst.path, chosen.public_key)
        (inst.recipients_dir / RETIRED_DIR / f"{chosen.key_id}.pub").unlink(missing_ok=True)
        db.set_sync_state(database, RETIRED_STATE + chosen.key_id, "")
        return chosen, _follow(inst, database, signed)
    finally:
        database.close()


@dataclass
class KeyState:
    """One key as `intake recipients list` shows it."""

    key: object
    state: str  # "installed", "waiting" or "retired"
    role: str  # "coordinator", "backup", or "not on the hub's list"
    since: str = ""


def describe(inst: instance.Instance) -> list[KeyState]:
    """Return installed, waiting and retired keys, with their role on the hub's list."""
    inst.require_role("field")
    database = db.open_database(inst.path)
    try:
        signed = _stored(database, _pinned(database))
        roles = {r.key_id: r.role for r in signed.recipients} if signed else {}
        installed = _installed(inst)
        shown = [
            KeyState(
                crypto.load_recipient_public_key(path),
                "installed",
                roles.get(kid, "not on the hub's list"),
            )
            for kid, path in installed.items()
        ]
        if signed is not None:
            shown += [
                KeyState(r.public_key, "waiting", r.role)
                for r in signed.recipients
                if r.key_id not in installed
            ]
        for path in sorted((inst.recipients_dir / RETIRED_DIR).glob("*.pub")):
            key = crypto.load_recipient_public_key(path)
            kid = crypto.key_id(key)
            if kid not in installed:
                since = db.get_sync_state(database, RETIRED_STATE + kid) or ""
                shown.append(KeyState(key, "retired", roles.get(kid, "-"), since))
        return shown
    finally:
        database.close()


def pending(inst: instance.Instance) -> ListReport:
    """Return what the last list left to do here: keys waiting, keys kept as the last."""
    database = db.open_database(inst.path)
    try:
        signed = _stored(database, _pinned(database))
    finally:
        database.close()
    if signed is None:
        return ListReport()
    installed = _installed(inst)
    listed = signed.key_ids()
    return ListReport(
        kept=[kid for kid in installed if kid not in listed],
        waiting=[r for r in signed.recipients if r.key_id not in installed],
    )
