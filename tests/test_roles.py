"""Invariant 7: every route of every role's app, asked by every kind of session.

The expected answers below are written by hand, one line per route and
method, one column per session. They are deliberately NOT read from
`requires_role` or any other mark in the code under test: a view opened to
the wrong role must disagree with this table, not with itself. The apps are
built as `intake serve` builds them (CSRF on), and every POST carries its
session's valid CSRF token, so that each refusal here is the role check's.

Outcomes: a status code, or SIGNIN (a 302 to the sign-in page).
Sessions: OUT (signed out), the four people (officer, ngo, coordinator,
admin), and on the hub a DEVICE (no cookie; on the machine routes it sends a
valid enrolment code or a batch signed by an enrolled device).

A route in an app but missing here fails `test_the_table_names_every_route`:
add its line, deciding by hand who may use it.
"""

from __future__ import annotations

import pytest

from tests.served import CASE, HUB_SESSIONS, SCREENING, SESSIONS, SIGNIN, Node, every_rule

# fmt: off
#                                        out     officer  ngo     coord.  admin
FIELD = {
    ("/signin", "GET"):                  (200,    200,     200,    200,    200),
    ("/signin", "POST"):                 (302,    302,     302,    302,    302),
    ("/lock", "GET"):                    (405,    405,     405,    405,    405),
    ("/lock", "POST"):                   (303,    303,     303,    303,    303),
    ("/static/<path:filename>", "GET"):  (200,    200,     200,    200,    200),
    ("/static/<path:filename>", "POST"): (405,    405,     405,    405,    405),
    # The installable app's shell: the same for everyone and holding nothing of
    # anyone's, so a browser may fetch it without a session (the service worker
    # pre-caches it without cookies).
    ("/manifest.webmanifest", "GET"):    (200,    200,     200,    200,    200),
    ("/manifest.webmanifest", "POST"):   (405,    405,     405,    405,    405),
    ("/sw.js", "GET"):                   (200,    200,     200,    200,    200),
    ("/sw.js", "POST"):                  (405,    405,     405,    405,    405),
    ("/offline", "GET"):                 (200,    200,     200,    200,    200),
    ("/offline", "POST"):                (405,    405,     405,    405,    405),
    # The offline interview's page: the same shell for everyone (the service
    # worker keeps it); what it needs of a session it asks /offline/config for.
    ("/offline/app", "GET"):             (200,    200,     200,    200,    200),
    ("/offline/app", "POST"):            (405,    405,     405,    405,    405),
    # The browser's offline queue (intake/field/offline_api.py): only those who
    # screen learn what to seal to, and send what they sealed. The matrix's POST
    # is a form, not an envelope: a screener gets past the role check, and the
    # body is refused on its own terms (400).
    ("/offline/config", "GET"):          (SIGNIN, 200,     200,    403,    403),
    ("/offline/config", "POST"):         (405,    405,     405,    405,    405),
    ("/offline/envelopes", "GET"):       (405,    405,     405,    405,    405),
    ("/offline/envelopes", "POST"):      (SIGNIN, 400,     400,    403,    403),
    # Whether a password is the signed-in screener's, before the browser keys a
    # tablet with it; the matrix's empty form is refused on its own terms (400).
    ("/offline/password", "GET"):        (405,    405,     405,    405,    405),
    ("/offline/password", "POST"):       (SIGNIN, 400,     400,    403,    403),
    ("/", "GET"):                        (SIGNIN, 200,     200,    200,    200),
    ("/", "POST"):                       (405,    405,     405,    405,    405),
    ("/screening/start", "GET"):         (405,    405,     405,    405,    405),
    ("/screening/start", "POST"):        (SIGNIN, 303,     303,    403,    403),
    (f"{SCREENING}/<section_id>", "GET"):  (SIGNIN, 200,   200,    403,    403),
    (f"{SCREENING}/<section_id>", "POST"): (SIGNIN, 303,   303,    403,    403),
    (f"{SCREENING}/resume", "GET"):      (SIGNIN, 303,     303,    403,    403),
    # POST to resume, review, hand-back and GET of finish: the path is also
    # the section route's, with a section that does not exist.
    (f"{SCREENING}/resume", "POST"):     (SIGNIN, 404,     404,    403,    403),
    (f"{SCREENING}/review", "GET"):      (SIGNIN, 200,     200,    403,    403),
    (f"{SCREENING}/review", "POST"):     (SIGNIN, 404,     404,    403,    403),
    (f"{SCREENING}/finish", "GET"):      (SIGNIN, 404,     404,    403,    403),
    (f"{SCREENING}/finish", "POST"):     (SIGNIN, 303,     303,    403,    403),
    # GET of discard asks first: a page that says what will be deleted.
    (f"{SCREENING}/discard", "GET"):     (SIGNIN, 200,     200,    403,    403),
    (f"{SCREENING}/discard", "POST"):    (SIGNIN, 303,     303,    403,    403),
    (f"{SCREENING}/hand-over", "GET"):   (SIGNIN, 200,     200,    403,    403),
    (f"{SCREENING}/hand-over", "POST"):  (SIGNIN, 303,     303,    403,    403),
    # Hand-back and take-back only mean something in the respondent view; a
    # draft in the officer's view is sent back to where it stands.
    (f"{SCREENING}/hand-back", "GET"):   (SIGNIN, 303,     303,    403,    403),
    (f"{SCREENING}/hand-back", "POST"):  (SIGNIN, 404,     404,    403,    403),
    (f"{SCREENING}/take-back", "GET"):   (SIGNIN, 303,     303,    403,    403),
    (f"{SCREENING}/take-back", "POST"):  (SIGNIN, 303,     303,    403,    403),
}

#                                        out     officer  ngo     coord.  admin   device
HUB = {
    ("/signin", "GET"):                  (200,    200,     200,    200,    200,    200),
    ("/signin", "POST"):                 (302,    302,     302,    302,    302,    400),
    ("/lock", "GET"):                    (405,    405,     405,    405,    405,    405),
    ("/lock", "POST"):                   (303,    303,     303,    303,    303,    400),
    ("/static/<path:filename>", "GET"):  (200,    200,     200,    200,    200,    200),
    ("/static/<path:filename>", "POST"): (405,    405,     405,    405,    405,    405),
    ("/", "GET"):                        (302,    302,     302,    302,    302,    302),
    ("/", "POST"):                       (405,    405,     405,    405,    405,    405),
    ("/admin", "GET"):                   (SIGNIN, 403,     403,    403,    200,    SIGNIN),
    ("/admin", "POST"):                  (405,    405,     405,    405,    405,    405),
    # Machine routes: a person's session neither helps nor is asked for; the
    # empty body a browser would send is refused on its own terms.
    ("/api/v1/enroll", "GET"):           (405,    405,     405,    405,    405,    405),
    ("/api/v1/enroll", "POST"):          (400,    400,     400,    400,    400,    200),
    ("/api/v1/batches", "GET"):          (405,    405,     405,    405,    405,    405),
    ("/api/v1/batches", "POST"):         (415,    415,     415,    415,    415,    200),
    # The signed recipient list holds public keys only: anyone may fetch it.
    ("/api/v1/recipients", "GET"):       (200,    200,     200,    200,    200,    200),
    ("/api/v1/recipients", "POST"):      (405,    405,     405,    405,    405,    405),
    # A coordinator's workspace pulls with a bearer token, never a session:
    # a person signed in, even a coordinator, gets 401 without one.
    ("/api/v1/devices", "GET"):          (401,    401,     401,    401,    401,    401),
    ("/api/v1/devices", "POST"):         (405,    405,     405,    405,    405,    405),
    ("/api/v1/envelopes", "GET"):        (401,    401,     401,    401,    401,    401),
    ("/api/v1/envelopes", "POST"):       (405,    405,     405,    405,    405,    405),
}

#                                        out     officer  ngo     coord.  admin
WORKSPACE = {
    ("/signin", "GET"):                  (200,    200,     200,    200,    200),
    ("/signin", "POST"):                 (302,    302,     302,    302,    302),
    ("/lock", "GET"):                    (405,    405,     405,    405,    405),
    ("/lock", "POST"):                   (303,    303,     303,    303,    303),
    ("/static/<path:filename>", "GET"):  (200,    200,     200,    200,    200),
    ("/static/<path:filename>", "POST"): (405,    405,     405,    405,    405),
    # A coordinator goes to the cases; an administrator sees what this node is.
    ("/", "GET"):                        (SIGNIN, 403,     403,    303,    200),
    ("/", "POST"):                       (405,    405,     405,    405,    405),
    # The coordinator's pages: a coordinator whose key is still locked is
    # sent to unlock it (303); nobody else comes in. The POST of /unlock
    # here carries no passphrase: refused (401).
    ("/unlock", "GET"):                  (SIGNIN, 403,     403,    200,    403),
    ("/unlock", "POST"):                 (SIGNIN, 403,     403,    401,    403),
    ("/cases", "GET"):                   (SIGNIN, 403,     403,    303,    403),
    # The filter form posts (its search text stays out of addresses).
    ("/cases", "POST"):                  (SIGNIN, 403,     403,    303,    403),
    (CASE, "GET"):                       (SIGNIN, 403,     403,    303,    403),
    (CASE, "POST"):                      (405,    405,     405,    405,    405),
    (f"{CASE}/status", "GET"):           (405,    405,     405,    405,    405),
    (f"{CASE}/status", "POST"):          (SIGNIN, 403,     403,    303,    403),
    ("/export", "GET"):                  (405,    405,     405,    405,    405),
    ("/export", "POST"):                 (SIGNIN, 403,     403,    303,    403),
    ("/dashboard", "GET"):               (SIGNIN, 403,     403,    303,    403),
    ("/dashboard", "POST"):              (SIGNIN, 403,     403,    303,    403),
    ("/devices", "GET"):                 (SIGNIN, 403,     403,    303,    403),
    ("/devices", "POST"):                (405,    405,     405,    405,    405),
    ("/pull", "GET"):                    (405,    405,     405,    405,    405),
    ("/pull", "POST"):                   (SIGNIN, 403,     403,    303,    403),
}
# fmt: on

TABLES = {
    "field": (FIELD, SESSIONS),
    "hub": (HUB, HUB_SESSIONS),
    "workspace": (WORKSPACE, SESSIONS),
}


@pytest.fixture(params=list(TABLES))
def node(request, tmp_path, coordinator_key):
    return Node(tmp_path, request.param, coordinator_key)


def test_the_table_names_every_route(node):
    table, _sessions = TABLES[node.role]
    missing = sorted(every_rule(node.app) - set(table))
    stale = sorted(set(table) - every_rule(node.app))
    assert not missing, (
        f"routes of the {node.role} app missing from the hand-written table: {missing}"
    )
    assert not stale, f"the {node.role} table names routes the app does not have: {stale}"


def test_role_by_route_matrix(node):
    """Every route, every method, every session: the answer is the table's."""
    table, sessions = TABLES[node.role]
    wrong = []
    for (rule, method), expected in sorted(table.items(), key=str):
        assert len(expected) == len(sessions), (rule, method)
        for session, want in zip(sessions, expected, strict=True):
            got = node.ask(rule, method, session)
            if got != want:
                wrong.append(f"{method} {rule} as {session}: {got}, expected {want}")
    assert not wrong, f"{node.role} app:\n" + "\n".join(wrong)


def test_the_production_app_is_what_the_matrix_asks(node):
    """The app under test is not in testing mode and has CSRF on (STYLE habit 9)."""
    assert not node.app.testing
    assert node.app.config.get("WTF_CSRF_ENABLED", True) is True
