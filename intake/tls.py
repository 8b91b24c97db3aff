"""A self-signed certificate for a hub (or field node) served over HTTPS.

There is no certificate authority between a border post and its referral
point: the device pins the certificate's SHA-256 fingerprint, read out or
handed over with the enrolment code, instead.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import socket
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from intake import crypto

VALID_DAYS = 825  # the longest validity browsers accept for a server certificate


def certificate_paths(instance_dir: Path) -> tuple[Path, Path]:
    folder = Path(instance_dir) / "tls"
    return folder / "cert.pem", folder / "key.pem"


def ensure_certificate(instance_dir: Path) -> tuple[Path, Path, bool]:
    """Create the instance's certificate once; return its paths and whether it is new."""
    cert_path, key_path = certificate_paths(instance_dir)
    if cert_path.exists() and key_path.exists():
        return cert_path, key_path, False
    cert_path.parent.mkdir(mode=0o700, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Intake " + socket.gethostname())])
    now = dt.datetime.now(dt.UTC)
    names = [x509.DNSName("localhost"), x509.DNSName(socket.gethostname())]
    names.append(x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=VALID_DAYS))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    crypto.write_private_file(
        key_path,
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return cert_path, key_path, True


def certificate_fingerprint(cert_path: Path) -> str:
    """Return the SHA-256 fingerprint of the certificate's DER, as hex."""
    certificate = x509.load_pem_x509_certificate(cert_path.read_bytes())
    der = certificate.public_bytes(serialization.Encoding.DER)
    return hashlib.sha256(der).hexdigest()
