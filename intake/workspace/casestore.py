"""The workspace's case store: what the coordinator's key opened, kept encrypted.

Opening 100,000 envelopes takes one public-key operation each, far too
slow to repeat at every unlock. So each envelope is opened once, and what
the case list, filters, search and dashboard need (a summary) is kept in
chunks encrypted with AES-256-GCM under a random store key. The store key
is itself sealed (HPKE, like a record's content key) to the coordinator's
public key: nothing in the store opens without the private key, and
unlocking costs one HPKE open plus one AES-GCM decryption per chunk. A
case's full answers are never copied: its page opens its envelope again.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Callable
from dataclasses import dataclass

from intake import canonical, crypto
from intake.db import case_store as store
from intake.envelope import EnvelopeError, NotRecipientError, TamperedError, utc_now
from intake.workspace.opening import Opener

STORE_KEY_INFO = b"intake-case-store-v1"
STORE_KEY_NAME = "store_key"
CHUNK_LABEL = b"intake-case-chunk-v1\x00"
CHUNK_SIZE = 2000  # summaries per chunk: a pull's new cases land in a few chunks
OPEN_BATCH = 2000


class StoreError(Exception):
    """The case store does not open with this key, or a chunk was changed."""


def store_key(database, opener: Opener) -> bytes:
    """Return the store key, sealed to this coordinator's key on first use."""
    sealed = store.get_meta(database, STORE_KEY_NAME)
    if sealed is None:
        fresh = crypto.new_content_key()
        public = opener.private_key.public_key()
        sealed = store.set_meta_once(
            database, STORE_KEY_NAME, crypto.seal_key(fresh, public, STORE_KEY_INFO)
        )
    try:
        return crypto.open_key(sealed, opener.private_key, STORE_KEY_INFO)
    except crypto.AuthenticationError:
        raise StoreError(
            "this workspace's case store was sealed to another key than the one unlocked"
        ) from None


def _chunk_aad(chunk: int) -> bytes:
    return CHUNK_LABEL + struct.pack(">Q", chunk)


def encrypt_chunk(key: bytes, chunk: int, summaries: list[list]) -> tuple[bytes, bytes]:
    """Encrypt summaries for chunk number `chunk`; return (nonce, ciphertext)."""
    nonce = crypto.new_nonce()
    data = json.dumps(summaries, ensure_ascii=False, separators=(",", ":")).encode()
    return nonce, crypto.encrypt(key, nonce, data, _chunk_aad(chunk))


def decrypt_chunk(key: bytes, chunk: int, nonce: bytes, data: bytes) -> list[list]:
    """Decrypt one chunk; a chunk changed, moved or renumbered does not authenticate."""
    try:
        plain = crypto.decrypt(key, nonce, data, _chunk_aad(chunk))
    except crypto.AuthenticationError:
        raise StoreError(f"case store chunk {chunk} does not authenticate: changed") from None
    summaries = json.loads(plain)
    if not isinstance(summaries, list) or not all(
        isinstance(s, list) and len(s) == len(SUMMARY_FIELDS) for s in summaries
    ):
        raise StoreError(f"case store chunk {chunk} is not a list of summaries")
    return summaries


# -- summaries: what the list, filters, search, duplicates and charts need --

# Answer types whose text a coordinator searches (typed in the field).
_TEXT_TYPES = ("short_text", "long_text")


# A summary is a JSON array in this order (parsed 100,000 at a time at each
# unlock: an array parses faster than an object, and needs no key names).
SUMMARY_FIELDS = (
    "device", "id", "created", "kind", "questionnaire", "reference", "officer", "language",
    "officer_language", "child", "outcome", "dimensions", "urgent", "text", "identifying",
)  # fmt: skip


def summarise(header: dict, record: dict, text_questions: frozenset[str]) -> list:
    """Reduce an opened record to its summary (SUMMARY_FIELDS, in order)."""
    answers = record.get("answers") if isinstance(record.get("answers"), dict) else {}
    assessment = record.get("assessment") if isinstance(record.get("assessment"), dict) else {}
    languages = record.get("languages") if isinstance(record.get("languages"), dict) else {}
    dimensions = assessment.get("dimensions") or {}
    texts = [record.get("reference"), record.get("officer")]
    texts += [v for k, v in answers.items() if k in text_questions and isinstance(v, str)]
    return [
        header["device"],
        header["id"],
        header["created"],
        header["kind"],
        header.get("questionnaire") or "",
        _text(record.get("reference")),
        _text(record.get("officer")),
        _text(languages.get("respondent")),
        _text(languages.get("officer")),
        record.get("child") is True,
        _text(assessment.get("outcome")),
        sorted(k for k, v in dimensions.items() if v is True),
        sorted(str(u) for u in (assessment.get("urgent") or record.get("urgent") or [])),
        " ".join(t for t in texts if isinstance(t, str) and t).casefold(),
        _identifying(answers),
    ]


def _text(value) -> str:
    return value if isinstance(value, str) else ""


def _identifying(answers: dict) -> list:
    """What may show that two screenings are of one person (no name is ever asked)."""
    digits = "".join(c for c in str(answers.get("contact_phone") or "") if c.isdigit())
    # The last nine digits: "+40 712 345 678", "0040712345678" and "0712 345 678"
    # are one phone, written with or without a country or trunk prefix.
    phone = digits[-9:] if len(digits) >= 6 else ""
    age = answers.get("age")
    return [
        phone,
        _text(answers.get("nationality")),
        _text(answers.get("gender")),
        age if isinstance(age, int) and not isinstance(age, bool) else None,
        _text(answers.get("exploitation_country")),
    ]


# -- ingesting: open what was pulled, once ------------------------------


@dataclass
class Ingested:
    opened: int = 0
    not_for_key: int = 0
    unopenable: int = 0


def ingest(
    database,
    opener: Opener,
    key: bytes,
    text_questions: frozenset[str],
    progress: Callable[[Ingested], None] = lambda _r: None,
) -> tuple[Ingested, list[int]]:
    """Open every verified envelope not yet in the store; return counts and the new chunks."""
    report, new_chunks = Ingested(), []
    while True:
        rows = store.unopened(database, OPEN_BATCH)
        if not rows:
            return report, new_chunks
        summaries, opened, failed = _open_rows(rows, opener, text_questions)
        for start in range(0, max(len(summaries), 1), CHUNK_SIZE):
            part = summaries[start : start + CHUNK_SIZE]
            keys = opened[start : start + CHUNK_SIZE]
            chunk = _store(database, key, part, keys, failed if start == 0 else [])
            if chunk is not None:
                new_chunks.append(chunk)
        report.opened += len(opened)
        report.not_for_key += sum(1 for f in failed if f[2] == "not_for_key")
        report.unopenable += sum(1 for f in failed if f[2] == "unopenable")
        progress(report)


def _open_rows(rows, opener: Opener, text_questions):
    summaries, opened, failed = [], [], []
    for device, record_id, data in rows:
        try:
            envelope, record_bytes = opener.open(data)
            record = canonical.decode(record_bytes)
        except NotRecipientError:
            failed.append(
                (device, record_id, "not_for_key", "not sealed to this coordinator's key")
            )
            continue
        except (TamperedError, EnvelopeError, canonical.CanonicalJSONError, ValueError) as e:
            failed.append((device, record_id, "unopenable", str(e)[:200]))
            continue
        summaries.append(summarise(envelope.header, record, text_questions))
        opened.append((device, record_id))
    return summaries, opened, failed


def _store(database, key, summaries, keys, failed) -> int | None:
    # The chunk's number is bound into its ciphertext, so it is taken, and
    # the chunk encrypted, inside the write transaction that stores it.
    with database.atomic():
        number = store.next_chunk(database)
        nonce, data = encrypt_chunk(key, number, summaries) if summaries else (b"", b"")
        return store.store_chunk(database, number, nonce, data, utc_now(), keys, failed)


def load_summaries(database, key: bytes, after: int = 0):
    """Yield (chunk number, summaries) of every chunk after `after`, decrypted."""
    for number, nonce, data in store.chunks(database, after):
        yield number, decrypt_chunk(key, number, nonce, data)
