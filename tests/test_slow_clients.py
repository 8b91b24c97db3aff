"""Slow clients cannot freeze a server: every request has a deadline (issue 8, item 5).

Twenty connections send a batch's headers, then one byte a second. Meanwhile
a normal request is answered within 3 seconds, and each slow request is cut
off at its deadline. Over plain HTTP and over `--tls`, against a real
`intake serve`.
"""

from __future__ import annotations

import json
import select
import socket
import ssl
import time
import urllib.parse

import pytest

from intake import instance
from intake.commands.serving import MIN_BODY_RATE
from tests.browser import LiveServer
from tests.http_client import WebClient
from tests.screening import OFFICER_PASSWORD, add_user

SLOW_CLIENTS = 20
DECLARED_BODY = 100_000
REQUEST_SECONDS = 4  # the instance's request_timeout_seconds, short for the test
DEADLINE = REQUEST_SECONDS + DECLARED_BODY / MIN_BODY_RATE  # about 10 s
SLACK = 8
ANSWER_WITHIN = 3  # seconds: the bound for a normal request


@pytest.fixture(params=["http", "tls"])
def hub_server(request, tmp_path, coordinator_key):
    hub_inst = instance.create(tmp_path / "hub", "hub", [coordinator_key.public_key()])
    config_file = hub_inst.path / instance.CONFIG_NAME
    config = json.loads(config_file.read_text())
    config["settings"]["request_timeout_seconds"] = REQUEST_SECONDS
    config_file.write_text(json.dumps(config))
    server = LiveServer(hub_inst.path)
    server.start(20, *(["--tls"] if request.param == "tls" else []))
    yield server
    server.stop()


def _open_slow_request(url: str) -> socket.socket:
    """Connect and send a batch's headers promising a body that will come a byte at a time."""
    parts = urllib.parse.urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=10)
    if parts.scheme == "https":
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        sock = context.wrap_socket(sock)
    head = (
        f"POST /api/v1/batches HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        "Content-Type: application/octet-stream\r\n"
        f"Content-Length: {DECLARED_BODY}\r\n\r\n"
    )
    sock.sendall(head.encode())
    sock.settimeout(0.2)
    return sock


def _closed_by_server(sock: socket.socket) -> bool:
    """Tell whether the server has closed this connection (or answered and closed it)."""
    try:
        readable, _, _ = select.select([sock], [], [], 0)
        if readable:
            sock.recv(4096)  # the end, or an answer to an unfinished request: over either way
            return True
        sock.send(b"x")
    except TimeoutError:
        return False  # TLS records without data (a session ticket): still open
    except (OSError, ValueError):
        return True
    return False


def _normal_request_seconds(url: str) -> float:
    client = WebClient(url, timeout=ANSWER_WITHIN + 10)
    began = time.monotonic()
    response = client.get("/signin")
    assert response.status == 200
    return time.monotonic() - began


@pytest.mark.slow
def test_slow_clients_are_cut_off_and_others_answered(hub_server):
    _normal_request_seconds(hub_server.url)  # warm: time the slow clients, not the first page
    began = time.monotonic()
    slow = {_open_slow_request(hub_server.url): None for _ in range(SLOW_CLIENTS)}
    answered_in = []
    for tick in range(int(DEADLINE + SLACK) + 5):  # bounded: one byte a second each
        if tick in (2, 5, 8):  # while all of them are still dribbling
            answered_in.append(_normal_request_seconds(hub_server.url))
        for sock, closed_at in slow.items():
            if closed_at is None and _closed_by_server(sock):
                slow[sock] = time.monotonic() - began
        if all(closed_at is not None for closed_at in slow.values()):
            break
        time.sleep(1)
    for sock in slow:
        sock.close()
    assert max(answered_in) < ANSWER_WITHIN, answered_in
    cut_at = sorted(t for t in slow.values() if t is not None)
    assert len(cut_at) == SLOW_CLIENTS, f"still open after {DEADLINE + SLACK:.0f} s: {cut_at}"
    # Not before its deadline's base (a slow but honest client gets its time), not long after.
    assert cut_at[0] > REQUEST_SECONDS - 1 and cut_at[-1] < DEADLINE + SLACK, cut_at
    assert _normal_request_seconds(hub_server.url) < ANSWER_WITHIN


def test_requests_over_tls_reach_the_app_as_https(tmp_path, coordinator_key):
    """Behind the TLS front the app knows it is HTTPS: Secure cookies, CSRF checks the Referer."""
    field = instance.create(tmp_path / "field", "field", [coordinator_key.public_key()])
    add_user(field, "amina", "officer")
    server = LiveServer(field.path)
    server.start(20, "--tls")
    try:
        client = WebClient(server.url)
        page = client.get("/signin")
        assert page.status == 200 and "Secure" in page.headers["set-cookie"]
        assert (
            client.post("/signin", {"username": "amina", "password": OFFICER_PASSWORD}).status
            == 302
        )
        assert client.get("/").status == 200
        # Flask-WTF refuses an HTTPS form post from another origin: it sees HTTPS.
        client.csrf_token = client.csrf_token or "x"
        foreign = client.request(
            "POST",
            "/lock",
            f"csrf_token={client.csrf_token}".encode(),
            {
                "Content-Type": "application/x-www-form-urlencoded",
                "Referer": "https://evil.example/",
            },
        )
        assert foreign.status == 400
    finally:
        server.stop()
