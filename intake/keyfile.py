"""PKCS#8 EncryptedPrivateKeyInfo with PBES2 and scrypt (RFC 8018, RFC 7914 s. 7).

Only the DER framing is written here; scrypt, AES-256-CBC and PKCS#7
padding come from `cryptography`, and reading the file back is left to
`cryptography`'s own PKCS#8 loader, so a framing mistake fails loudly.
"""

from __future__ import annotations

import base64
import os

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

OID_PBES2 = "1.2.840.113549.1.5.13"
OID_SCRYPT = "1.3.6.1.4.1.11591.4.11"
OID_AES256_CBC = "2.16.840.1.101.3.4.1.42"
SCRYPT_R, SCRYPT_P = 8, 1


def _tlv(tag: int, body: bytes) -> bytes:
    n = len(body)
    if n < 0x80:
        return bytes([tag, n]) + body
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(size)]) + size + body


def _sequence(*items: bytes) -> bytes:
    return _tlv(0x30, b"".join(items))


def _octets(data: bytes) -> bytes:
    return _tlv(0x04, data)


def _integer(value: int) -> bytes:
    return _tlv(0x02, value.to_bytes(value.bit_length() // 8 + 1, "big"))


def _oid(dotted: str) -> bytes:
    first, second, *rest = (int(x) for x in dotted.split("."))
    body = bytearray([40 * first + second])
    for arc in rest:
        chunk = [arc & 0x7F]
        while arc > 0x7F:
            arc >>= 7
            chunk.append(0x80 | (arc & 0x7F))
        body += bytes(reversed(chunk))
    return _tlv(0x06, bytes(body))


def encrypt_pkcs8(private_der: bytes, passphrase: bytes, log2_n: int) -> bytes:
    """Encrypt an unencrypted PKCS#8 DER key; return it as ENCRYPTED PRIVATE KEY PEM."""
    salt, iv = os.urandom(16), os.urandom(16)
    key = Scrypt(salt=salt, length=32, n=2**log2_n, r=SCRYPT_R, p=SCRYPT_P).derive(passphrase)
    padder = padding.PKCS7(128).padder()
    padded = padder.update(private_der) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    encrypted = encryptor.update(padded) + encryptor.finalize()
    scrypt_params = _sequence(
        _octets(salt), _integer(2**log2_n), _integer(SCRYPT_R), _integer(SCRYPT_P)
    )
    algorithm = _sequence(
        _oid(OID_PBES2),
        _sequence(
            _sequence(_oid(OID_SCRYPT), scrypt_params),
            _sequence(_oid(OID_AES256_CBC), _octets(iv)),
        ),
    )
    der = _sequence(algorithm, _octets(encrypted))
    b64 = base64.encodebytes(der).replace(b"\n", b"")
    lines = [b64[i : i + 64] for i in range(0, len(b64), 64)]
    return b"\n".join(
        [
            b"-----BEGIN ENCRYPTED PRIVATE KEY-----",
            *lines,
            b"-----END ENCRYPTED PRIVATE KEY-----",
            b"",
        ]
    )
