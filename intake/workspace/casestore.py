"""The workspace's case store: what the coordinator's key opened, kept encrypted.

Opening 100,000 envelopes takes one public-key operation each, far too
slow to repeat at every unlock. So each envelope is opened once, and what
the case list, filters, search and dashboard need (a summary) is kept in
chunks encrypted with AES-256-GCM under a store key derived from the
coordinator's private key itself (crypto.private_key_secret): nothing in
the store opens, and no chunk can be planted, without the private key.
Unlocking costs one ECDH plus one AES-GCM decryption per chunk. A case's
full answers are never copied: its page opens its envelope again.

The chunks must be all there: numbered 1, 2, 3... without a gap, holding
exactly as many cases as `cases` says were opened. A chunk deleted or
cases hidden makes the unlock refuse, loudly, rather than show fewer cases.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Callable
from dataclasses import dataclass

from intake import canonical, crypto
from intake.db import case_store as store
from intake.envelope import EnvelopeError, NotRecipientError, utc_now
from intake.workspace.opening import Opener

STORE_KEY_INFO = b"intake-case-store-v1"
KEY_CHECK_NAME = "key_check"
KEY_CHECK_LABEL = b"intake-case-store-key-check-v1"
CHUNK_LABEL = b"intake-case-chunk-v1\x00"
# Records opened (and summaries stored as one chunk) at a time: small enough
# that a lock stops the opening within a fraction of a second.
OPEN_BATCH = 1000


class StoreError(Exception):
    """The case store does not open with this key, or was changed or cut."""


class Stopped(Exception):
    """The opening was stopped: the workspace was locked meanwhile."""


def store_key(database, opener: Opener) -> bytes:
    """Return the store key; refuse a store made for another coordinator's key."""
    key = crypto.private_key_secret(opener.private_key, STORE_KEY_INFO)
    check = store.get_meta(database, KEY_CHECK_NAME)
    if check is None:
        nonce = crypto.new_nonce()
        sealed = nonce + crypto.encrypt(key, nonce, b"", KEY_CHECK_LABEL)
        check = store.set_meta_once(database, KEY_CHECK_NAME, sealed)
    try:
        crypto.decrypt(key, check[:12], check[12:], KEY_CHECK_LABEL)
    except (crypto.AuthenticationError, ValueError):
        raise StoreError(
            "this workspace's case store was made with another key than the one unlocked"
        ) from None
    return key


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
    """Reduce an opened record to its summary (SUMMARY_FIELDS, in order).

    A device signed the record, which does not make its fields well formed:
    whatever is not of the expected shape is left out, never trusted.
    """
    answers = _mapping(record.get("answers"))
    assessment = _mapping(record.get("assessment"))
    languages = _mapping(record.get("languages"))
    dimensions = _mapping(assessment.get("dimensions"))
    urgent = assessment.get("urgent") or record.get("urgent")
    urgent = [u for u in urgent if isinstance(u, str)] if isinstance(urgent, list) else []
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
        sorted(str(k) for k, v in dimensions.items() if v is True),
        sorted(urgent),
        " ".join(t for t in texts if isinstance(t, str) and t).casefold(),
        _identifying(answers),
    ]


def _text(value) -> str:
    return value if isinstance(value, str) else ""


def _mapping(value) -> dict:
    return value if isinstance(value, dict) else {}


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
    keep_going: Callable[[], bool] = lambda: True,
) -> tuple[Ingested, list[int]]:
    """Open every verified envelope not yet in the store; return counts and the new chunks.

    `keep_going` is asked before each record: once it says no (the
    workspace was locked), the private key opens nothing more (Stopped).
    """
    report, new_chunks = Ingested(), []
    while True:
        rows = store.unopened(database, OPEN_BATCH)
        if not rows:
            return report, new_chunks
        summaries, opened, failed = _open_rows(rows, opener, text_questions, keep_going)
        chunk = _store(database, key, summaries, opened, failed)
        if chunk is not None:
            new_chunks.append(chunk)
        report.opened += len(opened)
        report.not_for_key += sum(1 for f in failed if f[2] == "not_for_key")
        report.unopenable += sum(1 for f in failed if f[2] == "unopenable")
        progress(report)


def _open_rows(rows, opener: Opener, text_questions, keep_going):
    summaries, opened, failed = [], [], []
    for device, record_id, data in rows:
        if not keep_going():
            raise Stopped("the workspace was locked")
        try:
            summary = _open_one(device, record_id, data, opener, text_questions)
        except NotRecipientError:
            failed.append(
                (device, record_id, "not_for_key", "not sealed to this coordinator's key")
            )
            continue
        except (EnvelopeError, canonical.CanonicalJSONError, ValueError, TypeError) as e:
            # TamperedError is an EnvelopeError; TypeError: a field of a shape no
            # summary can take. One such record never holds up the others.
            failed.append((device, record_id, "unopenable", str(e)[:200]))
            continue
        summaries.append(summary)
        opened.append((device, record_id))
    return summaries, opened, failed


def _open_one(device, record_id, data, opener, text_questions) -> list:
    envelope, record_bytes = opener.open(data)
    header = envelope.header
    if (header["device"], header["id"]) != (device, record_id):
        raise ValueError("the envelope held under this record is another record's")
    record = canonical.decode(record_bytes)
    if not isinstance(record, dict):
        raise ValueError("the record is not a JSON object")
    return summarise(header, record, text_questions)


def _store(database, key, summaries, keys, failed) -> int | None:
    # The chunk's number is bound into its ciphertext, so it is taken, and
    # the chunk encrypted, inside the write transaction that stores it.
    with database.atomic():
        number = store.next_chunk(database)
        nonce, data = encrypt_chunk(key, number, summaries) if summaries else (b"", b"")
        return store.store_chunk(database, number, nonce, data, utc_now(), keys, failed)


def load_summaries(database, key: bytes, after: int = 0):
    """Yield (chunk number, summaries) of every chunk after `after`, decrypted, none missing."""
    expected = after + 1
    for number, nonce, data in store.chunks(database, after):
        if number != expected:
            raise StoreError(f"case store chunk {expected} is missing: the store was cut")
        yield number, decrypt_chunk(key, number, nonce, data)
        expected += 1


def check_complete(database, held: int) -> None:
    """Refuse an index that holds fewer (or more) cases than the store says were opened."""
    opened = store.count_opened(database)
    if opened != held:
        raise StoreError(
            f"the case store's chunks hold {held} cases where {opened} were opened:"
            " chunks were removed or changed"
        )


def rebuild(database, opener: Opener, text_questions) -> Ingested:
    """Open every verified envelope again into a new store, keeping the cases' statuses.

    For a store that refuses to unlock (cut, or damaged on disk): the
    envelopes, still sealed and signed, are the record; the store is only
    their index.
    """
    kept = store.forget_store(database)
    key = store_key(database, opener)
    report, _chunks = ingest(database, opener, key, text_questions)
    store.restore_statuses(database, kept)
    return report
