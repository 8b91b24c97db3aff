"""The pinned HTTP client that field devices and workspaces use to reach a hub.

A hub's certificate is self-signed: a client trusts exactly the one whose
SHA-256 fingerprint it was given (`intake enroll`, `intake connect`), and
plain http:// only to this machine, where nobody on the network can forge
the hub's answers.
"""

from __future__ import annotations

import hashlib
import http.client
import ipaddress
import ssl
import urllib.parse

TIMEOUT = 60


class HttpError(Exception):
    """The hub could not be reached (worth retrying), or its address is not acceptable (not)."""

    def __init__(self, message: str, retry: bool = False):
        super().__init__(message)
        self.retry = retry


def is_loopback(host: str | None) -> bool:
    """Tell whether a host name or address is this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host or "").is_loopback
    except ValueError:
        return False


def connection(url: str, pin: str | None) -> tuple[http.client.HTTPConnection, str]:
    """Return an unopened connection to the hub at `url`, and the path prefix of its address."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        # Over plain HTTP anyone on the network could forge the hub's answers
        # (and make a device forget records the hub never got).
        raise HttpError(
            f"{url}: a hub off this machine must be reached over https:// (intake serve --tls)"
        )
    if parts.scheme == "http" and pin:
        raise HttpError(f"{url}: a certificate fingerprint needs an https:// address")
    if parts.scheme == "https":
        # The hub's certificate is self-signed: trust exactly the pinned one (check_pin).
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        conn = http.client.HTTPSConnection(
            parts.hostname, parts.port, timeout=TIMEOUT, context=context
        )
    elif parts.scheme == "http":
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=TIMEOUT)
    else:
        raise HttpError(f"{url}: use an http:// or https:// address")
    return conn, parts.path.rstrip("/")


def normalise_fingerprint(text: str) -> str:
    """Turn a fingerprint as read aloud or printed (groups, colons) into hex digits."""
    return "".join(c for c in text.lower() if c in "0123456789abcdef")


def check_pin(conn, pin: str | None) -> None:
    """Refuse a TLS connection whose certificate is not the pinned one."""
    if not isinstance(conn, http.client.HTTPSConnection):
        return
    certificate = conn.sock.getpeercert(binary_form=True)
    found = hashlib.sha256(certificate).hexdigest()
    if not pin or found != pin.replace(" ", "").replace(":", "").lower():
        raise HttpError(f"the hub's certificate fingerprint is {found}, not the one pinned")


# A hub's page of envelopes stops at 8 MiB plus one envelope (at most 4 MiB):
# every answer of an honest hub fits well within this.
MAX_RESPONSE = 64 * 1024 * 1024


def request(
    url: str, method: str, path: str, body: bytes | None, headers: dict, pin: str | None
) -> tuple[int, str, bytes]:
    """Send one request to the hub; return (status, content type, body)."""
    conn, prefix = connection(url, pin)
    try:
        conn.connect()
        check_pin(conn, pin)
        conn.request(method, prefix + path, body, headers)
        response = conn.getresponse()
        # A hostile hub must not fill memory: no answer of ours is near this size.
        data = response.read(MAX_RESPONSE + 1)
        if len(data) > MAX_RESPONSE:
            raise HttpError(f"the hub's answer is larger than {MAX_RESPONSE // 2**20} MiB")
        return response.status, response.getheader("Content-Type", ""), data
    except (OSError, http.client.HTTPException) as e:
        raise HttpError(f"cannot reach the hub: {e}", retry=True) from None
    finally:
        conn.close()
