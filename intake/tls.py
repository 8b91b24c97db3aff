"""The certificate of a hub (or field node) served over HTTPS.

There is no public certificate authority between a border post and its
referral point. Other programs (`intake enroll`, `intake connect`) pin the
served certificate's SHA-256 fingerprint, read out or handed over with the
enrolment code. Browsers cannot pin: a tablet must install a certificate
authority, and Android and iPadOS install only a certificate marked as one
(basic constraints CA:TRUE), while iPadOS and Chrome trust a server's
certificate only with serverAuth among its uses and the address typed among
its names.

So each instance makes its own small authority, `tls/ca.pem`, that signs one
server certificate, `tls/cert.pem`, and nothing else ever: the authority's
private key is thrown away once it has signed, and its name constraints
allow only this node's names. A tablet that installs it trusts this node,
and a seized node cannot be turned into a way to impersonate any other site
to the tablets that trust it.
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
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from intake import crypto

VALID_DAYS = 825  # the longest validity Apple accepts for a server certificate
# Listening on every address names none of them.
WILDCARD_HOSTS = {"", "0.0.0.0", "::"}  # noqa: S104 (compared with, never bound)


def certificate_paths(instance_dir: Path) -> tuple[Path, Path]:
    folder = Path(instance_dir) / "tls"
    return folder / "cert.pem", folder / "key.pem"


def authority_path(instance_dir: Path) -> Path:
    """The certificate tablets install: the node's own authority (public)."""
    return Path(instance_dir) / "tls" / "ca.pem"


def node_names(extra: list[str] | tuple[str, ...] = ()) -> list[str]:
    """The names and addresses a new certificate holds: this machine's, and `extra`."""
    host = socket.gethostname()
    names = ["localhost", host, "127.0.0.1", "::1"]
    if host and "." not in host:
        names.append(host + ".local")  # its name on the post's network, by mDNS
    for name in extra:
        if name.strip().lower() not in WILDCARD_HOSTS and name.strip() not in names:
            names.append(name.strip())
    return names


def ensure_certificate(instance_dir: Path, names: list[str] | None = None):
    """Create the instance's certificate once; return its paths and whether it is new."""
    cert_path, key_path = certificate_paths(instance_dir)
    if cert_path.exists() and key_path.exists():
        return cert_path, key_path, False
    cert_path.parent.mkdir(mode=0o700, exist_ok=True)
    authority, server, key = make_certificates(names or node_names())
    crypto.write_private_file(
        key_path,
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )
    authority_pem = authority.public_bytes(serialization.Encoding.PEM)
    authority_path(instance_dir).write_bytes(authority_pem)
    # The chain a browser is sent: the server's certificate, then its authority.
    cert_path.write_bytes(server.public_bytes(serialization.Encoding.PEM) + authority_pem)
    return cert_path, key_path, True


def make_certificates(names: list[str]):
    """Return (authority, server certificate, server key) for `names`."""
    now = dt.datetime.now(dt.UTC)
    start, end = now - dt.timedelta(minutes=5), now + dt.timedelta(days=VALID_DAYS)
    host = socket.gethostname()
    # Thrown away when this function returns: see the module's docstring.
    authority_key = ec.generate_private_key(ec.SECP256R1())
    authority_name = _name(f"Intake {host}")
    authority = (
        x509.CertificateBuilder()
        .subject_name(authority_name)
        .issuer_name(authority_name)
        .public_key(authority_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_usage(certify=True), critical=True)
        .add_extension(x509.NameConstraints(_subtrees(names), None), critical=True)
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(authority_key.public_key()), critical=False
        )
        .sign(authority_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    server = (
        x509.CertificateBuilder()
        .subject_name(_name(host or "localhost"))
        .issuer_name(authority_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.SubjectAlternativeName(_general_names(names)), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_usage(certify=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(authority_key.public_key()),
            critical=False,
        )
        .sign(authority_key, hashes.SHA256())
    )
    return authority, server, key


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _usage(certify: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not certify,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=certify,
        crl_sign=certify,
        encipher_only=False,
        decipher_only=False,
    )


def _address(name: str):
    try:
        return ipaddress.ip_address(name)
    except ValueError:
        return None


def _general_names(names: list[str]) -> list[x509.GeneralName]:
    return [x509.IPAddress(_address(n)) if _address(n) else x509.DNSName(n.lower()) for n in names]


def _subtrees(names: list[str]) -> list[x509.GeneralName]:
    """Name constraints allowing exactly `names` (an address as a network of one)."""
    subtrees: list[x509.GeneralName] = []
    for name in names:
        address = _address(name)
        if address:
            subtrees.append(x509.IPAddress(ipaddress.ip_network(address)))
        else:
            subtrees.append(x509.DNSName(name.lower()))
    return subtrees


def served_names(cert_path: Path) -> list[str]:
    """The names and addresses the served certificate holds, as text."""
    certificate = x509.load_pem_x509_certificate(cert_path.read_bytes())
    try:
        names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    return [str(n.value) for n in names]


def names_missing(cert_path: Path, wanted: list[str]) -> list[str]:
    """Which of `wanted` (names or addresses) the served certificate does not hold."""
    held = {_canonical(n) for n in served_names(cert_path)}
    asked = [n for n in wanted if n.strip().lower() not in WILDCARD_HOSTS]
    return [n for n in asked if _canonical(n) not in held]


def _canonical(name: str) -> str:
    address = _address(name.strip())
    return str(address) if address else name.strip().lower()


def certificate_fingerprint(cert_path: Path) -> str:
    """Return the SHA-256 fingerprint of the (first) certificate's DER, as hex."""
    certificate = x509.load_pem_x509_certificate(cert_path.read_bytes())
    der = certificate.public_bytes(serialization.Encoding.DER)
    return hashlib.sha256(der).hexdigest()
