"""Open envelope and batch files as a stream and write the records out.

Memory stays constant however large the batch: a batch is read twice, once
to check every envelope's header and the device's signature, then again to
open, write and drop one envelope after another; nothing of a batch that
fails the first reading is written. Every problem is reported as one line
naming the file (and the record, inside a batch) and the reason.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import BinaryIO, NamedTuple

from intake import crypto
from intake.batch import (
    MAX_ENVELOPE_LENGTH,
    BatchError,
    BatchHeader,
    BatchReader,
    envelope_in_batch,
    is_batch,
)
from intake.envelope import EnvelopeError, NotRecipientError, canonical_json
from intake.workspace import parallel
from intake.workspace.exports import Case, CsvCases
from intake.workspace.opening import Opener

OK, PARTIAL, FAILED = 0, 1, 2


class JsonLinesWriter:
    """Write each record's canonical JSON on a line of its own."""

    FLUSH_AT = 256 * 1024  # one system call per quarter megabyte, not per record

    def __init__(self, out: BinaryIO, with_header: bool = False):
        self.out = out
        self.with_header = with_header
        self.pending: list[bytes] = []
        self.pending_size = 0

    @property
    def needs_header(self) -> bool:
        return self.with_header

    def write(self, opened: Opened) -> None:
        record = opened.record
        if self.with_header:
            record = b'{"header":%s,"record":%s}' % (canonical_json(opened.header), record)
        if b"\n" in record:  # canonical JSON has none; one would forge a line of output
            raise RecordShapeError("the record holds a raw line break")
        self.pending.append(record)
        self.pending_size += len(record)
        if self.pending_size >= self.FLUSH_AT:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            self.pending.append(b"")
            self.out.write(b"\n".join(self.pending))
            self.pending, self.pending_size = [], 0
        self.out.flush()

    def close(self) -> None:
        self.flush()


class RecordShapeError(Exception):
    """An opened record cannot be written in the chosen format."""


class CsvWriter:
    """Write one row per record in the workspace export's columns (exports.py).

    The columns are fixed, so memory stays constant: a record of another
    questionnaire or kind gets the header columns and empty answers, and
    whatever no column holds goes, as JSON, into `extra_fields` and
    `extra_answers`. Nothing is written, not even the header row, until a
    record opens.
    """

    needs_header = True

    def __init__(self, out: BinaryIO):
        self.cases = CsvCases(out)

    def write(self, opened: Opened) -> None:
        try:
            values = json.loads(opened.record)
        except (ValueError, RecursionError):
            raise RecordShapeError("the record is not JSON") from None
        if not isinstance(values, dict):
            raise RecordShapeError("the record is not a JSON object")
        self.cases.write(Case(opened.header, values))

    def flush(self) -> None:
        self.cases.flush()

    def close(self) -> None:
        self.cases.close()


@dataclass
class FileReport:
    """What happened to one file: records opened, problems, records not for this key."""

    name: str
    opened: int = 0
    problems: list[str] = field(default_factory=list)
    not_for_key: int = 0
    notes: list[str] = field(default_factory=list)

    def status(self) -> int:
        if not self.problems and not self.not_for_key:
            return OK
        return PARTIAL if self.opened else FAILED


class Opened(NamedTuple):
    """One opened record, with its header when the writer needs it."""

    header: dict | None
    record: bytes


def open_envelope(data: bytes, opener: Opener, needs_header: bool) -> tuple[str, object]:
    """Open one envelope; return ("ok", Opened), ("not_for_key", reason) or ("bad", reason)."""
    try:
        envelope, record = opener.open(data)
        return "ok", Opened(envelope.header if needs_header else None, record)
    except NotRecipientError as e:
        return "not_for_key", str(e)
    except EnvelopeError as e:
        return "bad", str(e)
    except (ValueError, RecursionError, OverflowError):
        # Anyone with the public key can seal: a hostile envelope is one bad record.
        return "bad", "not a well-formed envelope"


def _record(outcome: tuple[str, object], where: str, writer, report: FileReport) -> None:
    status, value = outcome
    if status == "ok":
        try:
            writer.write(value)
        except RecordShapeError as e:
            report.problems.append(f"{where}{e}")
            return
        report.opened += 1
    elif status == "not_for_key" and where:
        report.not_for_key += 1
    else:
        report.problems.append(f"{where}{value}")


def _open_single(data: bytes, opener: Opener, writer, report: FileReport) -> None:
    _record(open_envelope(data, opener, writer.needs_header), "", writer, report)


def signer_note(header: BatchHeader, signers: set[bytes] | None) -> str:
    """Say which device signed a batch, and whether it is one of the trusted signers."""
    public_key = crypto.device_public_key(header.signer)
    who = f"batch signed by device {header.device} (fingerprint {crypto.fingerprint(public_key)})"
    if signers is None:
        # Anyone can make a device key and sign a batch: only a list of enrolled keys tells.
        return f"{who}, not checked against a list of enrolled devices (use --signers)"
    if header.signer in signers:
        return f"{who}, one of the --signers"
    raise BatchError(f"{who}, which is not one of the --signers: refused")


def _verify_batch(reader: BatchReader) -> None:
    """First reading: every envelope's framing and header, its device, then the signature."""
    for index, data in enumerate(reader.envelopes(), start=1):
        try:
            envelope_in_batch(data, reader.header)
        except EnvelopeError as e:
            raise BatchError(f"record {index}: {e}") from None


def _open_batch(stream, opener: Opener, writer, report: FileReport, jobs: int, signers) -> None:
    first = BatchReader(stream)
    note = signer_note(first.header, signers)  # an untrusted signer: refused before reading on
    _verify_batch(first)
    report.notes.append(note)
    stream.seek(0)
    envelopes = BatchReader(stream).envelopes_again(first)
    outcomes = (
        parallel.open_in_workers(envelopes, opener, writer.needs_header, jobs)
        if jobs > 1
        else (open_envelope(data, opener, writer.needs_header) for data in envelopes)
    )
    try:
        for index, outcome in enumerate(outcomes, start=1):
            _record(outcome, f"record {index}: ", writer, report)
    except BatchError as e:
        report.problems.append(str(e))


def open_file(
    path,
    opener: Opener,
    writer,
    say: Callable[[str], None],
    jobs: int = 1,
    signers: set[bytes] | None = None,
) -> int:
    """Open one envelope or batch file, write its records, report; return its status.

    `signers` holds the raw public keys of the devices trusted to sign
    batches; None when no list was given (every batch is then reported with
    its signer). A loose envelope carries no signature, so with a list it is
    refused: nothing tells which device sealed it.
    """
    report = FileReport(str(path))
    try:
        with open(path, "rb") as stream:
            first = stream.peek(8)[:8] if hasattr(stream, "peek") else b""
            if is_batch(first):
                _open_batch(stream, opener, writer, report, jobs, signers)
            elif signers is not None:
                report.problems.append("not a signed batch: with --signers only batches open")
            else:
                data = stream.read(MAX_ENVELOPE_LENGTH + 1)
                if len(data) > MAX_ENVELOPE_LENGTH:
                    raise BatchError("too large to be an envelope")
                _open_single(data, opener, writer, report)
    except BrokenPipeError:
        raise  # the reader of our output went away: not this file's fault
    except io.UnsupportedOperation:
        report.problems.append("a batch is read twice: give a file, not a pipe")
    except OSError as e:
        report.problems.append(f"cannot read: {e.strerror}")
    except BatchError as e:
        report.problems.append(str(e))
    except (ValueError, RecursionError, OverflowError):
        report.problems.append("not a well-formed batch")
    writer.flush()
    for note in report.notes:
        say(f"{report.name}: {note}")
    for problem in report.problems:
        say(f"{report.name}: {problem}")
    if report.not_for_key:
        say(
            f"{report.name}: {report.not_for_key} record(s) not sealed to key "
            f"{opener.key_id}, skipped"
        )
    return report.status()
