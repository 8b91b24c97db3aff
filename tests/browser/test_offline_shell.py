"""The installable field app in a real browser: its service worker, offline and across releases.

Offline is Playwright's `context.set_offline(True)`: it cuts the service
worker's own fetches too, so a test cannot pass by reaching the server.
Over http://127.0.0.1, a secure context: over `intake serve --tls` the
browser must trust the node's certificate first, or it refuses to register
the worker at all (tests/browser/test_https.py shows how a context pins it).
"""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path
from urllib.parse import urlsplit

from babel.support import Translations

from intake.i18n import TRANSLATIONS
from intake.questionnaire import load_questionnaire
from tests.browser import assert_accessible, assert_no_horizontal_scroll
from tests.browser.conftest import WATCHED
from tests.browser.test_profile import start_screening
from tests.browser.test_screening import answer_screen
from tests.browser.test_session_links import ELSEWHERE

PACKAGE = Path(__file__).parents[2] / "intake"
SHELL_PREFIX = "intake-shell-"
# What the worker may keep: the shell, never a page (see intake/field/pwa.py).
SHELL_PATHS = re.compile(
    r"/static/.+|/manifest\.webmanifest|/offline|/offline/app|/offline-language"
)
OFFLINE_TITLE = "No connection to the field node"

# Ready: a worker controls the page and has taken note of the page's language.
_READY = """async (language) => {
  if (!navigator.serviceWorker.controller) return false;
  const stored = await caches.match("/offline-language", {cacheName: "intake-preferences"});
  return stored !== undefined && (await stored.text()) === language;
}"""
# Every entry of every cache of the site: {cache name: [{url, body}]}.
_CACHED = """async () => {
  const all = {};
  for (const name of await caches.keys()) {
    const cache = await caches.open(name);
    all[name] = [];
    for (const request of await cache.keys()) {
      const body = await (await cache.match(request, {ignoreVary: true})).text();
      all[name].push({url: request.url, body});
    }
  }
  return all;
}"""


# What the worker has got to, said when it never gets ready.
_STATE = """async () => {
  const registration = await navigator.serviceWorker.getRegistration();
  const stored = await caches.match("/offline-language", {cacheName: "intake-preferences"});
  return {
    controller: navigator.serviceWorker.controller?.state ?? null,
    installing: registration?.installing?.state ?? null,
    waiting: registration?.waiting?.state ?? null,
    active: registration?.active?.state ?? null,
    language: stored === undefined ? null : await stored.text(),
    caches: await caches.keys(),
  };
}"""


def wait_for_shell(page, language: str) -> None:
    """Wait until the service worker controls the page and knows its language."""
    # Not page.wait_for_function: it takes the promise of an async function as true.
    try:
        wait_until(lambda: page.evaluate(_READY, language), "the service worker never got ready")
    except AssertionError as e:
        raise AssertionError(f"{e}: {page.evaluate(_STATE)} at {page.url}") from None


def wait_until(ready, what: str, seconds: float = 90) -> None:
    """Poll `ready()` until it is true; fail saying `what` after `seconds`.

    Generous: installing a release fetches about 130 files (every language's
    pages and texts), slow on a busy machine; only a worker that never gets
    there fails.
    """
    deadline = time.monotonic() + seconds
    while not ready():
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


def cached(page) -> dict[str, list[dict]]:
    """Every entry of every cache of the page's site, with its body."""
    return page.evaluate(_CACHED)


def shell_caches(page) -> list[str]:
    """The names of the caches that hold a release's shell."""
    return [name for name in page.evaluate("caches.keys()") if name.startswith(SHELL_PREFIX)]


def shell_version(page) -> str:
    """The release whose shell the browser keeps; there must be exactly one."""
    names = shell_caches(page)
    assert len(names) == 1, names
    return names[0].removeprefix(SHELL_PREFIX)


def reload_offline(page) -> tuple[list, list]:
    """Cut the network, reload; return the responses and the failed requests seen."""
    responses, failed = [], []

    def on_response(response):
        responses.append(response)

    def on_failure(request):
        failed.append(request)

    page.on("response", on_response)
    page.on("requestfailed", on_failure)
    page.context.set_offline(True)
    page.reload()
    page.wait_for_load_state("load")
    page.remove_listener("response", on_response)
    page.remove_listener("requestfailed", on_failure)
    return responses, failed


def assert_shell_only(entries: dict[str, list[dict]], version: str) -> None:
    """Only this release's shell is kept: no page, nothing of a session."""
    for name, items in entries.items():
        for item in items:
            path = urlsplit(item["url"]).path
            assert SHELL_PATHS.fullmatch(path), f"{name} keeps {item['url']}"
            assert "/screening/" not in item["url"]
            # A page of a session names its user and has a Lock form.
            assert '<span class="who">' not in item["body"] and 'action="/lock"' not in item["body"]
            if name.startswith(SHELL_PREFIX):
                assert f"v={version}" in item["url"], f"{name} keeps {item['url']}"
                linked = set(re.findall(r"[?&](?:amp;)?v=([\w.-]+)", item["body"]))
                assert linked <= {version}, f"{item['url']} links releases {linked}"


def assert_from_the_shell(responses: list, failed: list, version: str) -> None:
    """Everything the offline page needed came from the worker's cache of this release."""
    assert not failed, [f"{r.url}: {r.failure}" for r in failed]
    assets = [r for r in responses if r.request.resource_type != "document"]
    assert any(r.url.split("?")[0].endswith("/intake.css") for r in assets), assets
    for response in assets:
        assert response.from_service_worker, f"{response.url} came from the network"
        assert f"v={version}" in response.url, response.url


def test_offline_the_officer_gets_the_offline_page_in_their_language(page, live_server):
    live_server.sign_in(page)
    page.goto(live_server.page_url("?lang=ar"))  # the officer's language, chosen in the menu
    wait_for_shell(page, "ar")
    start_screening(page, live_server, "screening-short")
    screen = page.url
    version = shell_version(page)
    assert_shell_only(cached(page), version)

    responses, failed = reload_offline(page)
    assert page.url == screen
    html = page.locator("html")
    assert (html.get_attribute("lang"), html.get_attribute("dir")) == ("ar", "rtl")
    arabic = Translations.load(str(TRANSLATIONS), ["ar"])
    assert page.inner_text("h1") == arabic.gettext(OFFLINE_TITLE)
    assert page.locator("#offline-retry").is_visible()
    assert_from_the_shell(responses, failed, version)
    assert_no_horizontal_scroll(page)
    assert_accessible(page)

    page.context.set_offline(False)
    with page.expect_navigation():
        page.click("#offline-retry")
    assert page.url == screen
    assert page.locator("form.lock-form").count() == 1  # the interview's screen, signed in
    assert page.locator("#offline-retry").count() == 0
    assert_shell_only(cached(page), version)


def test_a_new_release_replaces_the_old_shell_whole(page_at, live_server, tmp_path):
    page = page_at("phone")
    page.goto(live_server.page_url("signin"))
    wait_for_shell(page, "en")
    old = shell_version(page)

    # The next release: this package with its stylesheet changed, served on the
    # same port (an origin is scheme, host and port: another port, another app).
    mark = "/* the next release */"
    release = tmp_path / "next-release"
    shutil.copytree(PACKAGE, release / "intake", ignore=shutil.ignore_patterns("__pycache__"))
    stylesheet = release / "intake" / "static" / "intake.css"
    stylesheet.write_text(stylesheet.read_text("utf-8") + mark + "\n", "utf-8")
    url = live_server.url
    live_server.stop()
    # PYTHONSAFEPATH: `python -m` must not put the working copy first on the path.
    live_server.env.update(PYTHONPATH=str(release), PYTHONSAFEPATH="1")
    live_server.start(60, "--port", str(urlsplit(url).port))
    assert live_server.url == url

    page.reload()  # the browser checks /sw.js after a navigation: new bytes, a new worker

    def the_next_alone():
        names = shell_caches(page)
        return len(names) == 1 and names != [SHELL_PREFIX + old]

    wait_until(the_next_alone, "the next release never took over alone")
    new = shell_version(page)  # exactly one shell: the old one is deleted on activation
    assert new != old
    entries = cached(page)
    assert_shell_only(entries, new)
    sheet = next(e for e in entries[SHELL_PREFIX + new] if "/intake.css?" in e["url"])
    assert mark in sheet["body"]
    # A URL of the old release is refused, not answered with the new files.
    for path in ("static/intake.css", "static/app.js", "offline", "manifest.webmanifest"):
        assert page.request.get(live_server.page_url(f"{path}?v={old}")).status == 404, path
        assert page.request.get(live_server.page_url(f"{path}?v={new}")).ok, path

    responses, failed = reload_offline(page)
    assert page.inner_text("h1") == OFFLINE_TITLE
    assert_from_the_shell(responses, failed, new)
    page.context.set_offline(False)


def test_a_link_from_another_site_still_comes_without_the_session(page_at, live_server):
    """Through the worker, a link from another site still comes without the SameSite cookie.

    The node answers it with the page that reloads itself from this site
    (intake.security.return_to_own_site); only that reload is signed in.
    """
    page = page_at("phone")
    live_server.sign_in(page)
    wait_for_shell(page, "en")
    link = f'<a id="go" href="{live_server.url}">Intake</a>'
    page.route(ELSEWHERE, lambda route: route.fulfill(body=link, content_type="text/html"))
    page.goto(ELSEWHERE)
    documents = []

    def on_response(response):
        if response.request.resource_type == "document":
            try:
                reloads = 'http-equiv="refresh"' in response.text()
            except Exception:  # noqa: BLE001 (Playwright's error when the page went on at once)
                reloads = None  # replaced before its body could be read: it reloaded itself
            documents.append((response.from_service_worker, reloads))

    page.on("response", on_response)
    page.click("#go")
    page.wait_for_selector("form.lock-form", timeout=10_000)
    assert len(documents) == 2, documents
    assert documents[0][0] and documents[0][1] in (True, None), documents  # the reload page
    assert documents[1] == (True, False), documents


# Every control of the interview's form and what it holds: {name/value: state}.
_FORM_STATE = """() => Object.fromEntries(
  [...document.querySelectorAll("form.interview :is(input, select, textarea)")]
    .filter((e) => e.type !== "hidden")
    .map((e) => [`${e.name}=${e.value}`, /^(radio|checkbox)$/.test(e.type) ? e.checked : e.value])
)"""


def test_a_screen_sent_without_the_node_stays_with_its_answers(page, live_server, request):
    """The issue's first complaint: Next without the node lost the screen's answers.

    Now the page asks the node first; without it the screen stays, answers
    and all, with a notice, and the same button sends it once the node is back.
    """
    live_server.sign_in(page)
    start_screening(page, live_server, "screening-short")
    answer_screen(page, load_questionnaire("screening-short"), {}, child=False)
    screen, typed = page.url, page.evaluate(_FORM_STATE)
    assert any(state is True for state in typed.values()), typed

    page.context.set_offline(True)
    page.click("button[value=next]")
    notice = page.locator("#node-unreachable")
    notice.wait_for(state="visible", timeout=30_000)
    assert "cannot be reached" in notice.inner_text()
    assert notice.locator("a").get_attribute("href") == "/offline/app"
    assert page.url == screen
    assert page.evaluate(_FORM_STATE) == typed
    assert page.evaluate("document.activeElement.id") == "node-unreachable"
    assert_accessible(page)
    # The browser's own line for the probe that found no node: expected, not the page's.
    for seen in request.node.stash[WATCHED]:
        seen.problems[:] = [p for p in seen.problems if "ERR_INTERNET_DISCONNECTED" not in p]

    page.context.set_offline(False)
    with page.expect_navigation():
        page.click("button[value=next]")
    assert page.url != screen
    assert page.locator("#node-unreachable").is_hidden()
    page.goto(screen)  # the screen as the node kept it: the answers were sent
    assert page.evaluate(_FORM_STATE) == typed
