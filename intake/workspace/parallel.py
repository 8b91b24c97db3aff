"""Open a batch's envelopes on several cores, keeping their order and bounded memory.

The main process reads and verifies the batch stream; worker processes,
forked after the key is loaded (so the passphrase is asked once and the key
never crosses a pipe), open chunks of envelopes. At most a few chunks per
worker are in flight, so memory stays constant however large the batch.
"""

from __future__ import annotations

import multiprocessing
from collections import deque
from collections.abc import Iterable, Iterator

CHUNK = 256
CHUNK_BYTES = 4 * 1024 * 1024  # a chunk closes at 256 envelopes or 4 MiB, whichever first
IN_FLIGHT_PER_WORKER = 3

_opener = None  # set in the parent before forking; inherited by the workers


def _open_chunk(chunk: list[bytes], needs_header: bool) -> list[tuple[str, object]]:
    from intake.workspace.reading import open_envelope

    return [open_envelope(data, _opener, needs_header) for data in chunk]


def _chunks(envelopes: Iterable[bytes]) -> Iterator[list[bytes]]:
    """Group envelopes in chunks; if the stream fails, hand over what was read first."""
    chunk: list[bytes] = []
    size = 0
    try:
        for data in envelopes:
            chunk.append(data)
            size += len(data)
            if len(chunk) == CHUNK or size >= CHUNK_BYTES:
                yield chunk
                chunk, size = [], 0
    except Exception:
        if chunk:
            yield chunk
        raise
    if chunk:
        yield chunk


def open_in_workers(
    envelopes: Iterable[bytes], opener, needs_header: bool, jobs: int
) -> Iterator[tuple[str, object]]:
    """Yield each envelope's outcome, in order, opened by `jobs` worker processes.

    An error raised while reading the stream (truncation, a bad signature)
    is raised again after the outcomes of everything read before it.
    """
    global _opener
    _opener = opener
    pending: deque = deque()
    with multiprocessing.get_context("fork").Pool(jobs) as pool:
        try:
            for chunk in _chunks(envelopes):
                pending.append(pool.apply_async(_open_chunk, (chunk, needs_header)))
                if len(pending) >= jobs * IN_FLIGHT_PER_WORKER:
                    yield from pending.popleft().get()
        finally:
            # Whatever stopped the stream, what was read is still reported, in order.
            while pending:
                yield from pending.popleft().get()
