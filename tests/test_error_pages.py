"""Error pages: the app's own look, the officer's language, and a way home."""

from __future__ import annotations

import pytest

from intake import create_app
from tests.screening import add_user, sign_in

# What each page says in English, by hand: none of it may be left in another language.
ENGLISH = {
    400: ["The form has expired", "did not come from this site"],
    403: ["Not allowed", "Your account cannot open this page."],
    404: ["Page not found", "There is no page at this address."],
    405: ["Not allowed", "This page cannot be opened this way."],
    413: ["Too large", "What was sent is larger than this server accepts."],
    500: ["Something went wrong", "tell your administrator"],
}
HOME_LINK = "Go to the start page"
LANGUAGES = {"en": "ltr", "ar": "rtl", "uk": "ltr", "ti": "ltr"}


@pytest.fixture
def clients(field_instance):
    """An admin's client (CSRF off) and a stranger's (CSRF on), on apps that answer 500s."""
    add_user(field_instance, "admin", "admin")
    config = {"INSTANCE_PATH": str(field_instance.path), "TESTING": True}
    config["PROPAGATE_EXCEPTIONS"] = False  # answer a failure as the server would
    app = create_app({**config, "WTF_CSRF_ENABLED": False})

    def broken():
        raise RuntimeError("a bug")

    app.add_url_rule("/broken", view_func=broken)
    admin = app.test_client()
    sign_in(admin, "admin")
    return admin, create_app(config).test_client()


def _pages(clients, language):
    admin, stranger = clients
    header = {"Accept-Language": language}
    yield 400, stranger.post("/lock", headers=header)  # no CSRF token
    yield 403, admin.post("/screening/start", headers=header)  # not a screener
    yield 404, admin.get("/no-such-page", headers=header)
    yield 405, admin.get("/lock", headers=header)
    yield 413, admin.post("/signin", data={"username": "x" * 2**21}, headers=header)
    yield 500, admin.get("/broken", headers=header)


@pytest.mark.parametrize("language", list(LANGUAGES))
def test_every_error_page_is_styled_translated_and_leads_home(clients, language):
    for status, response in _pages(clients, language):
        page = response.get_data(as_text=True)
        assert response.status_code == status, (status, page[-500:])
        assert f'lang="{language}" dir="{LANGUAGES[language]}"' in page, status
        assert 'href="/static/intake.css"' in page and '<header class="bar">' in page, status
        assert 'class="button primary" href="/"' in page, status
        english = [*ENGLISH[status], HOME_LINK]
        if language == "en":
            assert all(text in page for text in english), status
        else:
            assert [text for text in english if text in page] == [], (language, status)
    assert "a bug" not in page


def test_405_keeps_its_allow_header(clients):
    admin, _ = clients
    assert "POST" in admin.get("/lock").headers["Allow"]


def test_the_hub_api_keeps_plain_errors(tmp_path, coordinator_key):
    from intake import instance

    hub = instance.create(tmp_path / "hub", "hub", [coordinator_key.public_key()])
    client = create_app({"INSTANCE_PATH": str(hub.path), "TESTING": True}).test_client()
    response = client.get("/api/v1/no-such-thing")
    assert response.status_code == 404 and "<header" not in response.get_data(as_text=True)
    assert "Page not found" in client.get("/no-such-page").get_data(as_text=True)
