"""DESIGN.md's security invariants that the foundation carries (1, 2, 4, 6, 9).

Each test here fails if its invariant breaks.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from intake import crypto, db, envelope

PACKAGE = Path(__file__).parent.parent / "intake"
CANARY = "CANARY-7f3e-ሰላም-مرحبا"


def files_holding(folder: Path, needle: str) -> list[Path]:
    """Return every file under folder whose bytes contain the needle in common encodings."""
    patterns = [needle.encode("utf-8"), needle.encode("utf-16-le"), needle.encode("unicode_escape")]
    patterns.append(json.dumps(needle).encode())  # \\u-escaped, as a JSON encoder would write it
    hits = []
    for path in folder.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            if any(p in data for p in patterns):
                hits.append(path)
    return hits


def test_canary_sealed_into_outbox_is_in_no_file(intake_cli, field_instance, tmp_path):
    """Invariant 1: no answer in the clear in SQLite, its WAL or journal, logs, temp files."""
    for i in range(20):
        record = {"note": f"{CANARY} {i}", "answers": {"free_text": CANARY}}
        result = intake_cli(
            "seal", "--instance", field_instance.path, input=json.dumps(record).encode()
        )
        assert result.returncode == 0, result.stderr
        assert CANARY.encode() not in result.stdout + result.stderr
    # Also while the database is held open mid-write, WAL not yet checkpointed.
    database = db.open_database(field_instance.path)
    sealed = envelope.seal_record({"x": CANARY}, field_instance.recipient_keys())
    db.add_to_outbox(database, sealed)
    assert (field_instance.path / "intake.sqlite3-wal").exists()
    assert files_holding(field_instance.path, CANARY) == []
    database.close()
    assert files_holding(field_instance.path, CANARY) == []
    # The scan itself must be able to find it: a control file with the canary.
    (tmp_path / "control.txt").write_text(CANARY)
    assert files_holding(tmp_path, CANARY) == [tmp_path / "control.txt"]


def test_finished_record_cannot_be_read_back_on_the_device(field_instance):
    """Invariant 2: the device holds no key that opens what it sealed."""
    from intake.workspace.opening import Opener

    database = db.open_database(field_instance.path)
    sealed = envelope.seal_record({"x": 1}, field_instance.recipient_keys())
    db.add_to_outbox(database, sealed)
    keys_on_device = []
    for path in field_instance.path.rglob("*"):
        if path.is_file() and b"PRIVATE KEY" in path.read_bytes():
            keys_on_device.append(path)
    assert [p.name for p in keys_on_device] == ["device.key"]
    device_key = crypto.load_device_key(keys_on_device[0])
    assert not hasattr(device_key, "exchange")  # Ed25519 signs; it cannot do ECDH
    for key_file in keys_on_device:
        with pytest.raises(crypto.KeyFileError):
            Opener.from_file(key_file, "any passphrase at all")


def _imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text("utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


@pytest.mark.parametrize("role", ["field", "hub"])
def test_field_and_hub_code_never_imports_the_opening_code(role):
    """Invariant 9, statically: no module of the role names the workspace."""
    for path in (PACKAGE / role).rglob("*.py"):
        bad = {name for name in _imports_of(path) if name.startswith("intake.workspace")}
        assert not bad, f"{path} imports {bad}"


@pytest.mark.parametrize("role", ["field", "hub"])
def test_running_field_or_hub_app_never_loads_the_opening_code(role, tmp_path, coordinator_key):
    """Invariant 9, at run time: serve every route of the app, then look at sys.modules."""
    from intake import instance

    inst = instance.create(tmp_path / role, role, [coordinator_key.public_key()])
    script = f"""
import sys
from intake import create_app
app = create_app({{"INSTANCE_PATH": {str(inst.path)!r}}})
client = app.test_client()
for rule in app.url_map.iter_rules():
    if "GET" in rule.methods and not rule.arguments:
        client.get(rule.rule)
loaded = [m for m in sys.modules if m.startswith("intake.workspace")]
print(",".join(loaded))
"""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == ""


def test_opening_code_lives_only_in_the_workspace():
    """Invariant 9: nothing outside workspace/ calls the HPKE open or AES-GCM decrypt path."""
    for path in PACKAGE.rglob("*.py"):
        relative = path.relative_to(PACKAGE).as_posix()
        if relative.startswith("workspace/") or relative == "crypto.py":
            continue
        source = path.read_text("utf-8")
        for needle in ("open_key(", "crypto.decrypt(", "load_recipient_private_key("):
            if needle in source:
                assert relative == "commands/keys.py" and needle == "load_recipient_private_key(", (
                    f"{relative} uses {needle}"
                )


def test_device_key_and_config_are_owner_only(field_instance):
    for name in ("device.key", "intake.json"):
        assert (field_instance.path / name).stat().st_mode & 0o077 == 0
