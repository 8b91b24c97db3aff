"""Exports of the workspace's cases: open each chosen case again and hand it to a writer.

Shared by the web app's export button and `intake export`, so that both
write the same file for the same filter.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

from intake import db
from intake.db import case_store as store
from intake.workspace import exports, htcds, xlsx
from intake.workspace.casepage import CaseDoesNotOpen, open_checked

WRITERS = {
    "csv": exports.write_csv,
    "xlsx": xlsx.write_xlsx,
    "htcds": htcds.write_htcds,
}


class Stopped(Exception):
    """The workspace was locked while the export was being written."""


def export(
    database, opener, cases, fmt: str, out: BinaryIO, keep_going=lambda: True
) -> tuple[int, int]:
    """Write the cases (index entries, in order) in a format; return (written, skipped).

    A case whose envelope no longer opens as its own record is skipped and
    counted, never half written. `keep_going` is asked before each case:
    once the workspace is locked the key opens nothing more (Stopped).
    """
    written, skipped = [0], [0]
    devices = {d: row["public_key"] for d, row in db.pinned_devices(database).items()}

    def opened() -> Iterator[dict]:
        for case in cases:
            if not keep_going():
                raise Stopped("the workspace was locked during the export")
            held = store.verified_envelope(database, case.device, case.id)
            try:
                header, record = open_checked(case, held, opener, devices.get(case.device))
            except CaseDoesNotOpen:
                skipped[0] += 1
                continue
            written[0] += 1
            yield {"header": header, "record": record, "device_name": case.post,
                   "status": case.status}  # fmt: skip

    WRITERS[fmt](out, opened())
    return written[0], skipped[0]
