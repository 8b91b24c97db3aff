"""Sync throughput over loopback: one field device, then 20 at once, to a real hub.

Prints records per second from one field device to the hub (10,000 records,
the hub served by `intake serve` in its own process), and the hub's total
rate with 20 field devices pushing at once (each in its own process).

Usage: python bench/sync.py [--records 10000] [--devices 20] [--per-device 1000]
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from intake import crypto, db, envelope, instance  # noqa: E402
from intake.field import sync  # noqa: E402
from tests.browser import LiveServer  # noqa: E402
from tests.hubs import enrol_field  # noqa: E402


def field_device(root: Path, name: str, hub_inst, hub_url: str, records: int, key):
    """Create, enrol and fill a field instance; return it."""
    field = instance.create(root / name, "field", [key.public_key()])
    enrol_field(hub_inst, field, name)
    database = db.open_database(field.path)
    db.set_sync_state(database, "hub_url", hub_url)
    recipients, device = field.recipient_keys(), field.device_id()
    sample = {"answers": {"note": "ሰላም " * 40, "dr1": "yes"}, "language": "ti"}
    with database.atomic():
        for _ in range(records):
            sealed = envelope.seal_record(sample, recipients, kind="screening", device=device)
            db.add_to_outbox(database, sealed)
    database.close()
    return field


def _ready(_n: int) -> bool:
    """Make a worker import everything before the clock starts."""
    return sync.CHUNK > 0


def _sync_one(path: str) -> int:
    return sync.sync(instance.load(path), retries=5).stored


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--devices", type=int, default=20)
    parser.add_argument("--per-device", type=int, default=1_000)
    args = parser.parse_args()
    key = crypto.new_recipient_key()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        hub_inst = instance.create(root / "hub", "hub", [key.public_key()])
        server = LiveServer(hub_inst.path)
        server.start()
        try:
            one = field_device(root, "one", hub_inst, server.url, args.records, key)
            start = time.perf_counter()
            stored = sync.sync(one, retries=5).stored
            single = time.perf_counter() - start
            assert stored == args.records, stored
            print(
                f"one device: {args.records} records in {single:.2f} s,"
                f" {args.records / single:.0f} records/s (batches of {sync.CHUNK})"
            )

            paths = [
                str(field_device(root, f"d{i}", hub_inst, server.url, args.per_device, key).path)
                for i in range(args.devices)
            ]
            with multiprocessing.get_context("spawn").Pool(args.devices) as pool:
                # Start and warm every device process first: time the pushing, not Python's start.
                pool.map(_ready, range(args.devices), chunksize=1)
                start = time.perf_counter()
                counts = pool.map(_sync_one, paths, chunksize=1)
                together = time.perf_counter() - start
            total = sum(counts)
            assert total == args.devices * args.per_device, total
            print(
                f"{args.devices} devices at once: {total} records in {together:.2f} s,"
                f" hub total {total / together:.0f} records/s"
            )
            database = db.open_database(hub_inst.path)
            held = db.count_envelopes(database)
            database.close()
            print(f"hub holds {held} envelopes, each once")
        finally:
            server.stop()


if __name__ == "__main__":
    main()
