"""The field node's side of the browser's offline queue: /offline/config and /offline/envelopes.

The app is the one `intake serve` builds (CSRF on), and the envelopes are
sealed in Python with `envelope.seal_record`, as the browser's sealer writes
them byte for byte (tests/test_browser_envelope.py). Expected answers are
written here by hand.

The node holds no private key: it checks an envelope's framing and header,
and no more. A changed byte it cannot see (in a sealed key, the nonce, the
ciphertext, or a header field that stays well formed) is refused by the
workspace when it opens the envelope; those cases are tested to be exactly that.
"""

from __future__ import annotations

import base64
import http.client
import json
import threading
import urllib.error
import urllib.parse
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from intake import crypto, db, envelope, instance
from intake.batch import verify_record_signature
from intake.field import sync
from intake.questionnaire import load_questionnaire
from intake.workspace.opening import Opener
from tests.browser import LiveServer
from tests.conftest import run_intake
from tests.hubs import enrol_field
from tests.screening import OFFICER_PASSWORD
from tests.served import (
    TOKEN,
    CsrfClient,
    LiveClient,
    database_dump,
    node_with_users,
    production_app,
    sign_in,
    start_draft,
)
from tests.workspaces import screening_record

URL = "/offline/envelopes"
OCTETS = "application/octet-stream"
PREFIX = 16  # magic, type, version, suite, header length
STANZA = 8 + 2 + 113  # key id, length, sealed key
BODY_HEAD = 12 + 4  # nonce, ciphertext length


@pytest.fixture
def node(tmp_path, coordinator_key, second_key):
    """A field node with two recipient keys and a user of each role: (instance, app)."""
    recipients = [coordinator_key.public_key(), second_key.public_key()]
    inst = node_with_users(tmp_path / "field", "field", recipients)
    return inst, production_app(inst.path)


def _version(name: str) -> str:
    return f"{name}@{load_questionnaire(name).version}"


def seal(inst, recipients=None, record=None, **header) -> bytes:
    """Seal a screening record as the browser would for this node; header fields overridable."""
    if record is None:
        record = screening_record({"danger_now": "no"}, device=inst.device_id())
    options = {
        "kind": "screening",
        "device": inst.device_id(),
        "questionnaire": _version("screening-short"),
        "record_id": record["id"],
        **header,
    }
    keys = inst.recipient_keys() if recipients is None else recipients
    return envelope.seal_record(record, keys, **options).data


def signed_in(app, name: str = "officer") -> CsrfClient:
    return sign_in(CsrfClient(app), name)


def post(client: CsrfClient, data: bytes, token=None, content_type=OCTETS, **kwargs):
    """Send one envelope as the browser does: raw bytes, the CSRF token in X-CSRFToken."""
    headers = {"X-CSRFToken": client.token() if token is None else token}
    headers.update(kwargs.pop("headers", {}))
    return client.client.post(URL, data=data, content_type=content_type, headers=headers, **kwargs)


def outbox(inst) -> dict[str, bytes]:
    """The outbox's envelopes by record id."""
    database = db.open_database(inst.path)
    try:
        return dict(database.execute("SELECT id, envelope FROM outbox").fetchall())
    finally:
        database.close()


def record_id(data: bytes) -> str:
    return envelope.parse_envelope(data).record_id


# -- GET /offline/config ---------------------------------------------------


def test_config_tells_the_browser_what_to_seal_to(node, coordinator_key, second_key):
    inst, app = node
    answer = signed_in(app).get("/offline/config")
    assert answer.status_code == 200
    assert answer.headers["Cache-Control"] == "no-store"
    assert answer.mimetype == "application/json"
    config = answer.get_json()
    assert set(config) == {
        "device",
        "recipients",
        "questionnaires",
        "languages",
        "user",
        "salt",
        "settings",
    }
    assert config["settings"] == {}  # this instance sets no country's referral options
    assert config["device"] == inst.device_id()
    der = {crypto.spki_der(k.public_key()) for k in (coordinator_key, second_key)}
    assert len(config["recipients"]) == 2
    assert {base64.b64decode(r, validate=True) for r in config["recipients"]} == der
    assert config["questionnaires"] == ["screening-full", "screening-short"]
    assert config["languages"][0] == ["en", "English"]
    assert ["ar", "العربية"] in config["languages"]
    assert config["user"] == "officer"
    assert len(base64.b64decode(config["salt"], validate=True)) == 16


def test_config_gives_the_settings_the_screening_reads_and_no_other(node):
    """The browser asks about, and offers, the hotline, reflection period and NRM as the node."""
    inst, _app = node
    config_file = inst.path / instance.CONFIG_NAME
    stored = json.loads(config_file.read_text())
    country = {"hotline_number": "0800 1234", "reflection_period_days": 90, "nrm_name": "NRM"}
    stored["settings"].update({**country, "draft_hours": 24, "retention_hours": 5})
    config_file.write_text(json.dumps(stored))
    config = signed_in(production_app(inst.path)).get("/offline/config").get_json()
    assert config["settings"] == country


def test_the_start_page_leads_to_the_offline_interview_and_sign_in_back_to_it(node):
    """The way in, while the node is up: a tablet is prepared from the start page.

    And the offline interview's sign-in link (a session ended while records
    wait) comes back to it, where the queue is sent from.
    """
    _inst, app = node
    client = signed_in(app)
    home = client.get("/").get_data(as_text=True)
    assert 'id="offline-entry"' in home and 'href="/offline/app"' in home
    page = client.get("/offline/app").get_data(as_text=True)
    settings = json.loads(page.split('id="offline-settings">')[1].split("</script>")[0])
    assert settings["signin"] == "/signin?next=/offline/app"
    fresh = CsrfClient(app)
    fresh.get("/signin?next=%2Foffline%2Fapp")
    answer = fresh.post(
        "/signin",
        data={"username": "officer", "password": OFFICER_PASSWORD, "next": "/offline/app"},
    )
    assert answer.status_code in (302, 303) and answer.location.endswith("/offline/app")


def test_the_pages_of_those_who_screen_send_what_the_tablet_queued(node):
    """The node's pages send the offline queue (build/waiting.js) for officers and NGO workers only.

    Not for the coordinator or the administrator (the node would refuse them),
    not signed out, and not on the offline interview, which sends its own.
    """
    _inst, app = node
    script = 'src="/static/build/waiting.js"'
    for name in ("officer", "ngo"):
        home = signed_in(app, name).get("/").get_data(as_text=True)
        assert script in home and 'id="waiting-records"' in home, name
        assert 'data-envelopes="/offline/envelopes"' in home
    for name in ("coordinator", "admin"):
        assert script not in signed_in(app, name).get("/").get_data(as_text=True), name
    assert script not in CsrfClient(app).get("/signin").get_data(as_text=True)
    assert script not in signed_in(app).get("/offline/app").get_data(as_text=True)


def test_the_salt_is_per_user_stable_and_not_the_nodes_own(node):
    inst, app = node
    officer = signed_in(app).get("/offline/config").get_json()["salt"]
    again = signed_in(app).get("/offline/config").get_json()["salt"]  # another session
    ngo = signed_in(app, "ngo").get("/offline/config").get_json()
    assert ngo["user"] == "ngo"
    assert officer == again != ngo["salt"]
    database = db.open_database(inst.path)
    kdf = json.loads(db.user_by_name(database, "officer")["draft_kdf"])
    database.close()
    assert base64.b64decode(officer) != bytes.fromhex(kdf["salt"])


def test_config_is_for_screeners_only(node):
    _inst, app = node
    assert signed_in(app, "ngo").get("/offline/config").status_code == 200
    for name in ("coordinator", "admin"):
        assert signed_in(app, name).get("/offline/config").status_code == 403
    out = CsrfClient(app).get("/offline/config")
    assert out.status_code == 302 and out.headers["Location"].startswith("/signin")


# -- POST /offline/envelopes: stored once ----------------------------------


def test_a_valid_envelope_is_stored_once_and_waits_like_any_record(node):
    inst, app = node
    data = seal(inst)
    client = signed_in(app)
    first = post(client, data)
    assert first.status_code == 201
    assert first.get_json() == {"stored": True, "id": record_id(data)}
    again = post(client, data)
    assert again.status_code == 200
    assert again.get_json() == {"stored": False, "id": record_id(data)}
    from_ngo = post(signed_in(app, "ngo"), data)
    assert from_ngo.status_code == 200 and from_ngo.get_json()["stored"] is False
    assert outbox(inst) == {record_id(data): data}
    database = db.open_database(inst.path)
    row = database.execute("SELECT kind, created, state FROM outbox").fetchone()
    assert db.count_pending(database) == 1
    database.close()
    header = envelope.parse_envelope(data).header
    assert row == ("screening", header["created"], "pending")


def test_another_envelope_under_a_held_id_is_a_conflict(node):
    inst, app = node
    client = signed_in(app)
    data = seal(inst)
    assert post(client, data).status_code == 201
    resealed = seal(inst, record_id=record_id(data))  # same id, fresh keys: other bytes
    assert resealed != data
    before = database_dump(inst.path)
    answer = post(client, resealed)
    assert answer.status_code == 409
    assert answer.get_json() == {
        "error": "another envelope is held under this record id",
        "id": record_id(data),
    }
    assert database_dump(inst.path) == before


def test_an_interview_begun_here_and_finished_in_the_browser_ends_its_draft(node):
    inst, app = node
    client = signed_in(app)
    draft = start_draft(client)
    assert post(client, seal(inst, record_id=draft)).status_code == 201
    database = db.open_database(inst.path)
    assert db.drafts_for_user(database, db.user_by_name(database, "officer")["id"], 0) == []
    database.close()
    # Finishing it here too would seal a second record under its id: it is gone instead.
    finish = client.post(f"/screening/{draft}/finish")
    assert finish.status_code == 303 and finish.headers["Location"] == "/"
    assert list(outbox(inst)) == [draft]


def test_another_officers_interview_id_is_not_taken(node):
    inst, app = node
    others = start_draft(signed_in(app, "ngo"))
    before = database_dump(inst.path)
    answer = post(signed_in(app), seal(inst, record_id=others))
    assert answer.status_code == 409
    assert database_dump(inst.path) == before


# -- POST /offline/envelopes: refused, nothing stored ----------------------


def _refused(inst, app, data, reason: str, **kwargs):
    before = database_dump(inst.path)
    answer = post(signed_in(app), data, **kwargs)
    assert answer.status_code == 400, (reason, answer.status_code, answer.get_data())
    assert reason in answer.get_json()["error"]
    assert database_dump(inst.path) == before


def _in(hours: float) -> str:
    return (datetime.now(UTC) + timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        ({"kind": "record"}, "kind is 'record', not 'screening'"),
        ({"kind": "referral"}, "kind is 'referral', not 'screening'"),
        ({"device": "0123456789abcdef"}, "another device"),
        ({"device": None}, "another device"),
        ({"questionnaire": "screening-short@0.0.1"}, "questionnaire this node does not ship"),
        ({"questionnaire": "screening-long@2.0.0"}, "questionnaire this node does not ship"),
        ({"questionnaire": "screening-short"}, "questionnaire this node does not ship"),
        ({"questionnaire": None}, "questionnaire this node does not ship"),
        ({"created": _in(24.5)}, "more than a day in the future"),
        ({"created": "2999-01-01T00:00:00Z"}, "more than a day in the future"),
    ],
)
def test_a_header_this_node_would_not_write_is_refused(node, header, reason):
    inst, app = node
    _refused(inst, app, seal(inst, **header), reason)


def test_a_tablet_clock_a_little_ahead_or_long_behind_is_taken(node):
    inst, app = node
    client = signed_in(app)
    assert post(client, seal(inst, created=_in(23))).status_code == 201
    assert post(client, seal(inst, created="2020-01-01T00:00:00Z")).status_code == 201


def test_the_recipients_must_be_exactly_this_nodes(node, coordinator_key, second_key):
    inst, app = node
    third = crypto.new_recipient_key().public_key()
    ours = [coordinator_key.public_key(), second_key.public_key()]
    reason = "not sealed to exactly this node's recipient keys"
    _refused(inst, app, seal(inst, recipients=[*ours, third]), reason)
    _refused(inst, app, seal(inst, recipients=[ours[0]]), reason)
    _refused(inst, app, seal(inst, recipients=[ours[1]]), reason)
    _refused(inst, app, seal(inst, recipients=[ours[0], third]), reason)
    # The order of the stanzas is the sealer's; the set is what counts.
    assert post(signed_in(app), seal(inst, recipients=ours[::-1])).status_code == 201


def test_what_is_not_one_envelope_is_refused(node):
    inst, app = node
    data = seal(inst)
    other = seal(inst)
    _refused(inst, app, b"", "not a well-formed envelope")
    _refused(inst, app, data[:-1], "truncated in the record")
    _refused(inst, app, data[:100], "not a well-formed envelope")
    _refused(inst, app, data + b"\x00", "trailing bytes")
    _refused(inst, app, data + other, "trailing bytes")
    _refused(inst, app, b"INTAKE" + bytes(200), "not an Intake envelope")
    _refused(inst, app, json.dumps({"envelope": data.hex()}).encode(), "not an Intake envelope")


def test_a_batch_is_not_an_envelope(node):
    import io

    from intake.batch import write_batch

    inst, app = node
    out = io.BytesIO()
    write_batch(out, [seal(inst)], 1, inst.device_key())
    _refused(inst, app, out.getvalue(), "not an Intake envelope")


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "text/plain", "application/x-www-form-urlencoded", "image/png", ""],
)
def test_another_content_type_is_refused(node, content_type):
    inst, app = node
    _refused(
        inst,
        app,
        seal(inst),
        "send one envelope as application/octet-stream",
        content_type=content_type,
    )


def test_a_body_over_the_limit_is_refused_as_too_large(node):
    inst, app = node
    limit = app.config["MAX_CONTENT_LENGTH"]
    assert limit == 1024 * 1024
    # Still a well-formed envelope: only its size is wrong.
    big = seal(inst, record={"id": str(uuid.uuid4()), "words": "x" * limit})
    before = database_dump(inst.path)
    for body in (big, b"\x00" * (limit + 1)):
        answer = post(signed_in(app), body)
        assert answer.status_code == 413
        assert answer.get_json() == {
            "error": "the envelope is larger than this node accepts (1048576 bytes)"
        }
    assert database_dump(inst.path) == before


def test_a_missing_forged_or_other_sessions_token_is_refused(node):
    inst, app = node
    data = seal(inst)
    client = signed_in(app)
    token = client.token()
    forged = token[:-6] + ("AAAAAA" if not token.endswith("AAAAAA") else "BBBBBB")
    other = signed_in(app, "ngo").token()
    before = database_dump(inst.path)
    for wrong in ("", forged, other):
        answer = post(client, data, token=wrong)
        assert answer.status_code == 400, wrong
        refusal = answer.get_json()
        assert refusal["retry"] is True, "a token refused says nothing of the envelope"
        assert refusal["error"].startswith("the CSRF token is missing or wrong")
        assert database_dump(inst.path) == before
    # In the form field instead of the header: an octet-stream body has no form.
    answer = client.client.post(URL, data=data, content_type=OCTETS)
    assert answer.status_code == 400 and answer.get_json()["retry"] is True
    assert database_dump(inst.path) == before
    assert post(client, data, token=token).status_code == 201


def test_over_https_the_token_needs_a_referrer_of_this_site(node):
    """Flask-WTF's strict check over TLS: a same-origin fetch sends one (Referrer-Policy)."""
    inst, app = node
    client = CsrfClient(app)  # signed in over https, as a browser of `intake serve --tls` is
    https = {"base_url": "https://localhost"}

    def fresh_token() -> str:
        page = client.client.get("/signin", **https).get_data(as_text=True)
        return TOKEN.search(page).group(1)

    answer = client.client.post(
        "/signin",
        data={"username": "officer", "password": OFFICER_PASSWORD, "csrf_token": fresh_token()},
        headers={"Referer": "https://localhost/signin"},
        **https,
    )
    assert answer.status_code == 302
    data, token = seal(inst), fresh_token()
    refused = post(client, data, token=token, **https)
    assert refused.status_code == 400 and "referrer" in refused.get_json()["error"].lower()
    page = {"Referer": "https://localhost/offline/app"}
    assert post(client, data, token=token, headers=page, **https).status_code == 201


# -- every changed byte ----------------------------------------------------


def _regions(data: bytes) -> dict[str, range]:
    """Where the parts of an envelope lie."""
    parsed = envelope.parse_envelope(data)
    head_end = PREFIX + len(parsed.header_bytes)
    stanzas = head_end + 1
    body = stanzas + len(parsed.stanzas) * STANZA
    header = parsed.header

    def value(name: str) -> range:
        start = PREFIX + parsed.header_bytes.index(header[name].encode())
        return range(start, start + len(header[name]))

    return {
        "id": value("id"),
        "created": value("created"),
        "framing": range(0, body + BODY_HEAD),
        "stanzas": range(stanzas, body),
        "nonce": range(body, body + 12),
        "ciphertext": range(body + BODY_HEAD, len(data)),
    }


def _payload(regions, position: int) -> bool:
    """Whether a byte is one the node cannot check: a sealed key, the nonce, the ciphertext."""
    if position in regions["stanzas"]:
        return (position - regions["stanzas"].start) % STANZA >= 10
    return position in regions["nonce"] or position in regions["ciphertext"]


def test_a_changed_byte_is_refused_or_left_to_the_workspace(node, coordinator_key):
    """The original is held; then every byte of the framing and a sample of the rest, changed.

    Framing: refused (400), except that a header field may change into another
    well-formed value: another time (the same id: 409), or another record id
    (stored as a new record, which no workspace opens). Sealed keys, nonce,
    ciphertext: the same id, other bytes (409): the node cannot tell tampering
    from a second sealing, and keeps neither.
    """
    inst, app = node
    client = signed_in(app)
    data = seal(inst)
    assert post(client, data).status_code == 201
    regions = _regions(data)
    opener = Opener(coordinator_key, crypto.key_id(coordinator_key.public_key()))
    positions = [*regions["framing"], *range(regions["framing"].stop, len(data), 7), len(data) - 1]
    token = client.token()
    wrong, new_ids, seen = [], [], set()
    for position in positions:
        for flip in (0x01, 0x80):
            changed = bytearray(data)
            changed[position] ^= flip
            changed = bytes(changed)
            held = len(outbox(inst))
            got = post(client, changed, token=token).status_code
            seen.add(got)
            if _payload(regions, position):
                allowed = {409}
            elif flip == 0x01 and position in regions["id"]:
                allowed = {400, 201}
            elif flip == 0x01 and position in regions["created"]:
                allowed = {400, 409}
            else:
                allowed = {400}
            if got not in allowed:
                wrong.append(f"byte {position} ^ {flip:#04x}: {got}, expected {allowed}")
            if got == 201:
                new_ids.append(record_id(changed))
            assert len(outbox(inst)) == held + (got == 201), position
    assert not wrong, "\n".join(wrong)
    assert seen == {400, 409, 201}  # each kind of answer was met, so each rule was tried
    kept = outbox(inst)
    assert kept[record_id(data)] == data
    assert set(kept) == {record_id(data), *new_ids}
    for other in new_ids:
        with pytest.raises(envelope.TamperedError):
            opener.open(kept[other])
    assert opener.open(data)[1]


@pytest.mark.parametrize("where", ["sealed key", "nonce", "ciphertext", "tag"])
def test_the_node_stores_a_changed_payload_and_the_workspace_refuses_it(
    node, coordinator_key, where
):
    """What the node cannot authenticate: it keeps it; opening it fails, for every recipient."""
    inst, app = node
    data = seal(inst)
    regions = _regions(data)
    position = {
        "sealed key": regions["stanzas"].start + 10 + 40,
        "nonce": regions["nonce"].start + 5,
        "ciphertext": regions["ciphertext"].start + 100,
        "tag": len(data) - 1,
    }[where]
    changed = bytearray(data)
    changed[position] ^= 0x01
    assert post(signed_in(app), bytes(changed)).status_code == 201
    kept = outbox(inst)[record_id(data)]
    opener = Opener(coordinator_key, crypto.key_id(coordinator_key.public_key()))
    with pytest.raises(envelope.TamperedError):
        opener.open(kept)


# -- over real HTTP: two tabs at once, and the server's own size limit ------


def _post_live(client: LiveClient, data: bytes, token: str) -> tuple[int, dict]:
    request = urllib.request.Request(  # noqa: S310 - http://127.0.0.1 only
        client.base + URL,
        data=data,
        method="POST",
        headers={"Content-Type": OCTETS, "X-CSRFToken": token},
    )
    try:
        with client.opener.open(request, timeout=60) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as answer:
        body = answer.read()
        return answer.code, json.loads(body) if body.startswith(b"{") else {}


@pytest.fixture
def served(node):
    inst, _app = node
    server = LiveServer(inst.path)
    server.start()
    yield inst, server
    server.stop()


def _at_once(client, token, bodies: list[bytes]) -> list[int]:
    """Send each body from its own thread, all released together; return the statuses."""
    barrier = threading.Barrier(len(bodies))
    statuses = [None] * len(bodies)

    def send(i: int) -> None:
        barrier.wait()
        statuses[i] = _post_live(client, bodies[i], token)[0]

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(bodies))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return statuses


def test_two_tabs_sending_at_once_store_it_once(served):
    inst, server = served
    client = sign_in(LiveClient(server.url), "officer")
    token = client.token()  # one session, as two tabs of one browser share it
    data = seal(inst)
    statuses = _at_once(client, token, [data] * 8)
    assert sorted(statuses) == [200] * 7 + [201]
    assert outbox(inst) == {record_id(data): data}
    # Eight different sealings of one record at once: one is kept, the others are conflicts.
    first = seal(inst)
    rivals = [first] + [seal(inst, record_id=record_id(first)) for _ in range(7)]
    statuses = _at_once(client, token, rivals)
    assert sorted(statuses) == [201] + [409] * 7
    assert outbox(inst)[record_id(first)] in rivals


def test_the_served_node_refuses_an_oversize_body_and_keeps_nothing(served):
    """`intake serve` answers 413 from the headers alone, before the app or the body."""
    inst, server = served
    client = sign_in(LiveClient(server.url), "officer")
    before = database_dump(inst.path)
    address = urllib.parse.urlsplit(server.url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=30)
    connection.putrequest("POST", URL)
    connection.putheader("Content-Type", OCTETS)
    connection.putheader("Content-Length", str(1024 * 1024 + 1))
    connection.putheader("X-CSRFToken", client.token())
    connection.putheader("Cookie", "; ".join(f"{c.name}={c.value}" for c in client.cookies))
    connection.endheaders()  # and no body: a server that waited for it would time out
    assert connection.getresponse().status == 413
    connection.close()
    assert database_dump(inst.path) == before
    data = seal(inst)
    assert _post_live(client, data, client.token()) == (
        201,
        {"stored": True, "id": record_id(data)},
    )


# -- then it syncs like any other record, and opens ------------------------


def test_it_syncs_to_the_hub_and_intake_open_opens_it(
    node, tmp_path, coordinator_key, keys, passphrase_file
):
    inst, app = node
    hub = instance.create(tmp_path / "hub", "hub", [coordinator_key.public_key()])
    server = LiveServer(hub.path)
    server.start()
    try:
        record = screening_record({"danger_now": "no"}, device=inst.device_id())
        data = seal(inst, record=record)
        assert post(signed_in(app), data).status_code == 201
        enrol_field(hub, inst)
        database = db.open_database(inst.path)
        db.set_sync_state(database, "hub_url", server.url)
        database.close()
        report = sync.sync(instance.load(inst.path))
        assert report.pending == 0
    finally:
        server.stop()
    database = db.open_database(hub.path)
    [row] = db.envelope_page(database, 0, 10)
    database.close()
    assert (row["id"], row["device"], row["envelope"]) == (record["id"], inst.device_id(), data)
    # The device's signature is added at sync, over the bytes the browser sealed.
    device_public = crypto.raw_public_key(inst.device_key())
    verify_record_signature(device_public, row["envelope"], row["signature"])
    path = tmp_path / "from-the-browser.env"
    path.write_bytes(row["envelope"])
    opened = run_intake(
        "open", "--key", keys[0], "--passphrase-file", passphrase_file, "--with-header", path
    )
    assert opened.returncode == 0, opened.stderr.decode()
    shown = json.loads(opened.stdout)
    assert shown["record"] == record
    assert shown["header"] == envelope.parse_envelope(data).header


# -- POST /offline/password -------------------------------------------------


def ask(client: CsrfClient, form: dict):
    """Ask the node about a password as the browser does: a form, the token in X-CSRFToken."""
    return client.client.post(
        "/offline/password", data=form, headers={"X-CSRFToken": client.token()}
    )


def failures(inst, name: str) -> int:
    database = db.open_database(inst.path)
    try:
        return db.sign_in_failures(database, name)["failures"]
    finally:
        database.close()


def test_the_node_says_whether_a_password_is_the_officers(node):
    """Before the browser keys a tablet with a password, the node confirms it is the right one."""
    inst, app = node
    client = signed_in(app)
    right = ask(client, {"password": OFFICER_PASSWORD})
    assert (right.status_code, right.get_json()) == (200, {"matches": True})
    assert failures(inst, "officer") == 0
    wrong = ask(client, {"password": OFFICER_PASSWORD + " "})
    assert (wrong.status_code, wrong.get_json()) == (200, {"matches": False})
    assert failures(inst, "officer") == 1  # a failed sign-in, as on the sign-in page
    for form in ({}, {"password": ""}):
        refused = ask(client, form)
        assert refused.status_code == 400 and "password" in refused.get_json()["error"]
    # The officer's own password only: the ngo user's session asks about the ngo user.
    ngo = signed_in(app, "ngo")
    assert ask(ngo, {"password": OFFICER_PASSWORD}).get_json() == {"matches": True}
    assert ask(ngo, {"password": "officer"}).get_json() == {"matches": False}


def test_guessing_passwords_there_is_throttled_as_sign_in(node):
    inst, app = node
    client = signed_in(app)
    # At most 8 failures (intake.accounts.LOCK_AFTER) before the name is locked; on a
    # fast machine the throttle's waits answer 429 sooner.
    answers = [ask(client, {"password": f"guess {n}"}) for n in range(8)]
    statuses = [a.status_code for a in answers]
    assert 429 in statuses, statuses
    first = statuses.index(429)
    assert all(a.get_json() == {"matches": False} for a in answers[:first])
    assert "Too many failed attempts" in answers[first].get_json()["error"]
    # The sign-in page's own count: the first three (FREE_FAILURES) are never throttled.
    assert failures(inst, "officer") >= 3
