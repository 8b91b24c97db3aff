"""Helpers for hub tests: an enrolled field device, and batches made from its outbox."""

from __future__ import annotations

import io

from intake import create_app, crypto, db, envelope, instance
from intake.batch import write_batch
from intake.hub.enrolment import enrol, new_code


def make_hub(tmp_path, coordinator_key):
    inst = instance.create(tmp_path / "hub", "hub", [coordinator_key.public_key()])
    app = create_app({"INSTANCE_PATH": str(inst.path), "TESTING": True})
    return inst, app


def enrol_field(hub_inst, field_inst, name="Crossing 7") -> str:
    database = db.open_database(hub_inst.path)
    code = new_code(database, name)
    device_id, _ = enrol(database, code, crypto.raw_public_key(field_inst.device_key()).hex())
    database.close()
    return device_id


def sealed_records(recipients, n: int, device: str, start: int = 0) -> list[envelope.SealedRecord]:
    """Seal n records as the field device `device` would."""
    return [
        envelope.seal_record({"i": i}, recipients, kind="screening", device=device)
        for i in range(start, start + n)
    ]


def batch_bytes(records, device_key) -> bytes:
    out = io.BytesIO()
    write_batch(out, (r.data for r in records), len(records), device_key)
    return out.getvalue()


def post_batch(client, data: bytes, content_type="application/octet-stream"):
    return client.post("/api/v1/batches", data=data, content_type=content_type)


def hub_ids(hub_inst) -> set[str]:
    database = db.open_database(hub_inst.path)
    try:
        return db.envelope_ids(database)
    finally:
        database.close()
