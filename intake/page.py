"""Pages from the hub: envelopes handed to a workspace, as the hub stored them.

The hub cannot vouch for a record (a hub taken over could write anything),
so a page carries each envelope with its device's record signature, and the
workspace checks it with the device key it pinned itself. The hub's only
word is the cursor, which says where the next page starts. Layout:
docs/envelope.md, "Pages from the hub". Read strictly: whatever a page
holds beyond its layout is refused, not skipped.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass

from intake import canonical
from intake.envelope import MAGIC

TYPE_PAGE = ord("P")
VERSION = 1
SIGNATURE_LENGTH = 64
DEVICE_LENGTH = 16
MAX_HEADER_LENGTH = 1024
MAX_COUNT = 100_000
MAX_ENVELOPE_LENGTH = 16 * 1024 * 1024
HEADER_MEMBERS = frozenset({"count", "more", "next"})
_PREFIX = struct.Struct(">6sBBH")  # magic, type, version, header length
_LENGTH = struct.Struct(">I")
_CURSOR = re.compile(r"0|[1-9][0-9]{0,17}")  # fits SQLite integers
_DEVICE = re.compile(rb"[0-9a-f]{16}")


class PageError(Exception):
    """A page from the hub is not well formed."""


@dataclass(frozen=True)
class PageEntry:
    """One envelope of a page, with its device's record signature if it has one."""

    device: str
    envelope: bytes
    signature: bytes | None


@dataclass(frozen=True)
class Page:
    """A page: its envelopes, the cursor after them, and whether more follow."""

    entries: list[PageEntry]
    next: str
    more: bool


def write_page(
    entries: list[tuple[str, bytes, bytes | None]], next_cursor: str, more: bool
) -> bytes:
    """Return the bytes of a page of (device, envelope, signature or None)."""
    header = canonical.encode({"count": len(entries), "more": more, "next": next_cursor})
    parts = [_PREFIX.pack(MAGIC, TYPE_PAGE, VERSION, len(header)), header]
    for device, envelope, signature in entries:
        parts += [device.encode("ascii"), _LENGTH.pack(len(envelope)), envelope]
        parts.append(b"\x01" + signature if signature is not None else b"\x00")
    return b"".join(parts)


def is_cursor(value) -> bool:
    """Tell whether a value is a cursor: a non-negative integer, written plainly."""
    return isinstance(value, str) and _CURSOR.fullmatch(value) is not None


def _header(data: bytes) -> tuple[dict, int]:
    if len(data) < _PREFIX.size:
        raise PageError("truncated in the prefix")
    magic, kind, version, length = _PREFIX.unpack_from(data)
    if magic != MAGIC or kind != TYPE_PAGE:
        raise PageError("not a page of envelopes")
    if version != VERSION:
        raise PageError(f"unknown page format version {version}")
    if not 0 < length <= MAX_HEADER_LENGTH or len(data) < _PREFIX.size + length:
        raise PageError("page header length out of range")
    try:
        fields = canonical.decode(data[_PREFIX.size : _PREFIX.size + length])
    except canonical.CanonicalJSONError as e:
        raise PageError(f"page header is {e}") from None
    if not isinstance(fields, dict) or fields.keys() != HEADER_MEMBERS:
        raise PageError("page header members are not those of the page format")
    count = fields["count"]
    if not (
        isinstance(count, int)
        and not isinstance(count, bool)
        and 0 <= count <= MAX_COUNT
        and isinstance(fields["more"], bool)
        and is_cursor(fields["next"])
    ):
        raise PageError("page header fields are not those of the page format")
    return fields, _PREFIX.size + length


def _take(data: bytes, offset: int, n: int, what: str) -> tuple[bytes, int]:
    if offset + n > len(data):
        raise PageError(f"truncated in {what}")
    return data[offset : offset + n], offset + n


def _entry(data: bytes, offset: int, index: int) -> tuple[PageEntry, int]:
    device, offset = _take(data, offset, DEVICE_LENGTH, f"the device of envelope {index}")
    if not _DEVICE.fullmatch(device):
        raise PageError(f"envelope {index}: the device id is not 16 lower-case hex digits")
    raw_length, offset = _take(data, offset, _LENGTH.size, f"the length of envelope {index}")
    (length,) = _LENGTH.unpack(raw_length)
    if length > MAX_ENVELOPE_LENGTH:
        raise PageError(f"envelope {index} is too large")
    envelope, offset = _take(data, offset, length, f"envelope {index}")
    flag, offset = _take(data, offset, 1, f"the signature flag of envelope {index}")
    signature = None
    if flag == b"\x01":
        signature, offset = _take(data, offset, SIGNATURE_LENGTH, f"the signature of {index}")
    elif flag != b"\x00":
        raise PageError(f"envelope {index}: the signature flag is neither 0 nor 1")
    return PageEntry(device.decode("ascii"), envelope, signature), offset


def read_page(data: bytes, after: str) -> Page:
    """Parse a page strictly; its cursor must move forward unless it is empty and the last."""
    fields, offset = _header(data)
    entries = []
    for index in range(1, fields["count"] + 1):
        entry, offset = _entry(data, offset, index)
        entries.append(entry)
    if offset != len(data):
        raise PageError("trailing bytes after the last envelope")
    moved = int(fields["next"]) > int(after)
    if (entries and not moved) or (not entries and fields["more"]):
        # A hub that does not move on would have the workspace ask forever.
        raise PageError("the page's cursor does not move forward")
    if int(fields["next"]) < int(after):
        raise PageError("the page's cursor goes backwards")
    return Page(entries, fields["next"], fields["more"])
