"""Exports of the workspace's cases: open each chosen case again and hand it to a writer.

Shared by the web app's export button and `intake export`, so that both
write the same file for the same filter.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

from intake import canonical
from intake.db import case_store as store
from intake.workspace import exports, htcds, xlsx

WRITERS = {
    "csv": exports.write_csv,
    "xlsx": xlsx.write_xlsx,
    "htcds": htcds.write_htcds,
}


def export(database, opener, cases, fmt: str, out: BinaryIO) -> int:
    """Write the cases (index entries, in order) to `out` in a format; return how many."""
    written = [0]

    def opened() -> Iterator[dict]:
        for case in cases:
            data = store.verified_envelope(database, case.device, case.id)
            if data is None:
                continue  # cannot happen for an indexed case; never a half row
            envelope, record = opener.open(data)
            written[0] += 1
            yield {
                "header": envelope.header,
                "record": canonical.decode(record),
                "device_name": case.post,
                "status": case.status,
            }

    WRITERS[fmt](out, opened())
    return written[0]
