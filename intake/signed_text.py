"""The framing hub-signed documents share: a magic line, a canonical JSON body, a signature line.

Receipts and recipient lists are both written and read this way; each
names itself in its refusals ("not an Intake receipt").
"""

from __future__ import annotations

import re

_SIGNATURE_HEX = re.compile(rb"[0-9a-f]{128}")  # an Ed25519 signature, lower-case hex


def frame(magic_line: bytes, body: bytes, signature: bytes) -> bytes:
    """Write a signed document: the magic line, the body, the signature in hex."""
    return magic_line + body + b"\n" + signature.hex().encode("ascii") + b"\n"


def split(
    data: bytes, *, magic_line: bytes, magic_prefix: bytes, max_length: int, noun: str, error
) -> tuple[bytes, bytes]:
    """Cut a signed document into its body and signature, refusing any other shape."""
    if len(data) > max_length:
        raise error(f"too large to be a {noun}")
    if not data.startswith(magic_line):
        if data.startswith(magic_prefix) and b"\n" in data:
            version = data[len(magic_prefix) : data.index(b"\n")][:16]
            raise error(f"unknown {noun} format version {version.decode('ascii', 'replace')}")
        raise error(f"not an Intake {noun}")
    rest = data[len(magic_line) :]
    if rest.count(b"\n") != 2 or not rest.endswith(b"\n"):
        raise error(f"{noun} is truncated or has extra lines")
    body, signature_hex, _ = rest.split(b"\n")
    if not body or not _SIGNATURE_HEX.fullmatch(signature_hex):
        raise error(f"{noun} is truncated or its signature line is damaged")
    return body, bytes.fromhex(signature_hex.decode("ascii"))
