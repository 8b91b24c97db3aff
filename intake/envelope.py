"""Envelope format v1: seal a record to its recipients, and read envelope framing.

The byte layout is specified in docs/envelope.md; keep the two in step.
Opening an envelope needs a private key and lives in
`intake.workspace.opening`, which the field and hub roles never import
(DESIGN invariant 9): code that is not loaded cannot be tricked into running.
"""

from __future__ import annotations

import hashlib
import json
import re
import struct
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from typing import NamedTuple

from intake import canonical, crypto

MAGIC = b"INTAKE"
TYPE_ENVELOPE = ord("E")
TYPE_BATCH = ord("B")
VERSION = 1
PAD_BLOCK = 512
MAX_HEADER_LENGTH = 4096
MAX_RECIPIENTS = 16
MAX_RECORD_LENGTH = 4 * 1024 * 1024  # padded plaintext; a screening is a few KB
INFO_LABEL = b"intake-envelope-v1\x00"

_PREFIX = struct.Struct(">6sBBHHHH")  # magic, type, version, kem, kdf, aead, header length
_STANZA_HEAD = struct.Struct(">8sH")  # key id, sealed key length
_BODY_HEAD = struct.Struct(">12sI")  # nonce, ciphertext length
_KIND = re.compile(r"[a-z][a-z0-9_]{0,31}")


class EnvelopeError(Exception):
    """Base of the reasons an envelope is refused."""


class MalformedEnvelopeError(EnvelopeError):
    """The bytes are not a well-formed envelope: truncated, padded or mangled."""


class UnknownVersionError(EnvelopeError):
    """The envelope is in a format version or suite this program does not know."""


class NotRecipientError(EnvelopeError):
    """The key offered is not one of the envelope's recipients."""


class TamperedError(EnvelopeError):
    """The envelope did not authenticate: changed, or sealed with other metadata."""


class RecordError(EnvelopeError):
    """The record to seal is not acceptable (not a JSON object, too large)."""


class BadRecordError(EnvelopeError):
    """An envelope opened, but the record inside breaks format v1 (padding, canonical JSON)."""


class Stanza(NamedTuple):
    """One recipient's copy of the content key, sealed with HPKE."""

    key_id: str
    sealed_key: bytes


@dataclass  # not frozen: a frozen dataclass costs a tenth of an open to build
class Envelope:
    """The parsed framing of an envelope; the record itself stays sealed."""

    header_bytes: bytes
    stanzas: tuple[Stanza, ...]
    nonce: bytes
    ciphertext: bytes
    header_digest: bytes
    associated_data: bytes

    @cached_property
    def header(self) -> dict:
        """Return the header fields, checked against format v1."""
        header = parse_header(self.header_bytes)
        if [s.key_id for s in self.stanzas] != header["recipients"]:
            raise TamperedError("recipient stanzas do not match the header")
        return header

    @property
    def record_id(self) -> str:
        return self.header["id"]

    @property
    def info(self) -> bytes:
        """Return the HPKE info that binds the version and the header digest."""
        return INFO_LABEL + self.header_digest


@dataclass(frozen=True)
class SealedRecord:
    """An envelope ready to store or send, with the header fields kept apart."""

    record_id: str
    kind: str
    created: str
    data: bytes


def canonical_json(value) -> bytes:
    """Serialise JSON canonically (RFC 8785); CanonicalJSONError if the value has no such form."""
    return canonical.encode(value)


def pad(plaintext: bytes) -> bytes:
    """Pad to a multiple of PAD_BLOCK (ISO/IEC 7816-4: 0x80 then zeros)."""
    padded_length = (len(plaintext) // PAD_BLOCK + 1) * PAD_BLOCK
    return plaintext + b"\x80" + bytes(padded_length - len(plaintext) - 1)


def unpad(padded: bytes) -> bytes:
    """Remove ISO/IEC 7816-4 padding, refusing any but the shortest to a whole block."""
    end = len(padded.rstrip(b"\x00")) - 1
    if end < 0 or padded[end] != 0x80:
        raise BadRecordError("record padding is damaged")
    # One block more than needed would still open; refused so a record has one envelope length.
    if len(padded) != (end // PAD_BLOCK + 1) * PAD_BLOCK:
        raise BadRecordError("record padding is longer than needed")
    return padded[:end]


def record_from_padded(padded: bytes) -> bytes:
    """Return the record's JSON bytes after checking its padding and canonical form."""
    record = unpad(padded)
    try:
        value = canonical.decode(record)
    except canonical.CanonicalJSONError as e:
        raise BadRecordError(f"the record is {e}") from None
    if not isinstance(value, dict):
        raise BadRecordError("the record is not a JSON object")
    return record


def utc_now() -> str:
    """Return the current UTC time as RFC 3339 with seconds, the header's format."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def record_uuid(record: dict) -> str:
    """Return the record's own UUID if it carries one, else a fresh one."""
    given = record.get("id") if isinstance(record, dict) else None
    if isinstance(given, str):
        try:
            return str(uuid.UUID(given))
        except ValueError:
            pass
    return str(uuid.uuid4())


def _header(record_id, kind, created, device, questionnaire, key_ids) -> dict:
    if not _KIND.fullmatch(kind):
        raise RecordError("kind must be 1-32 lower-case letters, digits or _")
    return {
        "created": created,
        "device": device,
        "id": record_id,
        "kind": kind,
        "questionnaire": questionnaire,
        "recipients": key_ids,
    }


def _prefix(header_bytes: bytes) -> bytes:
    if len(header_bytes) > MAX_HEADER_LENGTH:
        raise RecordError("envelope header too long")
    return _PREFIX.pack(
        MAGIC,
        TYPE_ENVELOPE,
        VERSION,
        crypto.KEM_ID,
        crypto.KDF_ID,
        crypto.AEAD_ID,
        len(header_bytes),
    )


def seal_record(
    record: dict,
    recipients: list,
    *,
    kind: str = "record",
    record_id: str | None = None,
    created: str | None = None,
    device: str | None = None,
    questionnaire: str | None = None,
) -> SealedRecord:
    """Seal a record so that only the recipients' private keys can open it."""
    if not isinstance(record, dict):
        raise RecordError("a record must be a JSON object")
    if not 1 <= len(recipients) <= MAX_RECIPIENTS:
        raise RecordError(f"seal to between 1 and {MAX_RECIPIENTS} recipients")
    # One stanza per key: a key listed twice (two files of one key) is sealed to once.
    by_id = {}
    for public_key in recipients:
        by_id.setdefault(crypto.key_id(public_key), public_key)
    key_ids, recipients = list(by_id), list(by_id.values())
    try:
        plaintext = pad(canonical_json(record))
    except canonical.CanonicalJSONError as e:
        raise RecordError(f"the record cannot be written as canonical JSON: {e}") from None
    if len(plaintext) > MAX_RECORD_LENGTH:
        raise RecordError("record too large to seal")
    record_id = record_id or record_uuid(record)
    created = created or utc_now()
    header = _header(record_id, kind, created, device, questionnaire, key_ids)
    header_bytes = canonical_json(header)
    try:
        parse_header(header_bytes)  # never write what a reader refuses
    except TamperedError as e:
        raise RecordError(str(e).replace("header", "the header to seal", 1)) from None
    head = _prefix(header_bytes) + header_bytes
    info = INFO_LABEL + hashlib.sha256(head).digest()
    content_key = crypto.new_content_key()
    parts = [head, bytes([len(recipients)])]
    for kid, public_key in zip(key_ids, recipients, strict=True):
        sealed_key = crypto.seal_key(content_key, public_key, info)
        parts.append(_STANZA_HEAD.pack(bytes.fromhex(kid), len(sealed_key)) + sealed_key)
    associated_data = b"".join(parts)
    nonce = crypto.new_nonce()
    ciphertext = crypto.encrypt(content_key, nonce, plaintext, associated_data)
    data = associated_data + _BODY_HEAD.pack(nonce, len(ciphertext)) + ciphertext
    return SealedRecord(record_id, kind, created, data)


def _check_prefix(data) -> int:
    """Check magic, type, version and suite; return the header length."""
    if len(data) < _PREFIX.size:
        raise MalformedEnvelopeError("truncated: shorter than an envelope prefix")
    magic, kind, version, kem, kdf, aead, header_length = _PREFIX.unpack_from(data)
    if magic != MAGIC or kind != TYPE_ENVELOPE:
        raise MalformedEnvelopeError("not an Intake envelope")
    if version != VERSION:
        raise UnknownVersionError(f"unknown envelope format version {version}")
    if (kem, kdf, aead) != (crypto.KEM_ID, crypto.KDF_ID, crypto.AEAD_ID):
        raise UnknownVersionError(f"unknown suite kem={kem:#06x} kdf={kdf:#06x} aead={aead:#06x}")
    if not 0 < header_length <= MAX_HEADER_LENGTH:
        raise MalformedEnvelopeError("header length out of range")
    return header_length


_CREATED = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")
_KEY_ID = re.compile(r"[0-9a-f]{16}")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
HEADER_MEMBERS = frozenset({"created", "device", "id", "kind", "questionnaire", "recipients"})
MAX_TEXT_LENGTH = 200


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def strict_json(raw: bytes):
    """Parse JSON from outside: no NaN or Infinity, no nesting deep enough to blow the stack."""
    try:
        return json.loads(raw, parse_constant=_refuse_constant)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ValueError("not valid JSON") from None


def is_uuid(value) -> bool:
    """Tell whether a value is a UUID in RFC 9562 text form, lower case."""
    return isinstance(value, str) and _UUID.fullmatch(value) is not None


def is_key_id(value) -> bool:
    """Tell whether a value is a key id: 16 lower-case hex digits."""
    return isinstance(value, str) and _KEY_ID.fullmatch(value) is not None


def is_utc_time(value) -> bool:
    """Tell whether a value is a real UTC time written YYYY-MM-DDTHH:MM:SSZ."""
    if not isinstance(value, str) or not _CREATED.fullmatch(value):
        return False
    try:
        datetime.fromisoformat(value[:-1])  # the pattern fixed the form; this checks the calendar
    except ValueError:
        return False
    return True


def _optional_text(value) -> bool:
    return value is None or (isinstance(value, str) and len(value) <= MAX_TEXT_LENGTH)


def parse_header(raw: bytes) -> dict:
    """Parse a header strictly: canonical JSON, exactly the v1 members, each of its type and form.

    Anyone with a coordinator's public key can seal an envelope, so nothing
    in it is taken on trust; docs/envelope.md lists each rule checked here.
    """
    try:
        header = canonical.decode(raw)
    except canonical.CanonicalJSONError as e:
        raise TamperedError(f"header is {e}") from None
    if not isinstance(header, dict) or header.keys() != HEADER_MEMBERS:
        raise TamperedError("header members are not those of format v1")
    recipients = header["recipients"]
    well_formed = (
        is_uuid(header["id"])
        and isinstance(header["kind"], str)
        and _KIND.fullmatch(header["kind"])
        and is_utc_time(header["created"])
        and (header["device"] is None or is_key_id(header["device"]))
        and _optional_text(header["questionnaire"])
        and isinstance(recipients, list)
        and 1 <= len(recipients) <= MAX_RECIPIENTS
        and all(is_key_id(r) for r in recipients)
        and len(set(recipients)) == len(recipients)
    )
    if not well_formed:
        raise TamperedError("header fields are not those of format v1")
    return header


def _parse_stanzas(data, offset: int) -> tuple[tuple[Stanza, ...], int]:
    count = data[offset]
    if not 1 <= count <= MAX_RECIPIENTS:
        raise MalformedEnvelopeError("recipient count out of range")
    offset += 1
    stanzas = []
    for _ in range(count):
        if len(data) < offset + _STANZA_HEAD.size:
            raise MalformedEnvelopeError("truncated in a recipient stanza")
        raw_id, length = _STANZA_HEAD.unpack_from(data, offset)
        offset += _STANZA_HEAD.size
        if length != crypto.SEALED_KEY_LENGTH or len(data) < offset + length:
            raise MalformedEnvelopeError("recipient stanza has the wrong length")
        stanzas.append(Stanza(raw_id.hex(), bytes(data[offset : offset + length])))
        offset += length
    return tuple(stanzas), offset


def parse_envelope(data: bytes) -> Envelope:
    """Parse an envelope's framing and check its header strictly, without opening anything.

    The header is checked even by an opener: authentication only proves that
    whoever sealed it wrote it, and anyone holding a public key can seal.
    """
    header_length = _check_prefix(data)
    head_end = _PREFIX.size + header_length
    if len(data) < head_end + 1:
        raise MalformedEnvelopeError("truncated in the header")
    stanzas, offset = _parse_stanzas(data, head_end)
    if len(data) < offset + _BODY_HEAD.size:
        raise MalformedEnvelopeError("truncated before the record")
    nonce, length = _BODY_HEAD.unpack_from(data, offset)
    body = offset + _BODY_HEAD.size
    if length < PAD_BLOCK + crypto.TAG_LENGTH or (length - crypto.TAG_LENGTH) % PAD_BLOCK:
        raise MalformedEnvelopeError("record length is not a padded length")
    if length > MAX_RECORD_LENGTH + crypto.TAG_LENGTH:
        raise MalformedEnvelopeError("record too large")
    if len(data) != body + length:
        kind = "truncated in the record" if len(data) < body + length else "trailing bytes"
        raise MalformedEnvelopeError(kind)
    envelope = Envelope(
        header_bytes=bytes(data[_PREFIX.size : head_end]),
        stanzas=stanzas,
        nonce=bytes(nonce),
        ciphertext=bytes(data[body:]),
        header_digest=hashlib.sha256(data[:head_end]).digest(),
        associated_data=bytes(data[:offset]),
    )
    envelope.header  # noqa: B018 - parsing is the check
    return envelope
