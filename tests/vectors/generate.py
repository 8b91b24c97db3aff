"""Write Intake's envelope test vectors (run once; the output is committed).

    python tests/vectors/generate.py

The vectors pin format v1: a reader written from docs/envelope.md alone
must open every envelope here with `coordinator.key` (passphrase in
`manifest.json`) and get back exactly the `record_hex` bytes. Sealing is
randomised (HPKE ephemeral keys, content keys, nonces), so regenerating
writes different bytes that must still open; never regenerate to make a
failing test pass.
"""

from __future__ import annotations

import json
from pathlib import Path

from intake import crypto, envelope
from intake.batch import write_batch

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
        write_batch(out, sealed_all, len(sealed_all), device_key)
    manifest = {
        "passphrase": PASSPHRASE,
        "key_id": crypto.key_id(first.public_key()),
        "fingerprint": crypto.fingerprint_hex(first.public_key()),
        "second_key_id": crypto.key_id(second.public_key()),
        "device_id": crypto.key_id(device_key.public_key()),
        "envelopes": entries,
        "batch": {"file": "all.batch", "count": len(sealed_all)},
    }
    (HERE / "manifest.json").write_text(
        json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", "utf-8"
    )


if __name__ == "__main__":
    main()
