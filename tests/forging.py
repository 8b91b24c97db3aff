"""Build envelopes and batches byte by byte from docs/envelope.md, bypassing every check.

Hostile-input tests need files that the sealer would never write; these
helpers follow the spec by hand so that a test controls each byte.
"""

from __future__ import annotations

import hashlib
import json
import struct

from intake import crypto


def compact(value) -> bytes:
    """JSON as the old writer made it: canonical for these ASCII values."""
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def unsorted(value: dict) -> bytes:
    """Compact JSON with the object's keys in reverse order: not canonical."""
    return json.dumps(dict(reversed(value.items())), separators=(",", ":")).encode()


def seal_raw(public_key, header: bytes, padded: bytes) -> bytes:
    """Seal exactly the given header and padded record, following docs/envelope.md by hand."""
    prefix = struct.pack(">6sBBHHHH", b"INTAKE", ord("E"), 1, 0x10, 0x01, 0x02, len(header))
    head = prefix + header
    info = b"intake-envelope-v1\x00" + hashlib.sha256(head).digest()
    content_key = crypto.new_content_key()
    sealed_key = crypto.seal_key(content_key, public_key, info)
    kid = bytes.fromhex(crypto.key_id(public_key))
    aad = head + b"\x01" + kid + struct.pack(">H", len(sealed_key)) + sealed_key
    nonce = crypto.new_nonce()
    ciphertext = crypto.encrypt(content_key, nonce, padded, aad)
    return aad + nonce + struct.pack(">I", len(ciphertext)) + ciphertext


def batch_raw(header: bytes, envelopes: list[bytes], signing_key) -> bytes:
    """Write and sign a batch with exactly the given header bytes."""
    body = b"INTAKEB\x01" + struct.pack(">H", len(header)) + header
    body += b"".join(struct.pack(">I", len(e)) + e for e in envelopes)
    return body + crypto.sign(signing_key, b"intake-batch-v1\x00" + hashlib.sha512(body).digest())


def batch_raw_v2(header: bytes, records: list[tuple[bytes, bytes]], signing_key) -> bytes:
    """Write a v2 batch with exactly the given header and (envelope, record signature) pairs,
    and a valid batch signature over them: only the record signatures can be wrong."""
    body = b"INTAKEB\x02" + struct.pack(">H", len(header)) + header
    body += b"".join(struct.pack(">I", len(e)) + e + s for e, s in records)
    return body + crypto.sign(signing_key, b"intake-batch-v2\x00" + hashlib.sha512(body).digest())


def record_signature_raw(signing_key, envelope: bytes) -> bytes:
    """Sign one envelope as docs/envelope.md says, without intake.batch."""
    return signing_key.sign(b"intake-record-v1\x00" + hashlib.sha512(envelope).digest())
