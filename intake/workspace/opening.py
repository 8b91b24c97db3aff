"""Open envelopes with a coordinator's private key.

This module is the only place where a private key meets an envelope. It
lives under `workspace/` so that the field and hub roles, which must never
open a record, never import it (DESIGN invariant 9; a test checks).
"""

from __future__ import annotations

from dataclasses import dataclass

from intake import crypto
from intake.envelope import (
    Envelope,
    NotRecipientError,
    TamperedError,
    parse_envelope,
    record_from_padded,
)


@dataclass(frozen=True)
class Opener:
    """A coordinator's private key, ready to open envelopes sealed to it."""

    private_key: object
    key_id: str

    @classmethod
    def from_file(cls, path, passphrase: str) -> Opener:
        """Load an encrypted private key file."""
        key = crypto.load_recipient_private_key(path, passphrase)
        return cls(key, crypto.key_id(key.public_key()))

    def open(self, data: bytes) -> tuple[Envelope, bytes]:
        """Open one envelope; return it (header checked) and the record's canonical JSON bytes."""
        envelope = parse_envelope(data)
        return envelope, self.open_parsed(envelope)

    def open_parsed(self, envelope: Envelope) -> bytes:
        """Open an already parsed envelope; return the record's JSON bytes, checked canonical."""
        stanza = next((s for s in envelope.stanzas if s.key_id == self.key_id), None)
        if stanza is None:
            raise NotRecipientError(
                f"not sealed to key {self.key_id} (recipients: "
                f"{', '.join(s.key_id for s in envelope.stanzas)})"
            )
        try:
            content_key = crypto.open_key(stanza.sealed_key, self.private_key, envelope.info)
            padded = crypto.decrypt(
                content_key, envelope.nonce, envelope.ciphertext, envelope.associated_data
            )
        except crypto.AuthenticationError:
            raise TamperedError(
                "does not authenticate: changed, damaged or wrongly keyed"
            ) from None
        # Authentic is not well formed: whoever holds the public key chose these
        # bytes. A raw newline or a second object would forge lines of the output.
        return record_from_padded(padded)


def open_record(data: bytes, private_key) -> tuple[dict, bytes]:
    """Open one envelope with a private key; return (header, record JSON bytes)."""
    envelope, record = Opener(private_key, crypto.key_id(private_key.public_key())).open(data)
    return envelope.header, record
