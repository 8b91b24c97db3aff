"""Sessions on the web side: HTTPS sign-in, disabled users, redirects, links from other sites.

Expected answers are written by hand here, not read from the code under test.
"""

from __future__ import annotations

import re

import pytest

from intake import create_app, db
from tests.screening import OFFICER_PASSWORD, add_user, sign_in

HTTPS = "https://127.0.0.1:8443"


def _app(inst, **config):
    return create_app({"INSTANCE_PATH": str(inst.path), "TESTING": True, **config})


@pytest.fixture
def app(field_instance):
    add_user(field_instance, "amina", "officer")
    return _app(field_instance, WTF_CSRF_ENABLED=False)


def _csrf_token(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def _https_sign_in(client, referer: str | None):
    """Sign in over HTTPS with CSRF on, as a browser would, sending this Referer."""
    token = _csrf_token(client.get("/signin", base_url=HTTPS).get_data(as_text=True))
    headers = {"Referer": referer} if referer else {}
    form = {"csrf_token": token, "username": "amina", "password": OFFICER_PASSWORD}
    return client.post("/signin", data=form, headers=headers, base_url=HTTPS)


def test_every_page_asks_for_a_same_origin_referer_only(app):
    client = app.test_client()
    for path in ("/signin", "/", "/no-such-page", "/static/intake.css"):
        response = client.get(path)
        response.close()
        assert response.headers["Referrer-Policy"] == "same-origin", path


def test_https_sign_in_with_a_same_origin_referer(field_instance):
    """Production configuration (CSRF on, strict over HTTPS): the browser's Referer is enough."""
    add_user(field_instance, "amina", "officer")
    app = _app(field_instance, SESSION_COOKIE_SECURE=True)
    assert app.config["WTF_CSRF_ENABLED"] and app.config["WTF_CSRF_SSL_STRICT"]
    client = app.test_client()
    response = _https_sign_in(client, f"{HTTPS}/signin?next=/")
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert "Secure" in response.headers["Set-Cookie"]
    assert client.get("/", base_url=HTTPS).status_code == 200


@pytest.mark.parametrize(
    "referer",
    [None, "https://evil.example/signin", "http://127.0.0.1:8443/signin", "https://127.0.0.1:9/"],
)
def test_https_sign_in_from_elsewhere_is_refused(field_instance, referer):
    add_user(field_instance, "amina", "officer")
    client = _app(field_instance, SESSION_COOKIE_SECURE=True).test_client()
    response = _https_sign_in(client, referer)
    assert response.status_code == 400
    assert "The form has expired" in response.get_data(as_text=True)
    assert client.get("/", base_url=HTTPS).status_code == 302  # not signed in


def test_a_disabled_user_is_signed_out_at_the_next_request(app, field_instance):
    client = app.test_client()
    assert sign_in(client, "amina").status_code == 302
    assert client.get("/").status_code == 200
    database = db.open_database(field_instance.path)
    db.set_user_disabled(database, "amina", True)
    response = client.get("/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/signin")
    assert app.extensions["intake_keyring"]._entries == {}  # the draft key is forgotten
    # Enabled again, the old session does not come back: the password is needed.
    db.set_user_disabled(database, "amina", False)
    database.close()
    assert client.get("/").status_code == 302
    assert sign_in(client, "amina").status_code == 302
    assert client.get("/").status_code == 200


# Where a sign-in may send the officer: a path on this site, else home. By hand.
NEXT_TARGETS = {
    "/": "/",
    "/screening/6f1c4a52-0d1e-4a53-9c8e-0f3f3c1a2b7d/resume": (
        "/screening/6f1c4a52-0d1e-4a53-9c8e-0f3f3c1a2b7d/resume"
    ),
    "/?lang=ar": "/?lang=ar",
    "/ok/../path": "/ok/../path",
    "": "/",
    "//evil.example": "/",
    "////evil.example/phish": "/",
    "///evil.example": "/",
    "/\\evil.example": "/",
    "/\\\\evil.example": "/",
    "\\\\evil.example": "/",
    "/ok\\..\\..\\\\evil.example": "/",
    "/%2F%2Fevil.example": "/",
    "/%2f/evil.example": "/",
    "/%5Cevil.example": "/",
    "/%252F%252Fevil.example": "/",
    "https://evil.example": "/",
    "https:/evil.example": "/",
    "javascript:alert(1)": "/",
    "data:text/html,x": "/",
    "evil.example": "/",
    "\t//evil.example": "/",
    "/\t/evil.example": "/",
    "/\n/evil.example": "/",
    "/\r\n/evil.example": "/",
    " //evil.example": "/",
    "/%09/evil.example": "/",
    "/%00": "/",
    "/ //evil.example": "/",
    "/\u3000/evil.example": "/",
    "/\uff0f\uff0fevil.example": "/",
    "/#//evil.example": "/",
}


def test_sign_in_redirects_only_to_a_path_on_this_site(app):
    client = app.test_client()
    for target, expected in NEXT_TARGETS.items():
        response = client.post(
            "/signin", data={"username": "amina", "password": OFFICER_PASSWORD, "next": target}
        )
        assert response.status_code == 302, target
        location = response.headers["Location"]
        assert location == expected, (target, location)
        client.post("/lock")


def _cross_site(**headers) -> dict:
    """Headers of a link followed from another site (Fetch metadata, as browsers send it)."""
    return {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate", **headers}


@pytest.mark.parametrize("path", ["/", "/?lang=ar", "/signin", "/signin?lang=fr&next=/"])
def test_a_link_from_another_site_does_not_replace_the_session(app, path):
    officer = app.test_client()
    sign_in(officer, "amina")
    before = officer.get_cookie("session").value
    # The browser withholds the SameSite=Strict cookie on such a request.
    stranger = app.test_client()
    response = stranger.get(path, headers=_cross_site())
    assert "Set-Cookie" not in response.headers
    page = response.get_data(as_text=True)
    assert '<meta http-equiv="refresh" content="0">' in page  # reloaded from this site
    assert "csrf_token" not in page and "password" not in page
    # The officer's cookie is untouched, and the reload from this site finds them signed in.
    assert officer.get_cookie("session").value == before
    reloaded = officer.get(path, headers={"Sec-Fetch-Site": "same-origin"})
    assert reloaded.status_code == 200, path
    assert 'action="/lock"' in reloaded.get_data(as_text=True)


def test_a_request_from_another_site_never_sets_nor_deletes_the_cookie(app):
    stranger = app.test_client()
    for method, path in (("GET", "/signin?lang=ar"), ("POST", "/lock"), ("GET", "/x")):
        response = stranger.open(path, method=method, headers={"Sec-Fetch-Site": "cross-site"})
        assert "Set-Cookie" not in response.headers, (method, path)


def test_changing_language_keeps_the_officer_signed_in(app):
    client = app.test_client()
    sign_in(client, "amina")
    for language, direction in (("ar", "rtl"), ("fr", "ltr")):
        assert client.get(f"/?lang={language}").status_code == 200
        page = client.get("/").get_data(as_text=True)
        assert f'dir="{direction}"' in page and 'action="/lock"' in page


def test_the_language_chosen_before_sign_in_stays(app):
    client = app.test_client()
    client.get("/signin?lang=ar")
    sign_in(client, "amina")
    assert 'dir="rtl"' in client.get("/").get_data(as_text=True)
