"""The node's certificate is one a tablet can install and a browser trusts.

Android and iPadOS install only a certificate authority (CA:TRUE); iPadOS and
Chrome trust a server's certificate only for serverAuth and at a name it
holds. So `intake serve --tls` makes an authority of the node's own
(tls/ca.pem), name-constrained to the node's names, whose key is thrown away
once it has signed the one server certificate. The expected values below are
written from those platforms' rules, not read from intake/tls.py.

A real TLS client (Python's ssl, OpenSSL) that trusts only tls/ca.pem stands
for the tablet: it checks the chain and the name as a browser does.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import urllib.parse

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509 import verification
from cryptography.x509.oid import ExtendedKeyUsageOID

from tests.browser import LiveServer


@pytest.fixture
def tls_node(field_instance):
    server = LiveServer(field_instance.path)
    server.start(20, "--tls", "--tls-name", "intake-post.example", "--tls-name", "192.0.2.7")
    yield field_instance, server
    server.stop()


def _load_all(path) -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates(path.read_bytes())


def _tablet_handshake(ca_path, url: str, server_hostname: str) -> bytes:
    """Connect as a tablet that installed only the node's authority; return the served DER."""
    parts = urllib.parse.urlsplit(url)
    context = ssl.create_default_context(cafile=str(ca_path))  # verification and names on
    with (
        socket.create_connection((parts.hostname, parts.port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname=server_hostname) as tls,
    ):
        return tls.getpeercert(binary_form=True)


def test_the_node_makes_an_authority_a_tablet_can_install(tls_node):
    inst, _server = tls_node
    folder = inst.path / "tls"
    assert sorted(p.name for p in folder.iterdir()) == ["ca.pem", "cert.pem", "key.pem"]
    (authority,) = _load_all(folder / "ca.pem")
    served, chained = _load_all(folder / "cert.pem")
    assert chained == authority  # the chain sent to browsers ends with the authority

    constraints = authority.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical and constraints.value.ca is True
    assert constraints.value.path_length == 0
    usage = authority.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.key_cert_sign and usage.crl_sign and not usage.digital_signature
    assert authority.subject == authority.issuer
    assert authority.subject.rfc4514_string().startswith("CN=Intake ")

    constraints = served.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert constraints.ca is False
    uses = served.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(uses) == [ExtendedKeyUsageOID.SERVER_AUTH]
    assert served.issuer == authority.subject
    assert (served.not_valid_after_utc - served.not_valid_before_utc).days <= 825  # Apple's limit
    names = served.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    dns = set(names.get_values_for_type(x509.DNSName))
    addresses = {str(a) for a in names.get_values_for_type(x509.IPAddress)}
    assert {"localhost", "intake-post.example"} <= dns
    assert {"127.0.0.1", "::1", "192.0.2.7"} <= addresses

    # The authority's key is nowhere: the node's one key is the server's.
    key = serialization.load_pem_private_key((folder / "key.pem").read_bytes(), None)
    der = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    assert key.public_key().public_bytes(*der) == served.public_key().public_bytes(*der)
    assert authority.public_key().public_bytes(*der) != served.public_key().public_bytes(*der)


def test_the_authority_allows_only_the_node_s_names(tls_node):
    inst, _server = tls_node
    (authority,) = _load_all(inst.path / "tls" / "ca.pem")
    constraints = authority.extensions.get_extension_for_class(x509.NameConstraints)
    assert constraints.critical  # RFC 5280: a verifier that cannot read it must refuse
    allowed = constraints.value.permitted_subtrees
    assert x509.DNSName("intake-post.example") in allowed
    assert x509.IPAddress(ipaddress.ip_network("192.0.2.7/32")) in allowed
    assert x509.IPAddress(ipaddress.ip_network("127.0.0.1/32")) in allowed
    assert not any(isinstance(n, x509.DNSName) and n.value in ("", ".") for n in allowed)
    assert constraints.value.excluded_subtrees is None


def test_a_strict_verifier_accepts_the_chain_at_the_node_s_names_only(tls_node):
    inst, _server = tls_node
    (authority,) = _load_all(inst.path / "tls" / "ca.pem")
    served, _ = _load_all(inst.path / "tls" / "cert.pem")
    store = verification.Store([authority])
    for name in (x509.DNSName("localhost"), x509.DNSName("intake-post.example")):
        verifier = verification.PolicyBuilder().store(store).build_server_verifier(name)
        assert verifier.verify(served, [])[-1] == authority
    for address in ("127.0.0.1", "192.0.2.7"):
        name = x509.IPAddress(ipaddress.ip_address(address))
        verifier = verification.PolicyBuilder().store(store).build_server_verifier(name)
        assert verifier.verify(served, [])[-1] == authority
    for other in (x509.DNSName("example.org"), x509.IPAddress(ipaddress.ip_address("192.0.2.8"))):
        verifier = verification.PolicyBuilder().store(store).build_server_verifier(other)
        with pytest.raises(verification.VerificationError):
            verifier.verify(served, [])


def test_a_tablet_trusting_the_authority_connects_by_name_and_address(tls_node):
    inst, server = tls_node
    ca = inst.path / "tls" / "ca.pem"
    served, _ = _load_all(inst.path / "tls" / "cert.pem")
    expected = served.public_bytes(serialization.Encoding.DER)
    assert _tablet_handshake(ca, server.url, "127.0.0.1") == expected
    assert _tablet_handshake(ca, server.url, "localhost") == expected
    with pytest.raises(ssl.SSLCertVerificationError):
        _tablet_handshake(ca, server.url, "example.org")


def test_a_tablet_without_the_authority_is_refused(tls_node):
    _inst, server = tls_node
    parts = urllib.parse.urlsplit(server.url)
    context = ssl.create_default_context()  # the system's authorities only
    with (
        socket.create_connection((parts.hostname, parts.port), timeout=10) as raw,
        pytest.raises(ssl.SSLCertVerificationError),
    ):
        context.wrap_socket(raw, server_hostname="localhost")


def test_serve_says_what_to_install_and_where_to_open_it(tls_node):
    inst, server = tls_node
    output = "".join(server.output)
    assert f"Browsers trust this node once its authority is installed: {inst.path}" in output
    assert "authority fingerprint:" in output
    assert "intake-post.example" in output.split("open this node at one of:")[1]


def test_an_address_the_certificate_lacks_is_warned_about(field_instance):
    first = LiveServer(field_instance.path)
    first.start(20, "--tls")
    first.stop()
    again = LiveServer(field_instance.path)
    again.start(20, "--tls", "--tls-name", "192.0.2.9")
    try:
        output = "".join(again.output)
    finally:
        again.stop()
    assert "Using the TLS certificate" in output
    assert "Warning: the certificate does not name 192.0.2.9" in output


def test_tls_name_without_tls_is_refused(field_instance):
    from tests.conftest import run_intake

    done = run_intake("serve", "--instance", field_instance.path, "--tls-name", "x.example")
    assert done.returncode != 0
    assert b"--tls-name" in done.stderr and b"--tls" in done.stderr
