"""Workspaces with cases in them, for the tests of the coordinator's pages and exports.

Records are built the way a field device builds them (`record_of`): real
questionnaire answers, the assessment the questionnaire computes, sealed to
the coordinator's key and signed with a device key the workspace pinned.
"""

from __future__ import annotations

import uuid
from pathlib import Path

from click.testing import CliRunner

from intake import crypto, db, envelope, instance
from intake.commands import main
from intake.field.interview import reference
from intake.questionnaire import load_questionnaire
from tests.conftest import PASSPHRASE, TEST_LOG2_N, write_key_pair
from tests.screening import add_user

COORDINATOR = "coordinator"


def make_workspace(folder: Path, coordinator_key) -> instance.Instance:
    """A workspace holding the coordinator's key, with a user of each role named after it."""
    key_file, _pub = write_key_pair(folder.parent / f"{folder.name}-keys", coordinator_key)
    result = CliRunner().invoke(
        main,
        ["init", "--instance", str(folder), "--role", "workspace", "--key", str(key_file)],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    inst = instance.load(folder)
    for role in ("officer", "ngo", "coordinator", "admin"):
        add_user(inst, role, role)
    return inst


def install_key(inst: instance.Instance, coordinator_key) -> None:
    """Give a workspace made without `--key` the coordinator's key (passphrase PASSPHRASE)."""
    instance.add_coordinator_key(
        inst.path, crypto.private_key_pem(coordinator_key, PASSPHRASE, log2_n=TEST_LOG2_N)
    )


def screening_record(
    answers: dict,
    *,
    device: str,
    questionnaire: str = "screening-short",
    language: str = "ar",
    officer: str = "officer",
    created: str | None = None,
) -> dict:
    """Build a record as a field device seals it, assessed by the questionnaire itself."""
    q = load_questionnaire(questionnaire)
    kept = q.effective_answers(answers)
    record_id = str(uuid.uuid4())
    assessment = q.assess(kept)
    return {
        "id": record_id,
        "reference": reference(record_id),
        "kind": "screening",
        "questionnaire": {"id": q.id, "version": q.version},
        "languages": {"respondent": language, "officer": "en"},
        "started": created or envelope.utc_now(),
        "finished": created or envelope.utc_now(),
        "officer": officer,
        "device": device,
        "answers": kept,
        "indicators": q.indicators_from_answers(kept),
        "child": q.is_child(kept),
        "urgent": q.urgent_flags(kept),
        "assessment": {
            k: [str(r) for r in v] if k == "reasons" else v for k, v in assessment.items()
        },
    }


class Device:
    """A field device as a workspace sees it: its key, pinned under a name."""

    def __init__(self, name: str = "Crossing 7"):
        self.key = crypto.new_device_key()
        self.id = crypto.key_id(self.key.public_key())
        self.name = name

    def pin(self, inst: instance.Instance) -> None:
        database = db.open_database(inst.path)
        try:
            db.pin_device(
                database,
                {
                    "device": self.id,
                    "name": self.name,
                    "enrolled": envelope.utc_now(),
                    "public_key": crypto.raw_public_key(self.key).hex(),
                    "fingerprint": crypto.fingerprint(self.key.public_key()),
                    "pinned_at": envelope.utc_now(),
                    "revoked": None,
                    "state": "pinned",
                },
            )
        finally:
            database.close()

    def seal(self, record: dict, recipients: list, created: str | None = None) -> dict:
        """Seal and sign one record; return its row for the workspace's store."""
        q = record["questionnaire"]
        sealed = envelope.seal_record(
            record,
            recipients,
            kind=record["kind"],
            record_id=record["id"],
            created=created,
            device=self.id,
            questionnaire=f"{q['id']}@{q['version']}",
        )
        header = envelope.parse_envelope(sealed.data).header
        return {
            "device": self.id,
            "id": header["id"],
            "kind": header["kind"],
            "created": header["created"],
            "envelope": sealed.data,
            "signature": crypto.sign_record(self.key, sealed.data),
            "source": "hub",
            "received": envelope.utc_now(),
            "origin": "verified",
            "reason": None,
        }


def store_rows(inst: instance.Instance, rows: list[dict]) -> None:
    """Put pulled rows in the workspace's store, as a pull would."""
    database = db.open_database(inst.path)
    try:
        db.store_pulled(database, rows)
    finally:
        database.close()


# Answers of the short screening for a few kinds of people (ids from screening-short.toml).
ADULT_NO_INDICATORS = {"danger_now": "no", "under_18": "no", "age": 34}
