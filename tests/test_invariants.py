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
from tests.canary import describe, encodings_of, files_holding, holds

ROOT = Path(__file__).parent.parent
PACKAGE = ROOT / "intake"
CANARY = "CANARY-7f3e-ሰላም-مرحبا"


def scanned_tmpdir(tmp_path: Path) -> dict[str, str]:
    """An environment whose temporary files (Python's and SQLite's) land where a test scans."""
    folder = tmp_path / "tmpdir"
    folder.mkdir(exist_ok=True)
    return {"TMPDIR": str(folder), "SQLITE_TMPDIR": str(folder)}


def test_canary_sealed_into_outbox_is_in_no_file(intake_cli, field_instance, tmp_path):
    """Invariant 1: no answer in the clear in SQLite, its WAL or journal, logs, temp files."""
    env = scanned_tmpdir(tmp_path)
    for i in range(20):
        record = {"note": f"{CANARY} {i}", "answers": {"free_text": CANARY}}
        result = intake_cli(
            "seal", "--instance", field_instance.path, input=json.dumps(record).encode(), env=env
        )
        assert result.returncode == 0, result.stderr
        assert not holds(result.stdout + result.stderr, CANARY)
    assert describe(Path(env["TMPDIR"]), CANARY) == []
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


def test_a_screening_served_by_intake_serve_leaves_no_canary_anywhere(tmp_path, coordinator_key):
    """Invariant 1 end to end: the real server, its temporary files, its database, its log.

    `intake serve` runs with TMPDIR (and SQLite's) pointed at a folder scanned
    here; an officer pauses an interview, resumes and finishes it with the
    canary in every text answer, over HTTP with CSRF on as in production.
    """
    from intake import instance
    from tests.browser import LiveServer
    from tests.screening import add_user, complete_screening
    from tests.served import LiveClient, sign_in

    field = instance.create(tmp_path / "field", "field", [coordinator_key.public_key()])
    add_user(field, "officer", "officer")
    env = scanned_tmpdir(tmp_path)
    server = LiveServer(field.path, env=env)
    server.start()
    try:
        client = sign_in(LiveClient(server.url), "officer")
        _pause_with_canary_in_every_text_answer(client)
        client = sign_in(LiveClient(server.url), "officer")
        finished, _draft, _visited = complete_screening(client, "screening-full", text=CANARY)
        assert finished.status_code == 200
        assert not holds(finished.get_data(), CANARY)  # the end screen shows no answer either
    finally:
        server.stop()
    leaks = describe(field.path, CANARY) + describe(Path(env["TMPDIR"]), CANARY)
    assert leaks == [], leaks
    assert not holds("".join(server.output).encode(), CANARY), "the server's log holds it"
    database = db.open_database(field.path)
    assert db.count_pending(database) == 1
    database.close()


def _pause_with_canary_in_every_text_answer(client) -> None:
    """Start a full screening, type the canary into every text question, then pause."""
    from intake.questionnaire import load_questionnaire

    form = {"questionnaire": "screening-full", "respondent_language": "en"}
    location = client.post("/screening/start", data=form).headers["Location"]
    draft_url = location.rsplit("/", 1)[0]
    typed = 0
    for section in load_questionnaire("screening-full").sections:
        texts = [q.id for q in section.questions if q.type in ("short_text", "long_text")]
        if texts:
            answers = {t: CANARY for t in texts} | {"action": "back"}
            assert client.post(f"{draft_url}/{section.id}", data=answers).status_code == 303
            typed += len(texts)
    assert typed >= 2
    assert client.post(location, data={"action": "pause"}).status_code == 303


def _embedded(form: bytes, rng) -> bytes:
    noise = rng.randbytes(rng.randrange(0, 300))
    return noise + form + rng.randbytes(rng.randrange(0, 300))


def test_the_canary_scan_finds_every_written_form(tmp_path):
    """The scan itself: each form, at any offset, is found; random bytes are not."""
    import base64
    import gzip
    import random
    import zlib

    rng = random.Random(12)  # noqa: S311 - test data, not secrets
    text = json.dumps({"answers": {"q": CANARY}}, ensure_ascii=False).encode()
    samples = {name: _embedded(form, rng) for name, form in encodings_of(CANARY).items()}
    for shift in range(3):  # base64 of a longer text, the canary at each alignment
        samples[f"b64 of text {shift}"] = base64.b64encode(b"x" * shift + text)
        samples[f"wrapped b64 {shift}"] = base64.encodebytes(b"y" * shift + text * 3)
        samples[f"urlsafe b64 {shift}"] = base64.urlsafe_b64encode(b"z" * shift + text)
    samples["gzip"] = _embedded(gzip.compress(text), rng)
    samples["zlib"] = _embedded(zlib.compress(text), rng)
    samples["utf-16 text"] = _embedded(text.decode().encode("utf-16-le"), rng)
    for name, data in samples.items():
        (tmp_path / name.replace("/", "-")).write_bytes(data)
    (tmp_path / "noise").write_bytes(rng.randbytes(200_000) + zlib.compress(b"nothing here"))
    found = {path.name for path in files_holding(tmp_path, CANARY)}
    assert found == {name.replace("/", "-") for name in samples}


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


# -- Invariant 9: the field and the hub never load the opening code -----------

# Every module may be checked except the workspace itself and the modules of
# the `open`, workspace, `export` and `audit` commands, which import the
# workspace's code inside each command on purpose (the run-time check below
# sees that no field or hub process loads it).
OPENING_ALLOWED_IN = {
    "workspace",
    "commands/records.py",
    "commands/workspace.py",
    "commands/export.py",
    "commands/audit.py",
}
# What the workspace role legitimately needs from elsewhere: the factory
# mounts the workspace's pages (which do not import the opener) for that role.
ALLOWED_IMPORTS = {
    ("__init__.py", "intake.workspace.views"),
    ("__init__.py", "intake.workspace.views.bp"),
}
IMPORT_CALLS = {"import_module", "__import__", "find_spec", "spec_from_file_location"}


def _resolve(module: str | None, level: int, relative: str) -> str:
    """Return the absolute name of a `from ... import` in the module at `relative`."""
    if not level:
        return module or ""
    package = ["intake", *relative.removesuffix(".py").split("/")][:-1]
    base = package[: len(package) - (level - 1)]
    return ".".join(base + ([module] if module else []))


def _docstrings(tree) -> set[int]:
    """Ids of the string nodes that are docstrings (prose may name the workspace)."""
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                ids.add(id(body[0].value))
    return ids


def workspace_imports(source: str, relative: str) -> set[str]:
    """Every way the module names the workspace package: imports at any depth,
    `from intake import workspace`, relative imports, import_module/__import__
    calls (a name built at run time counts as suspect), and string literals."""
    tree = ast.parse(source)
    found = set()
    docstrings = _docstrings(tree)
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(node.module, node.level, relative)
            names = [base] + [f"{base}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Call):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if called in IMPORT_CALLS and node.args:
                first = node.args[0]
                if isinstance(first, ast.Constant) and isinstance(first.value, str):
                    names = [
                        first.value if not first.value.startswith(".") else "intake" + first.value
                    ]
                else:
                    names = [f"intake.workspace? (a {called}() of a computed name)"]
        elif isinstance(node, ast.Constant) and id(node) not in docstrings:
            names = [node.value] if isinstance(node.value, str) else []
        found.update(n for n in names if n.startswith("intake.workspace"))
    return {n for n in found if (relative, n) not in ALLOWED_IMPORTS}


def _checked_modules() -> list[Path]:
    modules = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        if relative.split("/")[0] not in OPENING_ALLOWED_IN and relative not in OPENING_ALLOWED_IN:
            modules.append(path)
    return modules


def test_no_module_but_the_workspace_and_open_imports_the_workspace():
    """Invariant 9, statically: every module of the package, every import at any depth."""
    modules = _checked_modules()
    assert len(modules) > 40 and PACKAGE / "db" / "drafts.py" in modules
    bad = {}
    for path in modules:
        relative = path.relative_to(PACKAGE).as_posix()
        if found := workspace_imports(path.read_text("utf-8"), relative):
            bad[relative] = sorted(found)
    assert not bad, f"modules that import the workspace: {bad}"


@pytest.mark.parametrize(
    "source",
    [
        "import intake.workspace.opening",
        "def f():\n    from intake.workspace.opening import Opener",
        "def f():\n    from intake.workspace import opening",
        "from intake import workspace",
        "def f():\n    from ..workspace import opening",
        "def f():\n    from ..workspace.opening import Opener",
        "import importlib\ndef f():\n    importlib.import_module('intake.workspace.opening')",
        "from importlib import import_module\ndef f():\n    import_module('intake.workspace')",
        "def f():\n    __import__('intake.workspace.opening')",
        "import importlib\ndef f(n):\n    importlib.import_module(n)",
        "import sys\nOPENER = sys.modules.get('intake.workspace.opening')",
        "class C:\n    def m(self):\n        if True:\n            import intake.workspace.reading",
    ],
)
def test_the_static_check_finds_every_way_of_importing(source):
    """The check itself: each of these, in intake/db/drafts.py, must be found."""
    assert workspace_imports(source, "db/drafts.py")


def test_the_static_check_allows_only_what_the_workspace_role_needs():
    factory = "def f():\n    from intake.workspace.views import bp"
    assert workspace_imports(factory, "__init__.py") == set()
    assert workspace_imports(factory, "field/views.py") == {
        "intake.workspace.views",
        "intake.workspace.views.bp",
    }
    assert workspace_imports('"""Not `intake.workspace.opening`."""', "envelope.py") == set()


# Run in a fresh interpreter: build the role's app as `intake serve` does, walk it, list modules.
_WALK = """
import sys, tempfile
from pathlib import Path
from intake import crypto
from tests.served import Node, walk_every_route
with tempfile.TemporaryDirectory() as folder:
    node = Node(Path(folder), sys.argv[1], crypto.new_recipient_key())
    asked = walk_every_route(node)
print(asked)
print(",".join(sorted(m for m in sys.modules if m.startswith("intake.workspace"))))
"""


@pytest.mark.parametrize("role", ["field", "hub"])
def test_field_or_hub_app_never_loads_the_opening_code(role):
    """Invariant 9, at run time: every route as every role, every form posted (with its
    CSRF token), a screening finished, a device enrolled and a batch received; then
    not one `intake.workspace` module may be loaded."""
    result = subprocess.run(
        [sys.executable, "-c", _WALK, role],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    asked, loaded = result.stdout.splitlines()[-2:]
    assert int(asked) >= {"field": 100, "hub": 80}[role]
    assert loaded == "", f"the {role} app loaded {loaded}"


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
