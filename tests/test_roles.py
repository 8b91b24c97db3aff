"""Invariants 6 and 7: every route refuses every role it is not for; every POST needs CSRF."""

from __future__ import annotations

import uuid

import pytest

from intake import create_app, instance
from intake.accounts import ROLES
from tests.screening import add_user, sign_in

NOT_A_VIEW = {"static"}  # Flask's own static files: public by nature


def _app(tmp_path, coordinator_key, role="field", csrf=False):
    inst = instance.create(tmp_path / role, role, [coordinator_key.public_key()])
    for user_role in ROLES:
        add_user(inst, user_role, user_role)
    return create_app({"INSTANCE_PATH": str(inst.path), "TESTING": True, "WTF_CSRF_ENABLED": csrf})


def _routes(app):
    """Yield (endpoint, method, url, allowed roles) for every route of the app."""
    for rule in app.url_map.iter_rules():
        if rule.endpoint in NOT_A_VIEW:
            continue
        view = app.view_functions[rule.endpoint]
        allowed = getattr(view, "allowed_roles", None)
        assert allowed is not None, f"{rule.endpoint} says nothing about who may use it"
        values = {arg: uuid.uuid4() if arg == "draft_id" else "safety" for arg in rule.arguments}
        url = rule.build(values)[1] if values else rule.rule
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule.endpoint, method, url, allowed


@pytest.mark.parametrize("node_role", ["field", "hub", "workspace"])
def test_role_by_route_matrix(tmp_path, coordinator_key, node_role):
    app = _app(tmp_path, coordinator_key, node_role)
    routes = list(_routes(app))
    assert routes
    checked = 0
    for user_role in (None, *ROLES):
        for endpoint, method, url, allowed in routes:
            # A fresh session per request: one route (lock) ends the session it is called in.
            client = app.test_client()
            if user_role:
                assert sign_in(client, user_role).status_code == 302
            response = client.open(url, method=method)
            status = response.status_code
            if allowed == "public":
                assert status != 403, (endpoint, user_role)
            elif allowed == "device":
                # Machine routes: a session neither helps nor is asked for; the
                # empty body is refused on its own terms (no code, no signature).
                assert status in (400, 403, 415), (endpoint, method, user_role, status)
            elif user_role is None:
                assert status == 302 and "/signin" in response.headers["Location"], (
                    endpoint,
                    method,
                )
            elif user_role in allowed:
                assert status not in (302, 403), (endpoint, method, user_role, status)
            else:
                assert status == 403, (endpoint, method, user_role, status)
            assert status < 500, (endpoint, method, user_role)
            checked += 1
    assert checked >= len(routes) * 5


def test_only_device_routes_skip_csrf_and_they_refuse_unsigned_input(tmp_path, coordinator_key):
    app = _app(tmp_path, coordinator_key, "hub", csrf=True)
    device_routes = [e for e, m, _u, allowed in _routes(app) if allowed == "device"]
    assert sorted(set(device_routes)) == ["hub.api_batches", "hub.api_enroll"]
    client = app.test_client()
    assert (
        client.post(
            "/api/v1/batches", data=b"x", content_type="application/octet-stream"
        ).status_code
        == 400
    )
    assert client.post("/api/v1/enroll", json={"code": "x", "public_key": "00"}).status_code == 403


def test_the_matrix_covers_the_screening_routes(tmp_path, coordinator_key):
    app = _app(tmp_path, coordinator_key)
    endpoints = {endpoint for endpoint, *_ in _routes(app)}
    assert {
        "field.home",
        "field.start",
        "field.section",
        "field.review",
        "field.finish",
    } <= endpoints


def test_every_post_refuses_a_missing_or_wrong_csrf_token(tmp_path, coordinator_key):
    app = _app(tmp_path, coordinator_key, csrf=True)
    client = app.test_client()
    # Sign in properly (with the token), so that refusals below are CSRF's alone.
    page = client.get("/signin").get_data(as_text=True)
    token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    response = client.post(
        "/signin",
        data={"username": "officer", "password": "officer password 1", "csrf_token": token},
    )
    assert response.status_code == 302
    # Signing in starts a fresh session, and with it a fresh token.
    page = client.get("/").get_data(as_text=True)
    token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    posts = [(e, url) for e, method, url, _ in _routes(app) if method == "POST"]
    assert len(posts) >= 6
    for endpoint, url in posts:
        missing = client.post(url, data={"action": "next"})
        wrong = client.post(url, data={"action": "next", "csrf_token": "forged" + token[6:]})
        assert missing.status_code == 400, endpoint
        assert wrong.status_code == 400, endpoint
    # And the right token is accepted where it is needed.
    ok = client.post(
        "/screening/start",
        data={"questionnaire": "screening-short", "respondent_language": "en", "csrf_token": token},
    )
    assert ok.status_code == 303
