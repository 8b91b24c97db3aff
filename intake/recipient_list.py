"""Recipient lists: the hub's signed word on which keys its devices seal to.

At every sync (and at enrolment) the hub hands each device the full list
of its coordinators' keys and its backup key, signed with the hub's
receipt key that the device pinned at enrolment. A device applies a
removal at once and an addition only once a person has confirmed the new
key's fingerprint (intake/field/recipients.py): the list can take a reader
away, never add one on its own. Layout: docs/envelope.md, "Recipient lists".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from intake import crypto, signed_text
from intake.envelope import canonical_json, strict_json, utc_now

MAGIC_LINE = b"INTAKE-RECIPIENTS 1\n"
MAGIC_PREFIX = b"INTAKE-RECIPIENTS "
MAX_LIST_LENGTH = 64 * 1024
MAX_RECIPIENTS = 64
ROLES = ("backup", "coordinator")

_ISSUED = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")
_KEY_ID = re.compile(r"[0-9a-f]{16}")
_DER_HEX = re.compile(r"(?:[0-9a-f]{2}){1,256}")
_MEMBERS = {"hub_key", "issued", "recipients"}
_ENTRY_MEMBERS = {"public_key", "role"}


class RecipientListError(Exception):
    """Base of the reasons a recipient list is refused."""


class MalformedListError(RecipientListError):
    """Not a well-formed recipient list: truncated, mangled, or not a list at all."""


class ListSignatureError(RecipientListError):
    """The list is not signed by the hub key this device pinned."""


@dataclass(frozen=True)
class Recipient:
    """One key on a hub's list: the public key and what it is for."""

    public_key: object
    role: str

    @property
    def key_id(self) -> str:
        return crypto.key_id(self.public_key)


@dataclass(frozen=True)
class SignedRecipientList:
    """A verified list: which hub key signed it, when, and its keys in key-id order."""

    hub_key: str
    issued: str
    recipients: tuple[Recipient, ...]

    def key_ids(self) -> set[str]:
        """Return the key ids on the list."""
        return {r.key_id for r in self.recipients}


def write_recipient_list(hub_key, recipients: list[tuple[object, str]]) -> bytes:
    """Return the list of (public key, role) pairs, signed with the hub's receipt key."""
    entries = sorted(
        {crypto.key_id(key): (key, role) for key, role in recipients}.items(),
        key=lambda item: item[0],
    )
    body = canonical_json(
        {
            "hub_key": crypto.key_id(hub_key.public_key()),
            "issued": utc_now(),
            "recipients": [
                {"public_key": crypto.spki_der(key).hex(), "role": role}
                for _kid, (key, role) in entries
            ],
        }
    )
    return signed_text.frame(MAGIC_LINE, body, crypto.sign_recipient_list(hub_key, body))


def _split(data: bytes) -> tuple[bytes, bytes]:
    """Cut a recipient list into its body and signature, refusing any other shape."""
    return signed_text.split(
        data,
        magic_line=MAGIC_LINE,
        magic_prefix=MAGIC_PREFIX,
        max_length=MAX_LIST_LENGTH,
        noun="recipient list",
        error=MalformedListError,
    )


def _entry(entry) -> Recipient:
    if (
        not isinstance(entry, dict)
        or set(entry) != _ENTRY_MEMBERS
        or entry["role"] not in ROLES
        or not (isinstance(entry["public_key"], str) and _DER_HEX.fullmatch(entry["public_key"]))
    ):
        raise MalformedListError("recipient list has an entry that is not valid")
    try:
        key = crypto.parse_recipient_public_key_der(bytes.fromhex(entry["public_key"]))
    except crypto.KeyFileError as e:
        raise MalformedListError(f"recipient list has a key that is refused: {e}") from None
    return Recipient(key, entry["role"])


def _parse_body(body: bytes) -> SignedRecipientList:
    try:
        fields = strict_json(body)
    except ValueError:
        raise MalformedListError("recipient list body is not valid JSON") from None
    if (
        not isinstance(fields, dict)
        or set(fields) != _MEMBERS
        or canonical_json(fields) != body
        or not (isinstance(fields["hub_key"], str) and _KEY_ID.fullmatch(fields["hub_key"]))
        or not (isinstance(fields["issued"], str) and _ISSUED.fullmatch(fields["issued"]))
        or not isinstance(fields["recipients"], list)
        or len(fields["recipients"]) > MAX_RECIPIENTS
    ):
        raise MalformedListError("recipient list body is not valid")
    recipients = tuple(_entry(e) for e in fields["recipients"])
    ids = [r.key_id for r in recipients]
    if ids != sorted(set(ids)):
        # One order, no key twice: the same keys always make the same body.
        raise MalformedListError("recipient list keys are repeated or out of key-id order")
    return SignedRecipientList(fields["hub_key"], fields["issued"], recipients)


def read_recipient_list(data: bytes, hub_public_key) -> SignedRecipientList:
    """Check a list's shape, its signature by the pinned hub key, then its body.

    The signature is checked before the body is parsed: nothing the hub did
    not sign is looked into.
    """
    body, signature = _split(data)
    try:
        crypto.verify_recipient_list(hub_public_key, signature, body)
    except crypto.AuthenticationError as e:
        raise ListSignatureError(str(e)) from None
    signed = _parse_body(body)
    if signed.hub_key != crypto.key_id(hub_public_key):
        raise MalformedListError("recipient list names another hub key than the one that signed it")
    return signed
