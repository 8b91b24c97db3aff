"""The workspace at scale: the pull's records/s and memory, then the case list's figures.

Fills a hub with 100,000 envelopes sealed in-process by one device key (each
with its record signature, stored through the db layer as if synced), then
times a real `intake pull` of all of them from a real `intake serve` on
127.0.0.1, with every record signature checked by the workspace. Target: at
least 5,000 records/s.

Then, by bench/cases.py on realistic screenings: time from unlock to the
first page of the case list (target < 2 s), later pages and filters
(< 200 ms) and the web process's peak memory (< 500 MB).

Usage: python bench/workspace.py [--records 100000] [--pull-only]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import cases  # noqa: E402
from intake import crypto, db, envelope, instance  # noqa: E402
from intake.batch import record_signature  # noqa: E402
from intake.hub.coordinators import new_token  # noqa: E402
from intake.workspace.pulling import connect  # noqa: E402
from tests.browser import LiveServer  # noqa: E402
from tests.hubs import enrol_field  # noqa: E402

CHUNK = 5_000


def fill_hub(hub_inst, field, records: int, key) -> None:
    """Seal `records` screenings with the field's device key and store them on the hub."""
    database = db.open_database(hub_inst.path)
    device_key, device = field.device_key(), field.device_id()
    sample = {"answers": {"note": "ሰላም " * 40, "dr1": "yes"}, "language": "ti"}
    for start in range(0, records, CHUNK):
        rows = []
        for _ in range(min(CHUNK, records - start)):
            sealed = envelope.seal_record(
                sample, [key.public_key()], kind="screening", device=device
            )
            signature = record_signature(device_key, sealed.data)
            rows.append((sealed.record_id, sealed.kind, sealed.created, sealed.data, signature))
        batch = {
            "batch_id": str(uuid.uuid4()),
            "device": device,
            "received": envelope.utc_now(),
            "count": len(rows),
            "rejected": 0,
            "source": "http",
        }
        db.store_batch(database, batch, rows)
    database.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--jobs", type=int, default=0, help="intake pull --jobs (default: its own)")
    parser.add_argument(
        "--pull-only", action="store_true", help="Skip the case list figures (bench/cases.py)."
    )
    args = parser.parse_args()
    key = crypto.new_recipient_key()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        hub_inst = instance.create(root / "hub", "hub", [key.public_key()])
        field = instance.create(root / "field", "field", [key.public_key()])
        enrol_field(hub_inst, field, "Bench device")
        start = time.perf_counter()
        fill_hub(hub_inst, field, args.records, key)
        print(f"sealed and stored {args.records} envelopes in {time.perf_counter() - start:.1f} s")
        database = db.open_database(hub_inst.path)
        token = new_token(database, "bench")
        database.close()
        server = LiveServer(hub_inst.path)
        server.start()
        try:
            workspace = instance.create(root / "workspace", "workspace", [])
            connect(workspace, server.url, token, None)
            env = {k: v for k, v in os.environ.items() if not k.startswith("INTAKE_")}
            command = [sys.executable, "-m", "intake", "pull", "--instance", str(workspace.path)]
            command += ["--jobs", str(args.jobs)] if args.jobs else []
            load_before = os.getloadavg()[0]
            start = time.perf_counter()
            result = subprocess.run(command, capture_output=True, env=env, check=False)  # noqa: S603
            elapsed = time.perf_counter() - start
            usage = resource.getrusage(resource.RUSAGE_CHILDREN)
            peak, cpu = usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime
        finally:
            server.stop()
        summary = result.stdout.decode().strip().splitlines()[-1:]
        assert result.returncode == 0, result.stderr.decode()
        print(f"intake pull: {summary[0] if summary else ''}")
        print(
            f"pull: {args.records} records in {elapsed:.2f} s, {args.records / elapsed:.0f}"
            f" records/s (pages of up to 5,000; hub and workspace on loopback; target 5,000)"
        )
        print(f"peak memory of intake pull: {peak:.0f} MiB (its largest process)")
        # On a shared machine the wall clock measures the neighbours too: the
        # load before the pull is theirs (and this bench's sealing), after it ours too.
        load = os.getloadavg()[0]
        print(
            f"CPU time of intake pull and its workers: {cpu:.2f} s"
            f" (load average {load_before:.1f} before the pull, {load:.1f} after)"
        )
    if not args.pull_only:
        # Then the coordinator's side: realistic screenings, unlocked and browsed.
        cases.report(cases.run(args.records))


if __name__ == "__main__":
    main()
