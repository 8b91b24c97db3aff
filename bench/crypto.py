"""Envelope throughput: Intake against the bare HPKE call, and `intake open` at scale.

Prints, from one run on this machine:
- records sealed and opened per second through Intake's envelope code,
  beside the same HPKE single-shot operation called directly on the library;
- `intake open` on a 100,000-record batch: wall time, records per second,
  the ratio to the direct rate, and the process's peak memory (ru_maxrss).

Usage: python bench/crypto.py [--records 100000] [--jobs 1 2]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from intake import crypto, envelope
from intake.batch import write_batch
from intake.workspace.opening import Opener

PASSPHRASE = "benchmark passphrase"
SAMPLE = {
    "questionnaire": "screening-full",
    "language": "ti",
    "answers": {"dr1": "yes", "note": "ሰላም ኣብ ዶብ ዝሰርሕ ሰብ " * 6, "ar": "مرحبا " * 20},
}


def rate(n: int, fn) -> float:
    """Return calls per second of fn over n calls."""
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return n / (time.perf_counter() - start)


def direct_rates(private_key, n: int) -> tuple[float, float]:
    """Seal and open rates of the bare HPKE call on a 32-byte content key."""
    public_key, info, key = private_key.public_key(), b"x" * 51, os.urandom(32)
    sealed = [crypto.SUITE.encrypt(key, public_key, info=info) for _ in range(n)]
    seal = rate(n, lambda: crypto.SUITE.encrypt(key, public_key, info=info))
    it = iter(sealed)
    open_ = rate(n, lambda: crypto.SUITE.decrypt(next(it), private_key, info=info))
    return seal, open_


def intake_rates(private_key, n: int, device: str) -> tuple[float, float, list[bytes]]:
    """Seal and open rates through Intake's envelope code, as the device `device` seals."""
    public_key = private_key.public_key()
    envelopes = []

    def seal():
        sealed = envelope.seal_record(SAMPLE, [public_key], kind="screening", device=device)
        envelopes.append(sealed.data)

    seal_rate = rate(n, seal)
    opener = Opener(private_key, crypto.key_id(public_key))
    it = iter(envelopes)
    open_rate = rate(n, lambda: opener.open(next(it)))
    return seal_rate, open_rate, envelopes


def write_big_batch(path: Path, sample: list[bytes], records: int, device_key) -> None:
    """Write a batch of `records` envelopes, cycling through the sealed samples."""
    with open(path, "wb") as out:
        envelopes = (sample[i % len(sample)] for i in range(records))
        write_batch(out, envelopes, records, device_key)


def tree_rss_kib(root: int) -> int:
    """Sum the resident memory of a process and all its descendants (Linux /proc)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            parents[int(stat.parent.name)] = int(fields[1])
        except (OSError, IndexError, ValueError):
            continue
    tree, frontier = {root}, [root]
    while frontier:
        pid = frontier.pop()
        children = [c for c, p in parents.items() if p == pid and c not in tree]
        tree.update(children)
        frontier.extend(children)
    total = 0
    for pid in tree:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total


def run_open(key_file: Path, batch: Path, jobs: int) -> tuple[float, int, int]:
    """Run `intake open` on the batch; return wall seconds, lines, and peak RSS in KiB.

    The peak is the larger of the kernel's high-water mark for the main
    process and the sum over its process tree sampled every 20 ms.
    """
    env = {**os.environ, "INTAKE_PASSPHRASE": PASSPHRASE}
    command = [sys.executable, "-m", "intake", "open", "--jobs", str(jobs)]
    command += ["--key", str(key_file), str(batch)]
    peak_tree = 0
    start = time.perf_counter()
    with subprocess.Popen(command, stdout=subprocess.PIPE, env=env) as proc:
        stop = threading.Event()

        def sample() -> None:
            nonlocal peak_tree
            while not stop.wait(0.02):
                peak_tree = max(peak_tree, tree_rss_kib(proc.pid))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        lines = sum(1 for _ in proc.stdout)
        proc.wait()
        stop.set()
        sampler.join()
    wall = time.perf_counter() - start
    peak_main = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if proc.returncode != 0:
        raise SystemExit(f"intake open exited {proc.returncode}")
    return wall, lines, max(peak_main, peak_tree)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--sample", type=int, default=5_000)
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()

    private_key, device_key = crypto.new_recipient_key(), crypto.new_device_key()
    direct_seal, direct_open = direct_rates(private_key, args.sample)
    device = crypto.key_id(device_key.public_key())
    intake_seal, intake_open, sample = intake_rates(private_key, args.sample, device)
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    print(f"padded record: {len(sample[0])} bytes per envelope")
    print(
        f"seal  direct HPKE {direct_seal:9.0f}/s   intake {intake_seal:9.0f}/s"
        f"   ratio {intake_seal / direct_seal:.2f}"
    )
    print(
        f"open  direct HPKE {direct_open:9.0f}/s   intake {intake_open:9.0f}/s"
        f"   ratio {intake_open / direct_open:.2f}"
    )

    with tempfile.TemporaryDirectory() as tmp:
        key_file, batch = Path(tmp) / "coordinator.key", Path(tmp) / "big.batch"
        key_file.write_bytes(crypto.private_key_pem(private_key, PASSPHRASE))
        write_big_batch(batch, sample, args.records, device_key)
        size_mb = batch.stat().st_size / 1e6
        for jobs in args.jobs:
            wall, lines, peak_kib = run_open(key_file, batch, jobs)
            assert lines == args.records, (lines, args.records)
            per_second = lines / wall
            print(
                f"intake open, {args.records} records ({size_mb:.0f} MB batch), --jobs {jobs}:"
                f" {wall:.1f} s, {per_second:.0f} records/s,"
                f" {per_second / direct_open:.2f} of the direct open rate (one core),"
                f" peak memory {peak_kib / 1024:.0f} MB"
            )


if __name__ == "__main__":
    main()
