"""Batches carried by hand into the workspace's store, with the origin checked as for a pull."""

from __future__ import annotations

from pathlib import Path

from intake import crypto, db
from intake.batch import BatchError, BatchReader, envelope_in_batch
from intake.envelope import EnvelopeError, utc_now
from intake.workspace import origin


class BatchImportError(Exception):
    """The batch file is refused whole."""


def _signer(header, pinned: dict[str, dict], signers: set[bytes] | None) -> dict:
    """Return the pinned device (or one given with --signers) that must have signed the batch."""
    known = pinned.get(header.device)
    if known is not None:
        if known["state"] != "pinned":
            raise BatchImportError(f"device {header.device}: the hub changed its key; not verified")
        if known["public_key"] != header.signer.hex():
            raise BatchImportError(f"signed by another key than the one pinned for {header.device}")
        return known
    if signers and header.signer in signers:
        return {"device": header.device, "revoked": None, "state": "pinned"}
    raise BatchImportError(
        f"device {header.device} is not pinned here (run intake pull, or give --signers)"
    )


def read_batch(path: Path, pinned: dict[str, dict], signers: set[bytes] | None) -> list[dict]:
    """Read and verify a whole batch file; return its rows for the store (nothing if it fails)."""
    received, rows = utc_now(), []
    try:
        with open(path, "rb") as stream:
            reader = BatchReader(stream)
            known = _signer(reader.header, pinned, signers)
            # records() raises before the end if any signature fails: rows
            # are stored only after the last record and the batch signature.
            for data, signature in reader.records():
                header = envelope_in_batch(data, reader.header).header
                state, reason = origin.after_revocation(header, known)
                rows.append(
                    {
                        "device": reader.header.device,
                        "id": header["id"],
                        "kind": header["kind"],
                        "created": header["created"],
                        "envelope": data,
                        "signature": signature,
                        "source": "file",
                        "received": received,
                        "origin": state,
                        "reason": reason,
                    }
                )
    except OSError as e:
        raise BatchImportError(e.strerror) from None
    except (BatchError, EnvelopeError) as e:
        raise BatchImportError(str(e)) from None
    return rows


def import_batch(database, path: Path, signers: set[bytes] | None) -> tuple[list[dict], int]:
    """Verify a batch file and store what is new; return (new rows, records in the file)."""
    rows = read_batch(path, db.pinned_devices(database), signers)
    return db.store_pulled(database, rows), len(rows)


def raw_signers(keys) -> set[bytes]:
    """Return device public keys as raw bytes."""
    return {crypto.raw_public_bytes(k) for k in keys}
