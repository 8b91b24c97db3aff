"""Invariant 6: every state-changing request needs the session's CSRF token.

The apps are built exactly as `intake serve` builds them (tests/served.py):
no TESTING, no WTF_CSRF_ENABLED override, so turning CSRF off in the
factory fails here. Every POST route of every role's app is sent a form that
WOULD change something (a sign-in, a lock, an interview started, answered,
finished or deleted) with the token missing, forged, or taken from another
session: each must be answered 400 and change nothing, neither in the
database nor in the session. The same form with the right token must then
change something, or the refusals above proved nothing.

Which routes may skip the token is written here by hand: the hub's two
machine routes, authenticated by device keys and codes instead.
"""

from __future__ import annotations

import io

import pytest

from intake import crypto, db, envelope, instance
from intake.batch import write_batch
from intake.hub.enrolment import new_code
from intake.questionnaire import load_questionnaire
from tests.conftest import PASSPHRASE
from tests.screening import OFFICER_PASSWORD, fill_section
from tests.served import (
    FIRST_SECTION,
    OWN,
    QUESTIONNAIRE,
    CsrfClient,
    answer_every_section,
    database_dump,
    node_with_users,
    production_app,
    sign_in,
    start_draft,
)
from tests.workspaces import Device, install_key, screening_record, store_rows

SCREENING = "/screening/<uuid:draft_id>"
CASE = "/cases/<device>/<record_id>"
# Hand-written: the only POST routes that take no CSRF token.
EXEMPT = {"field": set(), "hub": {"/api/v1/enroll", "/api/v1/batches"}, "workspace": set()}


def _safety_answers() -> dict:
    questionnaire = load_questionnaire(QUESTIONNAIRE)
    form = fill_section(questionnaire, FIRST_SECTION, {}, {"under_18": "no"}, "text", False)
    return {**form, "action": "next"}


def _signed_out(app, _inst):
    return CsrfClient(app), {"username": "officer", "password": OFFICER_PASSWORD}, None


def _officer(app, _inst):
    return sign_in(CsrfClient(app), "officer"), {}, None


def _with_draft(form_of, complete=False):
    def prepare(app, _inst):
        client = sign_in(CsrfClient(app), "officer")
        draft = start_draft(client)
        if complete:
            answer_every_section(client, draft)
        return client, form_of(), draft

    return prepare


def _handed_over(app, _inst):
    """A draft the officer has handed to the person: taking it back changes the draft."""
    client = sign_in(CsrfClient(app), "officer")
    draft = start_draft(client)
    handed = client.post(f"/screening/{draft}/hand-over", data={}, token=client.token())
    assert handed.status_code < 400, handed.status_code
    return client, {}, draft


def _start(app, inst):
    client, _form, _ = _officer(app, inst)
    return client, {"questionnaire": QUESTIONNAIRE, "respondent_language": "en"}, None


class _EnvelopeClient(CsrfClient):
    """A browser's offline queue: one envelope as the body, the token in X-CSRFToken."""

    def __init__(self, signed_in: CsrfClient):
        self.client = signed_in.client  # the same session, signed in through the form

    def post(self, url, data=None, token: str | None = OWN, **kwargs):
        headers = {} if token is None else {"X-CSRFToken": self.token() if token is OWN else token}
        return self.client.post(
            url, data=data, content_type="application/octet-stream", headers=headers, **kwargs
        )


def _offline_envelope(app, inst):
    """An officer's browser back online, with a record it sealed while the node was away."""
    client = _EnvelopeClient(sign_in(CsrfClient(app), "officer"))
    questionnaire = load_questionnaire(QUESTIONNAIRE)
    sealed = envelope.seal_record(
        screening_record({"danger_now": "no"}, device=inst.device_id()),
        inst.recipient_keys(),
        kind="screening",
        device=inst.device_id(),
        questionnaire=f"{questionnaire.id}@{questionnaire.version}",
    )
    return client, sealed.data, None


def _coordinator(app, inst):
    """A coordinator signed in, key unlocked (the form of /unlock unlocks it)."""
    client = sign_in(CsrfClient(app), "coordinator")
    return client, {"passphrase": PASSPHRASE}, None


def _unlocked(form_of):
    def prepare(app, inst):
        client, unlock, _ = _coordinator(app, inst)
        assert client.post("/unlock", data=unlock).status_code == 303
        return client, form_of(inst), None

    return prepare


def _case_of(inst) -> str:
    database = db.open_database(inst.path)
    device, record_id = database.execute("SELECT device, id FROM pulled").fetchone()
    database.close()
    return f"/cases/{device}/{record_id}"


# For each POST route: how to get a session whose valid form would change something.
PREPARE = {
    "/signin": _signed_out,
    "/lock": _officer,
    "/screening/start": _start,
    f"{SCREENING}/<section_id>": _with_draft(_safety_answers),
    f"{SCREENING}/finish": _with_draft(dict, complete=True),
    f"{SCREENING}/discard": _with_draft(dict),
    f"{SCREENING}/hand-over": _with_draft(dict),
    f"{SCREENING}/take-back": _handed_over,
    "/offline/envelopes": _offline_envelope,
    # A wrong password counts as a failed sign-in: the state it changes.
    "/offline/password": lambda app, _inst: (
        sign_in(CsrfClient(app), "officer"),
        {"password": "not the officer's"},
        None,
    ),
    # The workspace: each accepted form writes to the audit log, if nothing else.
    "/unlock": _coordinator,
    f"{CASE}/status": _unlocked(lambda _inst: {"status": "referred"}),
    "/export": _unlocked(lambda _inst: {"format": "csv", "understood": "yes"}),
    "/pull": _unlocked(lambda _inst: {}),
    # A search is kept in memory, per session: part of the state compared.
    "/cases": _unlocked(lambda _inst: {"q": "someone", "age": "adult"}),
    "/dashboard": _unlocked(lambda _inst: {"q": "someone else"}),
}


def _url(rule: str, draft: str | None, inst) -> str:
    if rule == f"{CASE}/status":
        return f"{_case_of(inst)}/status"
    if draft:
        rule = rule.replace("<uuid:draft_id>", draft)
    return rule.replace("<section_id>", FIRST_SECTION)


def _state(client, inst) -> tuple:
    """Everything a refused request must leave alone: the database and the session."""
    signed_in = 'action="/lock"' in client.get("/signin").get_data(as_text=True)
    audit = inst.path / "audit.log"
    workspace = client.client.application.extensions.get("intake_workspace")
    searches = sorted(workspace.searches.items()) if workspace else []
    return (
        database_dump(inst.path),
        signed_in,
        audit.read_bytes() if audit.exists() else b"",
        searches,
    )


def _post_routes(app) -> list[str]:
    return sorted(r.rule for r in app.url_map.iter_rules() if "POST" in r.methods)


@pytest.fixture(params=["field", "hub", "workspace"])
def node(request, tmp_path, coordinator_key):
    inst = node_with_users(tmp_path / request.param, request.param, [coordinator_key.public_key()])
    if request.param == "workspace":
        install_key(inst, coordinator_key)
        device = Device()
        device.pin(inst)
        record = screening_record({"danger_now": "no"}, device=device.id)
        store_rows(inst, [device.seal(record, [coordinator_key.public_key()])])
    return inst, production_app(inst.path)


def test_every_post_route_is_checked_or_exempt_by_hand(node):
    inst, app = node
    unknown = set(_post_routes(app)) - set(PREPARE) - EXEMPT[inst.role]
    assert not unknown, f"POST routes of the {inst.role} app with no CSRF case here: {unknown}"


def test_every_post_refuses_a_missing_or_wrong_token_and_changes_nothing(node):
    inst, app = node
    checked = 0
    for rule in _post_routes(app):
        if rule in EXEMPT[inst.role]:
            continue
        client, form, draft = PREPARE[rule](app, inst)
        url = _url(rule, draft, inst)
        other = sign_in(CsrfClient(app), "ngo").token()  # valid, but another session's
        token = client.token()
        forged = token[:-6] + ("AAAAAA" if not token.endswith("AAAAAA") else "BBBBBB")
        before = _state(client, inst)
        for label, wrong in (("missing", None), ("forged", forged), ("other session's", other)):
            response = client.post(url, data=form, token=wrong)
            assert response.status_code == 400, (rule, label, response.status_code)
            assert _state(client, inst) == before, f"{rule}: a {label} token changed something"
        # The control: the same form with the right token does change something.
        accepted = client.post(url, data=form, token=token)
        assert accepted.status_code < 400, (rule, accepted.status_code)
        assert _state(client, inst) != before, f"{rule}: the form changes nothing even when valid"
        checked += 1
    assert checked == {"field": 10, "hub": 2, "workspace": 8}[inst.role]


def test_a_token_in_the_header_is_checked_too(node):
    """Flask-WTF also reads X-CSRFToken: a wrong one there is no way around the form's."""
    inst, app = node
    client = sign_in(CsrfClient(app), "officer")
    before = _state(client, inst)
    response = client.client.post("/lock", headers={"X-CSRFToken": "forged"})
    assert response.status_code == 400
    assert _state(client, inst) == before


def test_the_exempt_machine_routes_take_signed_input_only(tmp_path, coordinator_key):
    """The hub's two routes without a token: each works for a device, and only with proof."""
    hub = node_with_users(tmp_path / "hub", "hub", [coordinator_key.public_key()])
    app = production_app(hub.path)
    field = instance.create(tmp_path / "device", "field", [coordinator_key.public_key()])
    database = db.open_database(hub.path)
    code = new_code(database, "Crossing 7")
    database.close()
    client = app.test_client()
    device_key = crypto.raw_public_key(field.device_key()).hex()
    assert client.post("/api/v1/enroll", json={"code": "x", "public_key": "00"}).status_code == 403
    assert (
        client.post("/api/v1/enroll", json={"code": code, "public_key": device_key}).status_code
        == 200
    )
    sealed = envelope.seal_record(
        {"x": 1}, field.recipient_keys(), kind="screening", device=field.device_id()
    )
    out = io.BytesIO()
    write_batch(out, [sealed.data], 1, field.device_key())
    batch = out.getvalue()
    forged = batch[:-1] + bytes([batch[-1] ^ 1])
    octets = "application/octet-stream"
    assert client.post("/api/v1/batches", data=forged, content_type=octets).status_code == 400
    assert client.post("/api/v1/batches", data=batch, content_type=octets).status_code == 200
    database = db.open_database(hub.path)
    assert db.count_envelopes(database) == 1
    database.close()
