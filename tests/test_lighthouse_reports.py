"""The committed Lighthouse reports (docs/reports/) meet issue 11's targets and are current.

`scripts/lighthouse` is the measurement: it runs Lighthouse on the sign-in
page and on a screening's first screen, signed in, and writes the reports.
These tests only read what it wrote, never run Lighthouse: a slow or busy
machine cannot make them fail. They check that the reports were made the
agreed way (Lighthouse 12, the pinned version, mobile, the default simulated
throttling, on 127.0.0.1, with no errored audit), that they meet the targets
(performance at least 98, accessibility and best practices 100), and,
cheaply, that they still describe today's pages: the pages they measured
are today's routes (the screening one signed in, not redirected to sign in),
the page loaded the same scripts, styles and manifest as today's page links,
and those files have not grown by more than STALE_GROWTH since. When one of
these fails, run `make lighthouse` (at a quiet moment) and commit the reports.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from pathlib import Path

import pytest

from tests.served import CsrfClient, node_with_users, production_app, sign_in

ROOT = Path(__file__).resolve().parents[1]
REPORTS = ROOT / "docs" / "reports"
STATIC = ROOT / "intake" / "static"
SIGNIN, SCREENING = "signin.json", "screening-first-screen.json"
TARGETS = {"performance": 0.98, "accessibility": 1.0, "best-practices": 1.0}
# Lighthouse 12's default mobile settings (simulated slow 4G, CPU four times slower).
MOBILE_THROTTLING = {"rttMs": 150, "throughputKbps": 1638.4, "cpuSlowdownMultiplier": 4}
# The page's own files may grow this much (a fraction, plus a few bytes) before the report is stale.
STALE_GROWTH = (0.10, 1024)
ASSET_TYPES = ("Script", "Stylesheet", "Manifest")
ASSET_LINKS = re.compile(
    r'<script[^>]*\bsrc="([^"]+)"|<link[^>]*\brel="(?:stylesheet|manifest)"[^>]*\bhref="([^"]+)"'
)
CHECKED_FORM = re.compile(r'name="questionnaire" value="([^"]+)" required checked')
FIRST_LANGUAGE = re.compile(r'<select id="respondent_language"[^>]*>\s*<option value="([^"]+)"')


def load(name: str) -> dict:
    path = REPORTS / name
    assert path.is_file(), f"{path} is missing: run `make lighthouse` and commit docs/reports/"
    return json.loads(path.read_text("utf-8"))


@pytest.fixture(scope="module")
def today(tmp_path_factory, coordinator_key) -> dict:
    """Today's sign-in page and first screen, as the app serves them (no browser)."""
    inst = node_with_users(
        tmp_path_factory.mktemp("lighthouse"), "field", [coordinator_key.public_key()]
    )
    app = production_app(inst.path)
    signin = CsrfClient(app).get("/signin")
    officer = sign_in(CsrfClient(app), "officer")
    home = officer.get("/").get_data(as_text=True)
    form = {
        # Start pressed with the home page's defaults, as scripts/lighthouse does.
        "questionnaire": CHECKED_FORM.search(home).group(1),
        "respondent_language": FIRST_LANGUAGE.search(home).group(1),
    }
    started = officer.post("/screening/start", data=form)
    assert started.status_code == 303
    first_screen = urllib.parse.urlsplit(started.headers["Location"]).path
    screen = officer.get(first_screen)
    assert screen.status_code == 200
    return {
        "app": app,
        SIGNIN: ("/signin", signin.get_data(as_text=True)),
        SCREENING: (first_screen, screen.get_data(as_text=True)),
    }


@pytest.mark.parametrize("name", [SIGNIN, SCREENING])
def test_made_by_the_pinned_lighthouse_12(name):
    report = load(name)
    pinned = json.loads((ROOT / "package.json").read_text())["devDependencies"]["lighthouse"]
    assert report["lighthouseVersion"].startswith("12.")
    assert report["lighthouseVersion"] == pinned


@pytest.mark.parametrize("name", [SIGNIN, SCREENING])
def test_mobile_with_the_default_throttling(name):
    settings = load(name)["configSettings"]
    assert settings["formFactor"] == "mobile"
    assert settings["screenEmulation"]["mobile"] is True
    assert settings["throttlingMethod"] == "simulate"
    for key, value in MOBILE_THROTTLING.items():
        assert settings["throttling"][key] == value, key


@pytest.mark.parametrize("name", [SIGNIN, SCREENING])
def test_meets_the_targets(name):
    categories = load(name)["categories"]
    scores = {key: categories[key]["score"] for key in TARGETS}
    missed = {key: score for key, score in scores.items() if score < TARGETS[key]}
    assert not missed, f"{name}: {missed} below {TARGETS}"


@pytest.mark.parametrize("name", [SIGNIN, SCREENING])
def test_no_audit_errored(name):
    report = load(name)
    assert "runtimeError" not in report
    errored = {
        audit["id"]: audit.get("errorMessage")
        for audit in report["audits"].values()
        if audit.get("scoreDisplayMode") == "error"
    }
    assert not errored


@pytest.mark.parametrize("name", [SIGNIN, SCREENING])
def test_measured_on_the_loopback_address_without_a_redirect(name):
    report = load(name)
    urls = {report[key] for key in ("requestedUrl", "mainDocumentUrl", "finalDisplayedUrl")}
    assert len(urls) == 1, urls  # a signed-out first screen would have ended on /signin
    parts = urllib.parse.urlsplit(urls.pop())
    assert (parts.scheme, parts.hostname) == ("http", "127.0.0.1")


def test_no_session_cookie_in_the_reports():
    for name in (SIGNIN, SCREENING):
        for value in (load(name)["configSettings"]["extraHeaders"] or {}).values():
            assert set(re.findall(r"=([^;]*)", value)) <= {"REDACTED"}


@pytest.mark.parametrize("name", [SIGNIN, SCREENING])
def test_measured_pages_are_todays_routes(name, today):
    adapter = today["app"].url_map.bind("127.0.0.1")
    measured = urllib.parse.urlsplit(load(name)["finalDisplayedUrl"]).path
    current = today[name][0]
    endpoint, values = adapter.match(measured)
    expected_endpoint, expected_values = adapter.match(current)
    assert endpoint == expected_endpoint
    # The same screen (the first section of the default form), another interview.
    values.pop("draft_id", None), expected_values.pop("draft_id", None)
    assert values == expected_values


@pytest.mark.parametrize("name", [SIGNIN, SCREENING])
def test_measured_pages_loaded_todays_files(name, today):
    requests = load(name)["audits"]["network-requests"]["details"]["items"]
    loaded = {}
    for item in requests:
        if item["resourceType"] in ASSET_TYPES:
            parts = urllib.parse.urlsplit(item["url"])
            loaded[parts.path + (f"?{parts.query}" if parts.query else "")] = item
    linked = {a or b for a, b in ASSET_LINKS.findall(today[name][1])}
    assert set(loaded) == linked, "the page links other files than when it was measured"

    measured = current = 0
    for url, item in loaded.items():
        path = urllib.parse.urlsplit(url).path
        if path.startswith("/static/"):
            file = STATIC / path.removeprefix("/static/")
            assert file.is_file(), f"{url} was measured but is gone"
            measured += item["resourceSize"]
            current += file.stat().st_size
    fraction, slack = STALE_GROWTH
    assert current <= measured * (1 + fraction) + slack, (
        f"{name}: the page's files grew from {measured} to {current} bytes since the report"
    )
