"""Instances: the folder that holds one node's configuration, keys and database.

An instance is a field device, a hub or a coordinator's workspace; its role
is fixed when it is created. Layout:

    intake.json        role, secret key, settings (owner-only)
    device.key/.pub    field only: the Ed25519 key that signs batches
    receipt.key/.pub   hub only: the Ed25519 key that signs receipts for batches
    recipients/*.pub   public keys that records are sealed to
    coordinator.key    workspace only: the coordinator's encrypted private key
    hub.token          workspace only: the token it pulls from its hub with
    intake.sqlite3     the database (WAL)
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from intake import crypto

ROLES = ("field", "hub", "workspace")
CONFIG_NAME = "intake.json"
RECEIPT_KEY_NAME = "receipt.key"
RECEIPT_PUB_NAME = "receipt.pub"
COORDINATOR_KEY_NAME = "coordinator.key"
_ENCRYPTED_KEY_PEM = b"-----BEGIN ENCRYPTED PRIVATE KEY-----"
DEFAULT_INSTANCE = "instance"


class InstanceError(Exception):
    """An instance folder is missing, of the wrong role, or misconfigured."""


@dataclass
class Instance:
    """A loaded instance: its folder and its configuration."""

    path: Path
    role: str
    secret_key: str
    settings: dict = field(default_factory=dict)
    _device_key: object = field(default=None, repr=False, compare=False)
    _receipt_key: object = field(default=None, repr=False, compare=False)

    @property
    def recipients_dir(self) -> Path:
        return self.path / "recipients"

    def recipient_keys(self) -> list:
        """Load the public keys that this instance seals records to, in a stable order."""
        keys = []
        for path in sorted(self.recipients_dir.glob("*.pub")):
            try:
                keys.append(crypto.load_recipient_public_key(path))
            except crypto.KeyFileError:
                # Retired by a sync between the listing and the reading: not a recipient.
                if path.exists():
                    raise
        return keys

    def recipient_ids(self) -> set[str]:
        """Return the key ids of the recipients."""
        return {crypto.key_id(k) for k in self.recipient_keys()}

    def device_key(self):
        """Load the device signing key of a field instance (read once: it never changes)."""
        self.require_role("field")
        if self._device_key is None:
            self._device_key = crypto.load_device_key(self.path / "device.key")
        return self._device_key

    def device_id(self) -> str:
        """Return the device's key id, which names it to the hub."""
        return crypto.key_id(self.device_key().public_key())

    def receipt_key(self):
        """Load the hub's receipt signing key; a hub made before receipts gets one now."""
        self.require_role("hub")
        if self._receipt_key is None:
            path = self.path / RECEIPT_KEY_NAME
            if not path.exists():
                _create_receipt_key(self.path)
            self._receipt_key = crypto.load_receipt_key(path)
            public = self.path / RECEIPT_PUB_NAME
            if not public.exists():
                # What an administrator hands to a device enrolled before receipts.
                _write_atomically(public, crypto.public_key_pem(self._receipt_key.public_key()))
        return self._receipt_key

    def coordinator_key_path(self) -> Path:
        """Return the workspace's copy of the coordinator's private key file, if it has one."""
        self.require_role("workspace")
        path = self.path / COORDINATOR_KEY_NAME
        if not path.exists():
            raise InstanceError(f"{self.path} holds no coordinator key (intake init --key)")
        return path

    def require_role(self, *roles: str) -> None:
        """Refuse to go on when the instance is not of one of the given roles."""
        if self.role not in roles:
            raise InstanceError(
                f"{self.path} is a {self.role} instance; this needs a {' or '.join(roles)} instance"
            )


def resolve_path(path: str | os.PathLike | None) -> Path:
    """Return the instance folder: the one given, else INTAKE_INSTANCE, else ./instance."""
    return Path(path or os.environ.get("INTAKE_INSTANCE") or DEFAULT_INSTANCE)


def load(path: str | os.PathLike | None = None) -> Instance:
    """Load an instance folder's configuration."""
    folder = resolve_path(path)
    config_file = folder / CONFIG_NAME
    try:
        config = json.loads(config_file.read_text("utf-8"))
    except FileNotFoundError:
        raise InstanceError(f"{folder} is not an Intake instance (run: intake init)") from None
    except (OSError, ValueError) as e:
        raise InstanceError(f"{config_file}: cannot read configuration: {e}") from None
    if config.get("role") not in ROLES or not config.get("secret_key"):
        raise InstanceError(f"{config_file}: configuration has no valid role or secret key")
    return Instance(folder, config["role"], config["secret_key"], config.get("settings", {}))


def add_recipient(folder: Path, public_key) -> Path:
    """Record a recipient public key in the instance; return its file."""
    target = folder / "recipients" / f"{crypto.key_id(public_key)}.pub"
    target.parent.mkdir(exist_ok=True)
    # Whole or not at all: a record sealed meanwhile never reads half a key.
    _write_atomically(target, crypto.public_key_pem(public_key))
    return target


def read_coordinator_key_file(key_file: Path) -> bytes:
    """Read a coordinator's private key file, checking only its form.

    A passphrase-encrypted PKCS#8 PEM, as `intake keys new` writes: the
    passphrase is asked when the key is used, not when it is copied.
    """
    try:
        data = Path(key_file).read_bytes()
    except OSError as e:
        raise InstanceError(f"{key_file}: cannot read the key file: {e.strerror}") from None
    if not data.lstrip().startswith(_ENCRYPTED_KEY_PEM) or b"-----END ENCRYPTED" not in data:
        raise InstanceError(
            f"{key_file}: not a coordinator private key file (intake keys new writes one)"
        )
    return data


def add_coordinator_key(folder: Path, data: bytes) -> None:
    """Keep a coordinator's encrypted private key file in a workspace, owner-only."""
    crypto.write_private_file(folder / COORDINATOR_KEY_NAME, data)


def _write_atomically(target: Path, data: bytes) -> None:
    partial = target.with_name(f".{target.name}.{secrets.token_hex(8)}")
    partial.write_bytes(data)
    os.replace(partial, target)


def _create_receipt_key(folder: Path) -> None:
    """Make the hub's receipt key, owner-only; two processes racing keep one key.

    The key is written whole under a private name, then linked into place:
    a link fails if the name exists, so no reader ever sees half a key and
    a second key never replaces the first (receipts already signed stay valid).
    """
    key = crypto.new_receipt_key()
    partial = folder / f".{RECEIPT_KEY_NAME}.{secrets.token_hex(8)}"
    crypto.write_private_file(partial, crypto.device_key_pem(key))
    try:
        with contextlib.suppress(FileExistsError):
            os.link(partial, folder / RECEIPT_KEY_NAME)
    finally:
        partial.unlink()


def create(path: str | os.PathLike | None, role: str, recipients: list) -> Instance:
    """Create a new instance folder of the given role."""
    if role not in ROLES:
        raise InstanceError(f"unknown role {role!r}: choose one of {', '.join(ROLES)}")
    if role == "field" and not recipients:
        raise InstanceError("a field instance needs at least one recipient: --to PUB")
    folder = resolve_path(path)
    if (folder / CONFIG_NAME).exists():
        raise InstanceError(f"{folder} is already an Intake instance")
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    for key in recipients:
        add_recipient(folder, key)
    if role == "field":
        device_key = crypto.new_device_key()
        crypto.write_private_file(folder / "device.key", crypto.device_key_pem(device_key))
        (folder / "device.pub").write_bytes(crypto.public_key_pem(device_key.public_key()))
    config = {"role": role, "secret_key": secrets.token_hex(32), "settings": {}}
    crypto.write_private_file(
        folder / CONFIG_NAME, json.dumps(config, indent=2).encode("utf-8") + b"\n"
    )
    created = load(folder)
    if role == "hub":
        created.receipt_key()  # made now, with its receipt.pub
    return created
