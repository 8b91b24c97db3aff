"""Write Intake's envelope test vectors (run once; the output is committed).

    python tests/vectors/generate.py              # every vector, with new keys
    python tests/vectors/generate.py --batch-v2   # add only the batch v2 vector

The vectors pin envelope format v1 and batch formats v1 (`all.batch`) and
v2 (`all-v2.batch`): a reader written from docs/envelope.md alone must open
every envelope here with `coordinator.key` (passphrase in `manifest.json`)
and get back exactly the `record_hex` bytes, and verify both batches and
every record signature of the v2 batch with `device.pub` and
`device-v2.pub`. `--batch-v2` seals the same records again, for a device
of its own, to the committed recipient keys, and leaves every other file
as it is, so the v1 vectors written by older code stay as they were. Sealing is
randomised (HPKE ephemeral keys, content keys, nonces), so regenerating
writes different bytes that must still open; never regenerate to make a
failing test pass.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from intake import crypto, envelope
from intake.batch import VERSION_1, record_signature, write_batch

HERE = Path(__file__).parent
PASSPHRASE = "intake test vectors v1"

RECORDS = [
    ("empty", {}, {}),
    ("ascii", {"answer": "yes", "n": 3}, {"kind": "screening"}),
    (
        "arabic-tigrinya",
        {"ar": "هل أنت في أمان الآن؟", "ti": "ሕጂ ብሰላም ዲኻ፧", "mixed": "ID 42 — رقم ٤٢ — ቁጽሪ"},
        {"kind": "screening", "questionnaire": "screening-full@1"},
    ),
    ("long", {"note": "x" * 1500}, {"kind": "referral"}),
    ("block-edge", {"t": "y" * 503}, {}),  # 511 bytes of JSON: pads to one block
    ("block-full", {"t": "y" * 504}, {}),  # 512 bytes: the marker needs a second block
]


def main() -> None:
    first, second = crypto.new_recipient_key(), crypto.new_recipient_key()
    (HERE / "coordinator.key").write_bytes(crypto.private_key_pem(first, PASSPHRASE))
    (HERE / "coordinator.pub").write_bytes(crypto.public_key_pem(first.public_key()))
    (HERE / "second.pub").write_bytes(crypto.public_key_pem(second.public_key()))
    device_key = crypto.new_device_key()
    (HERE / "device.pub").write_bytes(crypto.public_key_pem(device_key.public_key()))
    entries, sealed_all = [], []
    for name, record, options in RECORDS:
        sealed = envelope.seal_record(
            record,
            [first.public_key(), second.public_key()],
            device=crypto.key_id(device_key.public_key()),
            **options,
        )
        (HERE / f"{name}.env").write_bytes(sealed.data)
        sealed_all.append(sealed.data)
        entries.append(
            {
                "file": f"{name}.env",
                "header": envelope.parse_envelope(sealed.data).header,
                "record_hex": envelope.canonical_json(record).hex(),
            }
        )
    with open(HERE / "all.batch", "wb") as out:
        write_batch(out, sealed_all, len(sealed_all), device_key, version=VERSION_1)
    manifest = {
        "passphrase": PASSPHRASE,
        "key_id": crypto.key_id(first.public_key()),
        "fingerprint": crypto.fingerprint_hex(first.public_key()),
        "second_key_id": crypto.key_id(second.public_key()),
        "device_id": crypto.key_id(device_key.public_key()),
        "envelopes": entries,
        "batch": {"file": "all.batch", "count": len(sealed_all)},
    }
    _write_manifest(manifest)
    add_batch_v2()


def _write_manifest(manifest: dict) -> None:
    (HERE / "manifest.json").write_text(
        json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", "utf-8"
    )


def add_batch_v2() -> None:
    """Seal the records again for a device of their own and write them as one batch v2."""
    manifest = json.loads((HERE / "manifest.json").read_text("utf-8"))
    recipients = [
        crypto.load_recipient_public_key(HERE / "coordinator.pub"),
        crypto.load_recipient_public_key(HERE / "second.pub"),
    ]
    device_key = crypto.new_device_key()
    device = crypto.key_id(device_key.public_key())
    (HERE / "device-v2.pub").write_bytes(crypto.public_key_pem(device_key.public_key()))
    sealed = [
        envelope.seal_record(record, recipients, device=device, **options).data
        for _name, record, options in RECORDS
    ]
    with open(HERE / "all-v2.batch", "wb") as out:
        write_batch(out, sealed, len(sealed), device_key)
    manifest["batch_v2"] = {
        "file": "all-v2.batch",
        "count": len(sealed),
        "device_id": device,
        "records": [
            {
                "header": envelope.parse_envelope(data).header,
                "record_hex": envelope.canonical_json(record).hex(),
                "record_signature_hex": record_signature(device_key, data).hex(),
            }
            for data, (_name, record, _options) in zip(sealed, RECORDS, strict=True)
        ],
    }
    _write_manifest(manifest)


if __name__ == "__main__":
    if sys.argv[1:] == ["--batch-v2"]:
        add_batch_v2()
    else:
        main()
