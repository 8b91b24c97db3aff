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


@dataclass(frozen=True)
class PageHead:
    """A page's header, checked: what the hub says before the entries."""

    count: int
    next: str
    more: bool
    offset: int  # where the first entry starts


def read_head(data: bytes, after: str) -> PageHead:
    """Check a page's prefix and header, and that its cursor moves as the layout says.

    Enough to ask for the next page while this one's entries are being read
    (elsewhere); nothing of a page is stored before `entry_spans` read it all.
    """
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
    count, next_cursor, more = fields["count"], fields["next"], fields["more"]
    if not (
        isinstance(count, int)
        and not isinstance(count, bool)
        and 0 <= count <= MAX_COUNT
        and isinstance(more, bool)
        and is_cursor(next_cursor)
    ):
        raise PageError("page header fields are not those of the page format")
    if int(next_cursor) < int(after):
        raise PageError("the page's cursor goes backwards")
    if (count and int(next_cursor) == int(after)) or (not count and more):
        # A hub that does not move on would have the workspace ask forever.
        raise PageError("the page's cursor does not move forward")
    return PageHead(count, next_cursor, more, _PREFIX.size + length)


def entry_spans(data: bytes, head: PageHead) -> list[tuple[str, int, int, int | None]]:
    """Read a page's entries strictly; return each as (device, start, end, signature start).

    The envelope is `data[start:end]`; its signature, if it has one, the 64
    bytes from the signature start. Offsets rather than copies: the pull
    reads a page in one process and stores it from another.
    """
    spans, offset, size = [], head.offset, len(data)
    for index in range(1, head.count + 1):
        if offset + DEVICE_LENGTH + _LENGTH.size > size:
            raise PageError(f"truncated in the device or length of envelope {index}")
        device = data[offset : offset + DEVICE_LENGTH]
        if not _DEVICE.fullmatch(device):
            raise PageError(f"envelope {index}: the device id is not 16 lower-case hex digits")
        (length,) = _LENGTH.unpack_from(data, offset + DEVICE_LENGTH)
        if length > MAX_ENVELOPE_LENGTH:
            raise PageError(f"envelope {index} is too large")
        start = offset + DEVICE_LENGTH + _LENGTH.size
        end = start + length
        if end + 1 > size:
            raise PageError(f"truncated in envelope {index} or its signature flag")
        flag, offset = data[end], end + 1
        signature = None
        if flag == 1:
            signature, offset = offset, offset + SIGNATURE_LENGTH
            if offset > size:
                raise PageError(f"truncated in the signature of {index}")
        elif flag != 0:
            raise PageError(f"envelope {index}: the signature flag is neither 0 nor 1")
        spans.append((device.decode("ascii"), start, end, signature))
    if offset != size:
        raise PageError("trailing bytes after the last envelope")
    return spans


def read_page(data: bytes, after: str) -> Page:
    """Parse a page strictly; its cursor must move forward unless it is empty and the last."""
    head = read_head(data, after)
    entries = [
        PageEntry(
            device,
            data[start:end],
            data[signature : signature + SIGNATURE_LENGTH] if signature is not None else None,
        )
        for device, start, end, signature in entry_spans(data, head)
    ]
    return Page(entries, head.next, head.more)
