"""Sign-ins at once with the real Argon2id parameters, against a real `intake serve`.

Every other test makes Argon2id cheap (tests/screening.py, CHEAP_ARGON2: one
lane, 8 KiB). One lane never uses OpenSSL's thread pool, so it hid that two
4-lane derivations at once deadlocked and left every later sign-in a 500.
This test uses the real parameters, over real HTTP, in the real server.
"""

from __future__ import annotations

import threading
import time

import pytest

from intake import accounts, crypto, db, instance
from tests.browser import LiveServer
from tests.http_client import WebClient

OFFICERS = 8
PASSWORD = "real parameters password"
ANSWER_WITHIN = 30  # seconds: the bound for eight sign-ins at once

# Made with the real parameters before the fix: hashes already stored on
# field devices must still verify, and drafts must still open.
STORED_HASH = (
    "$argon2id$v=19$m=65536,t=3,p=4$EFjlSM8UD3PsHJFQk+ZcKA"
    "$nsfhVuR4AutP3Os8vkkAWvcsaV2sYO0nnVxcr37Gh3Q"
)
STORED_DRAFT_KDF = {"salt": "00112233445566778899aabbccddeeff", **crypto.ARGON2_PARAMETERS}
STORED_DRAFT_KEY = "21ce4cdad5956c531bc79cde7f078f7c04b9a7d61c1e52c512272fa8f59678a4"


def test_hashes_and_draft_keys_made_before_still_verify():
    assert crypto.verify_password("officer password 1", STORED_HASH)
    assert not crypto.verify_password("officer password 2", STORED_HASH)
    key = crypto.derive_draft_key("officer password 1", STORED_DRAFT_KDF)
    assert key.hex() == STORED_DRAFT_KEY


@pytest.fixture
def field_server(tmp_path, coordinator_key):
    inst = instance.create(tmp_path / "field", "field", [coordinator_key.public_key()])
    database = db.open_database(inst.path)
    for i in range(OFFICERS):
        accounts.create_user(database, f"officer{i}", "officer", PASSWORD)  # real parameters
    assert "m=65536,t=3,p=4" in db.user_by_name(database, "officer0")["password"]
    database.close()
    server = LiveServer(inst.path)
    server.start()
    yield server
    server.stop()


def _sign_in_at_once(clients: list[WebClient]) -> list:
    """Sign every client in at the same moment; return (status or error, seconds) each."""
    start = threading.Barrier(len(clients))
    results: list = [("no answer", None)] * len(clients)

    def sign_in(i: int) -> None:
        start.wait(timeout=ANSWER_WITHIN)
        began = time.monotonic()
        try:
            response = clients[i].post("/signin", {"username": f"officer{i}", "password": PASSWORD})
            results[i] = (response.status, time.monotonic() - began)
        except OSError as e:  # a timeout: the server never answered
            results[i] = (repr(e), time.monotonic() - began)

    threads = [
        threading.Thread(target=sign_in, args=(i,), daemon=True) for i in range(len(clients))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=ANSWER_WITHIN + 10)
    return results


@pytest.mark.slow
def test_eight_sign_ins_at_once_all_answer_and_sign_in_still_works(field_server):
    clients = [WebClient(field_server.url, timeout=ANSWER_WITHIN) for _ in range(OFFICERS)]
    for client in clients:
        assert client.get("/signin").status == 200 and client.csrf_token
    results = _sign_in_at_once(clients)
    assert [status for status, _ in results] == [302] * OFFICERS, results
    assert max(seconds for _, seconds in results) < ANSWER_WITHIN, results
    for client in clients:
        assert client.get("/").status == 200  # signed in, draft key and all
    # Afterwards, a sign-in still works (before the fix: a 500, until a restart).
    late = WebClient(field_server.url, timeout=ANSWER_WITHIN)
    assert late.sign_in("officer0", PASSWORD).status == 302
    assert late.get("/").status == 200
    assert late.sign_in("officer1", "not the password").status == 401
