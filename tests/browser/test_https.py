"""Signing in over HTTPS, as deployed: `intake serve --tls`, CSRF on, the node's own certificate.

Chromium trusts exactly that certificate and nothing else: it is launched
with `--ignore-certificate-errors-spki-list` naming the SHA-256 of the
certificate's public key, and `ignore_https_errors` stays off. One test
(and the offline interview over TLS) trusts the node as a tablet does
instead: the node's authority, tls/ca.pem, in the browser's own store.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from intake import instance
from intake.questionnaire import load_questionnaire
from tests.browser import (
    LiveServer,
    assert_accessible,
    assert_no_horizontal_scroll,
    check,
    watch_page,
)
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, VIEWPORTS, browser_env, skip_or_fail
from tests.browser.test_profile import finish_screening, start_screening
from tests.browser.test_screening import open_records
from tests.conftest import run_intake
from tests.hubs import batch_bytes, enrol_field, post_batch, sealed_records

# The home page each role lands on after signing in: a part of its URL and a heading.
LANDING = {"field": ("/", "Start a screening"), "hub": ("/admin", "Devices")}


def spki_pin(instance_dir) -> str:
    """Base64 of the SHA-256 of the node's certificate's public key (SubjectPublicKeyInfo)."""
    cert = x509.load_pem_x509_certificate((instance_dir / "tls" / "cert.pem").read_bytes())
    spki = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(hashlib.sha256(spki).digest()).decode()


def _hub_with_traffic(folder, coordinator_keys, tmp_path):
    """A hub with an enrolled device and one batch received, as an admin would see it."""
    from intake import create_app

    pub = coordinator_keys / "coordinator.pub"
    check(run_intake("init", "--instance", folder, "--role", "hub", "--to", pub))
    hub = instance.load(folder)
    field = instance.create(tmp_path / "device", "field", hub.recipient_keys())
    enrol_field(hub, field, "Crossing 7 — the long name of a border post")
    records = sealed_records(field.recipient_keys(), 3, field.device_id())
    client = create_app({"INSTANCE_PATH": str(folder), "TESTING": True}).test_client()
    assert post_batch(client, batch_bytes(records, field.device_key())).status_code == 200


@pytest.fixture(params=["field", "hub"])
def tls_node(request, tmp_path, coordinator_keys):
    """A field node or a hub served by `intake serve --tls` on a free loopback port."""
    folder = tmp_path / request.param
    if request.param == "hub":
        _hub_with_traffic(folder, coordinator_keys, tmp_path)
    else:
        pub = coordinator_keys / "coordinator.pub"
        check(run_intake("init", "--instance", folder, "--role", "field", "--to", pub))
    server = LiveServer(folder)
    try:
        server.start(20, "--tls")
        yield request.param, server
    finally:
        server.stop()
        print("intake serve said:\n" + "".join(server.output))


@pytest.fixture
def pinned_browser(browser, tls_node):
    """Chromium that trusts the node's certificate, and only that one."""
    _role, server = tls_node
    args = [*CHROMIUM_ARGS, f"--ignore-certificate-errors-spki-list={spki_pin(server.instance)}"]
    pinned = browser.browser_type.launch(executable_path=CHROMIUM, args=args, env=browser_env())
    yield pinned
    pinned.close()


def test_sign_in_over_tls_with_the_nodes_certificate(pinned_browser, tls_node):
    role, server = tls_node
    assert server.url.startswith("https://127.0.0.1:")
    context = pinned_browser.new_context(ignore_https_errors=False, **VIEWPORTS["phone"])
    page = context.new_page()
    seen = watch_page(page)
    response = page.goto(server.page_url("signin"))
    assert response.ok
    user = "admin" if role == "hub" else "officer"
    server.sign_in(page, user)  # CSRF on: the POST carries its token and a same-origin Referer
    path, heading = LANDING[role]
    assert page.url == server.url.rstrip("/") + path
    assert heading in page.inner_text("main")
    cookie = next(c for c in context.cookies() if c["name"] == "session")
    assert cookie["secure"] and cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    if role == "hub":
        # The admin's tables at 360 px: every cell on the screen, nothing scrolls sideways.
        assert "Crossing 7" in page.inner_text("main")
        assert_no_horizontal_scroll(page)
        cells = page.eval_on_selector_all(
            "td", "cells => cells.map(c => c.getBoundingClientRect().right)"
        )
        assert cells and max(cells) <= page.viewport_size["width"]
        assert_accessible(page)
    assert response.headers["referrer-policy"] == "same-origin"
    seen.assert_clean()
    context.close()


def test_another_certificate_is_not_trusted(browser, tls_node):
    """The control: without the pin, the same browser refuses the node."""
    _role, server = tls_node
    context = browser.new_context(ignore_https_errors=False)
    page = context.new_page()
    with pytest.raises(Exception, match="ERR_CERT"):
        page.goto(server.page_url("signin"))
    context.close()


def trusting_env(tmp_path, authority) -> dict:
    """A HOME whose NSS store trusts `authority`, as a tablet that installed it.

    Chromium on Linux reads the user's authorities from ~/.pki/nssdb; certutil
    (Debian's libnss3-tools, installed by scripts/install-browser-deps) writes it.
    """
    certutil = shutil.which("certutil")
    if certutil is None:
        skip_or_fail(
            "certutil is missing (Debian: libnss3-tools; see scripts/install-browser-deps)"
        )
    env = browser_env()
    home = tmp_path / "tablet-home"
    store = home / ".pki" / "nssdb"
    store.mkdir(parents=True)
    check(
        subprocess.run(
            [certutil, "-d", f"sql:{store}", "-N", "--empty-password"], capture_output=True
        )
    )
    add = [
        certutil,
        "-d",
        f"sql:{store}",
        "-A",
        "-t",
        "C,,",
        "-n",
        "Intake node",
        "-i",
        str(authority),
    ]
    check(subprocess.run(add, capture_output=True))
    return {**env, "HOME": str(home)}


def test_a_browser_that_installed_the_node_s_authority_trusts_it(browser, tls_node, tmp_path):
    """No pin, no flag: the node's tls/ca.pem in the browser's own store, as on a tablet.

    The service worker is the proof that matters: a browser registers it only
    from a site whose certificate it trusts, and without it there is no
    offline app.
    """
    role, server = tls_node
    env = trusting_env(tmp_path, server.instance / "tls" / "ca.pem")
    # A name that leads to the node but that its certificate does not hold.
    args = [*CHROMIUM_ARGS, "--host-resolver-rules=MAP elsewhere.test 127.0.0.1"]
    tablet = browser.browser_type.launch(executable_path=CHROMIUM, args=args, env=env)
    try:
        context = tablet.new_context(ignore_https_errors=False, **VIEWPORTS["phone"])
        page = context.new_page()
        seen = watch_page(page)
        assert page.goto(server.page_url("signin")).ok
        server.sign_in(page, "admin" if role == "hub" else "officer")
        if role == "field":
            registered = page.evaluate("navigator.serviceWorker.ready.then(r => Boolean(r.active))")
            assert registered
        # The same node under another name: refused, the authority vouches for its names only.
        with pytest.raises(Exception, match="ERR_CERT_COMMON_NAME_INVALID"):
            page.goto(server.url.replace("127.0.0.1", "elsewhere.test") + "signin")
        seen.clear()
        context.close()
    finally:
        tablet.close()


@pytest.mark.parametrize("tls_node", ["field"], indirect=True)
def test_the_pages_work_without_javascript(browser, tls_node, coordinator_keys, tmp_path):
    """The node's own pages need no script: a whole screening, sealed, with JavaScript off.

    Over TLS with CSRF on and the node's authority trusted, as deployed; the
    service worker, the offline app and the idle lock are then simply absent.
    """
    _role, server = tls_node
    env = trusting_env(tmp_path, server.instance / "tls" / "ca.pem")
    tablet = browser.browser_type.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, env=env)
    try:
        context = tablet.new_context(java_script_enabled=False, **VIEWPORTS["tablet"])
        page = context.new_page()
        server.sign_in(page)
        start_screening(page, server, "screening-short")
        finish_screening(page, load_questionnaire("screening-short"), "typed without scripts")
        reference = page.inner_text(".reference strong")
        # The control: no page script ran, so no service worker was registered.
        registrations = "navigator.serviceWorker.getRegistrations().then(r => r.length)"
        assert page.evaluate(registrations) == 0
        context.close()
    finally:
        tablet.close()
    records = open_records(server, coordinator_keys, tmp_path)
    assert [r["reference"] for r in records] == [reference]
    assert "typed without scripts" in json.dumps(records[0]["answers"])
