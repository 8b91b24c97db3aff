"""Shared fixtures: cheap keys, instances in tmp_path, and the real `intake` command."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from intake import crypto, instance

PASSPHRASE = "test passphrase 1234"
# Key files in tests use a cheap scrypt cost; the format is the same.
TEST_LOG2_N = 10


@pytest.fixture(scope="session")
def coordinator_key():
    return crypto.new_recipient_key()


@pytest.fixture(scope="session")
def second_key():
    return crypto.new_recipient_key()


def write_key_pair(folder: Path, key) -> tuple[Path, Path]:
    """Write an encrypted private key file and its public key; return both paths."""
    folder.mkdir(parents=True, exist_ok=True)
    key_file, pub_file = folder / "coordinator.key", folder / "coordinator.pub"
    key_file.write_bytes(crypto.private_key_pem(key, PASSPHRASE, log2_n=TEST_LOG2_N))
    pub_file.write_bytes(crypto.public_key_pem(key.public_key()))
    return key_file, pub_file


@pytest.fixture
def keys(tmp_path, coordinator_key, second_key):
    """Two coordinator key pairs on disk: (key, pub, second_key, second_pub)."""
    key, pub = write_key_pair(tmp_path / "keys", coordinator_key)
    key2, pub2 = write_key_pair(tmp_path / "keys2", second_key)
    return key, pub, key2, pub2


@pytest.fixture
def passphrase_file(tmp_path) -> Path:
    path = tmp_path / "passphrase.txt"
    path.write_text(PASSPHRASE + "\n")
    return path


@pytest.fixture
def field_instance(tmp_path, coordinator_key, second_key) -> instance.Instance:
    return instance.create(
        tmp_path / "field", "field", [coordinator_key.public_key(), second_key.public_key()]
    )


def run_intake(*args, input: bytes | None = None, env: dict | None = None, cwd=None):
    """Run the real `intake` command; return the CompletedProcess (bytes)."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("INTAKE_")}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "intake", *map(str, args)],
        input=input,
        capture_output=True,
        env=full_env,
        cwd=cwd,
        timeout=300,
        check=False,
    )


@pytest.fixture
def intake_cli():
    return run_intake


def pytest_sessionstart(session):
    """Compile the catalogs, as `make` does, so that pytest alone sees every language."""
    from intake.i18n import catalogs as translate

    translate.compile_all()
