"""The app factory and what every page carries."""

from __future__ import annotations

import subprocess
import sys

import pytest

from intake import create_app, instance
from intake.security import CONTENT_SECURITY_POLICY
from tests.screening import add_user, sign_in


@pytest.fixture
def app(field_instance):
    return create_app(
        {"INSTANCE_PATH": str(field_instance.path), "TESTING": True, "WTF_CSRF_ENABLED": False}
    )


@pytest.fixture
def client(app, field_instance):
    add_user(field_instance, "admin", "admin")
    client = app.test_client()
    sign_in(client, "admin")
    return client


def test_field_status_page(client, field_instance):
    response = client.get("/")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert field_instance.device_id() in page
    for key in field_instance.recipient_keys():
        from intake import crypto

        assert crypto.fingerprint(key) in page
    assert '<html lang="en" dir="ltr">' in page


def test_every_page_sends_strict_headers(client):
    for path in ("/", "/signin", "/static/intake.css", "/no-such-page"):
        response = client.get(path)
        response.close()
        csp = response.headers["Content-Security-Policy"]
        assert csp == CONTENT_SECURITY_POLICY
        assert "'unsafe-inline'" not in csp and "script-src 'self'" in csp
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["X-Frame-Options"] == "DENY"


def test_pages_contain_no_inline_script_or_style(client):
    page = client.get("/").get_data(as_text=True)
    assert "<script>" not in page and 'src="/static/lock.js"' in page
    assert "<script>" not in page and "style=" not in page and "<style" not in page


def test_session_cookie_flags(app):
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Strict"


def test_factory_refuses_default_secret_outside_tests(tmp_path, coordinator_key, monkeypatch):
    inst = instance.create(tmp_path / "f", "field", [coordinator_key.public_key()])
    config = inst.path / instance.CONFIG_NAME
    config.write_text(config.read_text().replace(inst.secret_key, "dev"))
    with pytest.raises(RuntimeError, match="default secret key"):
        create_app({"INSTANCE_PATH": str(inst.path)})


def test_factory_refuses_field_without_recipient(tmp_path, coordinator_key):
    inst = instance.create(tmp_path / "f", "field", [coordinator_key.public_key()])
    for pub in inst.recipients_dir.glob("*.pub"):
        pub.unlink()
    with pytest.raises(RuntimeError, match="recipient public key"):
        create_app({"INSTANCE_PATH": str(inst.path)})


def test_factory_refuses_a_broken_instance(tmp_path):
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / instance.CONFIG_NAME).write_text("{not json")
    with pytest.raises(RuntimeError, match="cannot read configuration"):
        create_app({"INSTANCE_PATH": str(tmp_path / "broken")})


def test_no_instance_yet_serves_only_503(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("INTAKE_INSTANCE", raising=False)
    app = create_app()
    response = app.test_client().get("/")
    assert response.status_code == 503
    assert b"intake init" in response.data


@pytest.mark.parametrize("role", ["hub", "workspace"])
def test_other_roles_start(tmp_path, role):
    inst = instance.create(tmp_path / role, role, [])
    app = create_app({"INSTANCE_PATH": str(inst.path), "TESTING": True})
    assert app.test_client().get("/").status_code in (200, 302)  # the hub sends you to sign in
    assert app.test_client().get("/signin").status_code == 200
    assert "field" not in app.blueprints


def test_flask_cli_reaches_the_same_commands(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "intake", "--help"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    for command in ("init", "keys", "seal", "open", "outbox", "serve"):
        assert f"  {command} " in result.stdout


def test_questionnaire_text_is_escaped_even_from_a_catalog(app):
    """A catalog or questionnaire file with markup must not inject HTML."""
    from flask import render_template_string

    hostile = "<img src=x onerror=alert(1)>"
    with app.test_request_context("/"):
        rendered = render_template_string("{{ tq(t) }}|{{ in_respondent(t) }}", t=hostile)
    assert "<img" not in rendered and "&lt;img" in rendered


def test_sign_in_never_redirects_off_the_device(app, field_instance):
    client = app.test_client()
    add_user(field_instance, "amina", "officer")
    for target in (
        "//evil.example",
        "/\t/evil.example",
        "/\\evil.example",
        "https://evil.example",
        "/%09/evil.example",
        "/ok/../path",
    ):
        response = client.post(
            "/signin", data={"username": "amina", "password": "officer password 1", "next": target}
        )
        location = response.headers["Location"]
        assert location.startswith("/") and not location.startswith("//"), target
        assert "evil" not in location or location.startswith("/%09"), (target, location)
        client.post("/lock")
