"""Keys and primitives: the one module that touches `cryptography` directly.

Every primitive comes from the `cryptography` package; nothing here is
hand-rolled. Other modules ask for what they need by intent (`seal_key`,
`sign_digest`, `key_id`...) and never see a cipher object.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
import unicodedata
from pathlib import Path

from cryptography.exceptions import InvalidKey, InvalidSignature
from cryptography.hazmat.primitives import hashes, hpke, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from intake import keyfile

# RFC 9180 identifiers of the envelope's suite: DHKEM(P-256, HKDF-SHA256),
# HKDF-SHA256, AES-256-GCM. P-256 because every tablet's WebCrypto has it.
KEM_ID, KDF_ID, AEAD_ID = 0x0010, 0x0001, 0x0002
SUITE = hpke.Suite(hpke.KEM.P256, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)
ENC_LENGTH = hpke.KEM.P256.enc_length()  # 65: an uncompressed P-256 point
CONTENT_KEY_LENGTH = 32
NONCE_LENGTH = 12
TAG_LENGTH = 16
SEALED_KEY_LENGTH = ENC_LENGTH + CONTENT_KEY_LENGTH + TAG_LENGTH

PASSPHRASE_MIN_LENGTH = 12
# scrypt cost for the coordinator key file: N=2^16, r=8, p=1 (64 MiB, about
# a quarter second): above RFC 7914's interactive guidance for a key that
# opens every record. cryptography writes PKCS#8 with only 2,048 PBKDF2
# rounds, so the file is written as PBES2 with scrypt (RFC 8018 + RFC 7914
# section 7), which cryptography and OpenSSL both read.
SCRYPT_LOG2_N = 16


class CryptoError(Exception):
    """Base of the errors this module raises."""


class KeyFileError(CryptoError):
    """A key file is missing, unreadable or not the kind of key expected."""


class WrongPassphraseError(KeyFileError):
    """The passphrase does not decrypt the private key file."""


class WeakPassphraseError(CryptoError):
    """A new passphrase is too short to protect a coordinator key."""


class AuthenticationError(CryptoError):
    """Ciphertext or signature did not verify: changed, truncated or wrongly keyed."""


# -- identifiers ---------------------------------------------------------


def spki_der(public_key) -> bytes:
    """Return the SubjectPublicKeyInfo DER of a public key."""
    return public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def fingerprint_hex(public_key) -> str:
    """Return the full SHA-256 digest of the key's SPKI DER, in hex."""
    return hashlib.sha256(spki_der(public_key)).hexdigest()


def key_id(public_key) -> str:
    """Return the key id: the first 16 hex digits of the fingerprint."""
    return fingerprint_hex(public_key)[:16]


def format_fingerprint(hex_digest: str) -> str:
    """Group a hex fingerprint in fours so that two people can compare it aloud."""
    return " ".join(hex_digest[i : i + 4] for i in range(0, len(hex_digest), 4))


def fingerprint(public_key) -> str:
    """Return the key's fingerprint, grouped for reading aloud."""
    return format_fingerprint(fingerprint_hex(public_key))


# -- recipient (coordinator) keys ----------------------------------------


def passphrase_bytes(passphrase: str) -> bytes:
    """Return the bytes a passphrase encrypts a key file with: UTF-8 of its NFC form.

    The same passphrase typed on two keyboards can arrive composed ("é") or
    decomposed ("e" + U+0301); NFC makes both one key. ASCII is unchanged.
    """
    return unicodedata.normalize("NFC", passphrase).encode("utf-8")


def check_passphrase(passphrase: str) -> None:
    """Refuse a passphrase too short to protect a coordinator key."""
    if len(passphrase) < PASSPHRASE_MIN_LENGTH:
        raise WeakPassphraseError(
            f"passphrase too short: use at least {PASSPHRASE_MIN_LENGTH} characters"
        )


def new_recipient_key() -> ec.EllipticCurvePrivateKey:
    """Generate a recipient key pair on P-256."""
    return ec.generate_private_key(ec.SECP256R1())


def private_key_pem(private_key, passphrase: str, log2_n: int = SCRYPT_LOG2_N) -> bytes:
    """Serialise a private key as PKCS#8 PEM, PBES2-encrypted under the passphrase with scrypt."""
    check_passphrase(passphrase)
    plain = private_key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return keyfile.encrypt_pkcs8(plain, passphrase_bytes(passphrase), log2_n)


def public_key_pem(public_key) -> bytes:
    """Serialise a public key as SubjectPublicKeyInfo PEM."""
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def write_private_file(path: Path, data: bytes) -> None:
    """Write a secret file readable by its owner only, failing if it exists."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def _read(path: Path) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as e:
        raise KeyFileError(f"cannot read key file: {e.strerror}") from None


def parse_recipient_public_key(pem: bytes) -> ec.EllipticCurvePublicKey:
    """Parse a recipient public key from PEM, insisting on P-256."""
    try:
        key = serialization.load_pem_public_key(pem)
    except ValueError:
        raise KeyFileError("not a PEM public key") from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        raise KeyFileError("not a P-256 public key (the envelope suite needs P-256)")
    return key


def load_recipient_public_key(path: Path) -> ec.EllipticCurvePublicKey:
    """Load a recipient's public key file."""
    return parse_recipient_public_key(_read(path))


def load_recipient_private_key(path: Path, passphrase: str) -> ec.EllipticCurvePrivateKey:
    """Load a coordinator's encrypted private key file."""
    data = _read(path)
    if b"ENCRYPTED PRIVATE KEY" not in data:
        raise KeyFileError("not an encrypted PKCS#8 private key file")
    key = _decrypt_private_key(data, passphrase)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise KeyFileError("not a P-256 private key")
    return key


def _decrypt_private_key(data: bytes, passphrase: str):
    # NFC first (files written since it was applied); then the passphrase as
    # typed, for files written before, which used it un-normalised.
    attempts = dict.fromkeys([passphrase_bytes(passphrase), passphrase.encode("utf-8")])
    for secret in attempts:
        try:
            return serialization.load_pem_private_key(data, secret)
        except (ValueError, TypeError):
            continue
    raise WrongPassphraseError("wrong passphrase, or the key file is damaged")


def load_any_public_key(path: Path):
    """Return the public key held in a public or (encrypted) private key file."""
    data = _read(path)
    if b"PRIVATE KEY" in data:
        raise KeyFileError("this is a private key file: give the .pub file")
    try:
        return serialization.load_pem_public_key(data)
    except ValueError:
        raise KeyFileError("not a PEM public key") from None


# -- HPKE and AES-GCM ----------------------------------------------------


def new_content_key() -> bytes:
    """Return a fresh random 256-bit content key."""
    return AESGCM.generate_key(bit_length=256)


def new_nonce() -> bytes:
    """Return a fresh random 96-bit GCM nonce."""
    return os.urandom(NONCE_LENGTH)


def private_key_secret(private_key, info: bytes) -> bytes:
    """Derive a 32-byte key that only the holder of this private key can compute.

    ECDH of the key with its own public key (d·dG), through HKDF-SHA256 with
    `info`: computing it from the public key alone is the Diffie-Hellman
    problem. Unlike a key sealed to the public key (which anyone holding the
    public key could make), nobody without the private key can plant one.
    """
    shared = private_key.exchange(ec.ECDH(), private_key.public_key())
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(shared)


def seal_key(content_key: bytes, public_key, info: bytes) -> bytes:
    """Seal a content key to one recipient with HPKE base mode: enc || ct."""
    return SUITE.encrypt(content_key, public_key, info=info)


def open_key(sealed: bytes, private_key, info: bytes) -> bytes:
    """Open an HPKE-sealed content key; AuthenticationError if it does not verify."""
    try:
        return SUITE.decrypt(sealed, private_key, info=info)
    except Exception:  # the binding raises several types; all mean "refused"
        raise AuthenticationError("the sealed key does not open with this key") from None


def encrypt(key: bytes, nonce: bytes, plaintext: bytes, associated_data: bytes) -> bytes:
    """Encrypt and authenticate with AES-256-GCM."""
    return AESGCM(key).encrypt(nonce, plaintext, associated_data)


def decrypt(key: bytes, nonce: bytes, ciphertext: bytes, associated_data: bytes) -> bytes:
    """Decrypt AES-256-GCM; AuthenticationError if any byte changed."""
    try:
        return AESGCM(key).decrypt(nonce, ciphertext, associated_data)
    except Exception:
        raise AuthenticationError("the record does not authenticate") from None


# -- device signing keys (Ed25519) ---------------------------------------


def new_device_key() -> ed25519.Ed25519PrivateKey:
    """Generate a device signing key."""
    return ed25519.Ed25519PrivateKey.generate()


def device_key_pem(private_key) -> bytes:
    """Serialise a device signing key (unencrypted: the device signs unattended)."""
    return private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def load_device_key(path: Path) -> ed25519.Ed25519PrivateKey:
    """Load a device signing key."""
    try:
        key = serialization.load_pem_private_key(_read(path), None)
    except (ValueError, TypeError):
        raise KeyFileError("not a device signing key") from None
    if not isinstance(key, ed25519.Ed25519PrivateKey):
        raise KeyFileError("not an Ed25519 device signing key")
    return key


def raw_public_key(private_key) -> bytes:
    """Return the 32 raw bytes of a device's Ed25519 public key."""
    return private_key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )


def raw_public_bytes(public_key) -> bytes:
    """Return the 32 raw bytes of an Ed25519 public key."""
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def device_public_key(raw: bytes) -> ed25519.Ed25519PublicKey:
    """Rebuild a device public key from its 32 raw bytes."""
    try:
        return ed25519.Ed25519PublicKey.from_public_bytes(raw)
    except ValueError:
        raise AuthenticationError("not an Ed25519 public key") from None


_PEM_PUBLIC_KEY = re.compile(rb"-----BEGIN PUBLIC KEY-----.+?-----END PUBLIC KEY-----", re.DOTALL)


def load_device_public_keys(path: Path) -> list[ed25519.Ed25519PublicKey]:
    """Load the device public keys in a file: a device.pub, or several PEM keys in a row."""
    blocks = _PEM_PUBLIC_KEY.findall(_read(path))
    if not blocks:
        raise KeyFileError("no PEM public key in the file")
    keys = []
    for block in blocks:
        try:
            key = serialization.load_pem_public_key(block)
        except ValueError:
            raise KeyFileError("not a PEM public key") from None
        if not isinstance(key, ed25519.Ed25519PublicKey):
            raise KeyFileError("not an Ed25519 device public key (a field device's device.pub)")
        keys.append(key)
    return keys


def sign(private_key, message: bytes) -> bytes:
    """Sign a message with a device key."""
    return private_key.sign(message)


def verify(public_key, signature: bytes, message: bytes) -> None:
    """Verify a device signature; AuthenticationError if it does not hold."""
    try:
        public_key.verify(signature, message)
    except InvalidSignature:
        raise AuthenticationError("the batch signature does not verify") from None


# A record signature proves on its own which device sealed one envelope, so
# that records pulled one by one from a hub (not as the batch they came in)
# still show their origin. Its label keeps it apart from batch and receipt
# signatures; it signs a digest, as a batch does, so its size is fixed.
RECORD_SIGNATURE_LABEL = b"intake-record-v1\x00"


def sign_record(private_key, envelope: bytes) -> bytes:
    """Sign one envelope's exact bytes with a device key (through its SHA-512)."""
    return private_key.sign(RECORD_SIGNATURE_LABEL + hashlib.sha512(envelope).digest())


def verify_record(public_key, signature: bytes, envelope: bytes) -> None:
    """Verify a record signature; AuthenticationError if it does not hold."""
    try:
        public_key.verify(signature, RECORD_SIGNATURE_LABEL + hashlib.sha512(envelope).digest())
    except InvalidSignature:
        raise AuthenticationError("the record signature does not verify") from None


# -- the hub's receipt key (Ed25519) -------------------------------------

# Domain separation: a receipt signature can never be taken for a batch
# signature or anything else an Ed25519 key here signs, and the reverse.
RECEIPT_SIGNATURE_LABEL = b"intake-receipt-v1\x00"
RECEIPT_SIGNATURE_LENGTH = 64


def new_receipt_key() -> ed25519.Ed25519PrivateKey:
    """Generate the key a hub signs its receipts with."""
    return ed25519.Ed25519PrivateKey.generate()


def load_receipt_key(path: Path) -> ed25519.Ed25519PrivateKey:
    """Load a hub's receipt signing key."""
    try:
        return load_device_key(path)
    except KeyFileError:
        raise KeyFileError("not an Ed25519 receipt signing key") from None


def receipt_public_key(raw: bytes) -> ed25519.Ed25519PublicKey:
    """Rebuild a hub's receipt public key from its 32 raw bytes (as pinned at enrolment)."""
    return device_public_key(raw)


def load_receipt_public_key(path: Path) -> ed25519.Ed25519PublicKey:
    """Load a hub's receipt public key file (its `receipt.pub`)."""
    try:
        key = serialization.load_pem_public_key(_read(path))
    except ValueError:
        raise KeyFileError("not a PEM public key") from None
    if not isinstance(key, ed25519.Ed25519PublicKey):
        raise KeyFileError("not an Ed25519 public key (a hub's receipt.pub)")
    return key


def sign_receipt(private_key, body: bytes) -> bytes:
    """Sign a receipt's exact body bytes with the hub's receipt key."""
    return private_key.sign(RECEIPT_SIGNATURE_LABEL + body)


def verify_receipt(public_key, signature: bytes, body: bytes) -> None:
    """Verify a receipt signature; AuthenticationError if it does not hold."""
    try:
        public_key.verify(signature, RECEIPT_SIGNATURE_LABEL + body)
    except InvalidSignature:
        raise AuthenticationError("the receipt is not signed by the pinned hub key") from None


# The hub signs, with the same receipt key, the list of keys its devices are
# to seal to. Its own label: a recipient list can never be taken for a
# receipt, a batch or a record signature, nor any of them for a list.
RECIPIENT_LIST_SIGNATURE_LABEL = b"intake-recipients-v1\x00"


def sign_recipient_list(private_key, body: bytes) -> bytes:
    """Sign a recipient list's exact body bytes with the hub's receipt key."""
    return private_key.sign(RECIPIENT_LIST_SIGNATURE_LABEL + body)


def verify_recipient_list(public_key, signature: bytes, body: bytes) -> None:
    """Verify a recipient list's signature; AuthenticationError if it does not hold."""
    try:
        public_key.verify(signature, RECIPIENT_LIST_SIGNATURE_LABEL + body)
    except InvalidSignature:
        raise AuthenticationError("the list is not signed by the pinned hub key") from None


def parse_recipient_public_key_der(der: bytes) -> ec.EllipticCurvePublicKey:
    """Parse a recipient public key from its SubjectPublicKeyInfo DER, in its one form only.

    P-256 with an uncompressed point, and DER that encodes back to the same
    bytes: one key has one encoding, so a list cannot name it twice unseen.
    """
    try:
        key = serialization.load_der_public_key(der)
    except (ValueError, TypeError):
        raise KeyFileError("not a DER public key") from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        raise KeyFileError("not a P-256 public key (the envelope suite needs P-256)")
    if spki_der(key) != der:
        raise KeyFileError("not the one DER encoding of this key")
    return key


# -- passwords and drafts (Argon2id) -------------------------------------

# RFC 9106's second recommended option (64 MiB, t=3, p=4): a guess costs a
# tenth of a second of a field laptop. Tests pass cheaper parameters.
ARGON2_PARAMETERS = {"iterations": 3, "lanes": 4, "memory_cost": 64 * 1024}
DRAFT_KEY_CONTEXT = b"intake-draft-key-v1"

# One Argon2id derivation at a time in this process. cryptography sets
# OpenSSL's thread limit to the number of CPUs (pyca/cryptography#11524),
# computes the lanes on min(lanes, limit) threads of that one shared pool,
# and no longer holds the GIL meanwhile (pyca/cryptography#15163). OpenSSL's
# argon2.c starts a derivation's threads one by one, waiting for a free slot
# (crypto/thread/internal.c), so two derivations at once can each hold part
# of the pool and wait forever for the rest; later ones find no thread free
# and fail (as a MemoryError). Serialised, each gets the whole pool; the
# output does not depend on threads, so every stored hash still verifies.
# It also bounds the memory to 64 MiB however many people sign in at once.
_ARGON2_LOCK = threading.Lock()


def hash_password(password: str, parameters: dict = ARGON2_PARAMETERS) -> str:
    """Hash a password with Argon2id; return its PHC string (parameters, salt, hash)."""
    kdf = Argon2id(salt=os.urandom(16), length=32, **parameters)
    with _ARGON2_LOCK:
        return kdf.derive_phc_encoded(password.encode("utf-8"))


def verify_password(password: str, phc: str) -> bool:
    """Tell whether a password matches its Argon2id PHC string."""
    try:
        with _ARGON2_LOCK:
            Argon2id.verify_phc_encoded(password.encode("utf-8"), phc)
    except (InvalidKey, ValueError):
        return False
    return True


def new_draft_kdf(parameters: dict = ARGON2_PARAMETERS) -> dict:
    """Return a fresh salt and the Argon2id parameters for a user's draft key."""
    return {"salt": os.urandom(16).hex(), **parameters}


def derive_draft_key(password: str, kdf: dict) -> bytes:
    """Derive the key that encrypts a user's drafts from their password.

    It is never stored: a seized device holds drafts that only the officer's
    password opens. The associated data keeps it apart from the password hash.
    """
    parameters = {k: v for k, v in kdf.items() if k != "salt"}
    argon2 = Argon2id(
        salt=bytes.fromhex(kdf["salt"]), length=32, ad=DRAFT_KEY_CONTEXT, **parameters
    )
    with _ARGON2_LOCK:
        return argon2.derive(password.encode("utf-8"))


def seal_draft(key: bytes, context: bytes, plaintext: bytes) -> bytes:
    """Encrypt a draft under its owner's key; the context (draft and user ids) is bound."""
    nonce = new_nonce()
    return nonce + encrypt(key, nonce, plaintext, context)


def open_draft(key: bytes, context: bytes, sealed: bytes) -> bytes:
    """Decrypt a draft; AuthenticationError if the key or context is wrong."""
    return decrypt(key, sealed[:NONCE_LENGTH], sealed[NONCE_LENGTH:], context)
