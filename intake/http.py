"""The pinned HTTP client that field devices and workspaces use to reach a hub.

A hub's certificate is self-signed: a client trusts exactly the one whose
SHA-256 fingerprint it was given (`intake enroll`, `intake connect`), and
plain http:// only to this machine, where nobody on the network can forge
the hub's answers.
"""

from __future__ import annotations

import functools
import hashlib
import http.client
import io
import ipaddress
import ssl
import time
import urllib.parse

TIMEOUT = 60  # seconds, for each wait on the network
# Seconds for a whole request, answer included. TIMEOUT bounds one wait
# only: a hostile hub sending a byte every few seconds would otherwise hold
# a pull for ever. A hub's largest page (12 MiB, see MAX_RESPONSE) arrives
# in time over 340 kbit/s; `intake pull` run again goes on where it stopped.
DEADLINE = 300
READ_CHUNK = 64 * 1024


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


class _DeadlineReader(io.RawIOBase):
    """A socket's reader whose every wait is cut to the time left before the deadline."""

    def __init__(self, raw, sock, deadline: float):
        self.raw, self.sock, self.deadline = raw, sock, deadline

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise _past_deadline()
        self.sock.settimeout(min(TIMEOUT, left))
        return self.raw.readinto(buffer)

    def close(self) -> None:
        self.raw.close()
        super().close()


class _DeadlineResponse(http.client.HTTPResponse):
    """A response whose status line, headers and body are all read within one deadline."""

    def __init__(self, sock, *args, deadline: float, **kwargs):
        super().__init__(sock, *args, **kwargs)
        self.fp = io.BufferedReader(_DeadlineReader(self.fp.detach(), sock, deadline))


def _past_deadline() -> HttpError:
    return HttpError(f"the hub's answer took longer than {DEADLINE} s: given up", retry=True)


def request(
    url: str, method: str, path: str, body: bytes | None, headers: dict, pin: str | None
) -> tuple[int, str, bytes]:
    """Send one request to the hub; return (status, content type, body)."""
    deadline = time.monotonic() + DEADLINE
    conn, prefix = connection(url, pin)
    conn.response_class = functools.partial(_DeadlineResponse, deadline=deadline)
    try:
        conn.connect()
        check_pin(conn, pin)
        conn.request(method, prefix + path, body, headers)
        with conn.getresponse() as response:  # closed also when reading it fails
            return response.status, response.getheader("Content-Type", ""), _read_body(response)
    except (OSError, http.client.HTTPException) as e:
        if time.monotonic() >= deadline:
            raise _past_deadline() from None
        raise HttpError(f"cannot reach the hub: {e}", retry=True) from None
    finally:
        conn.close()


def _read_body(response) -> bytes:
    """Read the body in chunks, refusing it once it is larger than MAX_RESPONSE."""
    data = bytearray()
    while chunk := response.read(READ_CHUNK):
        data += chunk
        # A hostile hub must not fill memory: no answer of ours is near this size.
        if len(data) > MAX_RESPONSE:
            raise HttpError(f"the hub's answer is larger than {MAX_RESPONSE // 2**20} MiB")
    return bytes(data)
