"""The offline interview (issue 11): the tablet loses the field node and the screening goes on.

Signs in, opens the offline app, starts a screening, goes offline
(`context.set_offline(True)`: the service worker's own fetches are cut too),
finishes it, reloads while offline, finishes a second one, goes back online:
both records must reach the node's outbox exactly once, and `intake open`
must open both envelopes sealed in the browser. While offline, a canary typed
into a text answer must appear nowhere in the browser's storage in the clear:
not in IndexedDB, Cache Storage or localStorage as the page sees them, nor in
the Chromium profile folder on disk (a persistent context in tmp_path).

The test runs twice: over plain http on 127.0.0.1, and over `intake serve
--tls` (CSRF on, Secure cookie) with the node's own certificate trusted for
real. Service workers refuse a certificate that is merely clicked through
(`ignore_https_errors`), so that stays off: as on a tablet, the node's
authority (tls/ca.pem) is installed in the browser's own certificate store
(tests/browser/test_https.py, trusting_env), with no flag and no pin.
"""

from __future__ import annotations

import json

import pytest
from babel.support import Translations

from intake.i18n import TRANSLATIONS
from intake.questionnaire import load_questionnaire
from tests.browser import watch_page
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, VIEWPORTS, browser_env, field_server
from tests.browser.test_https import trusting_env
from tests.browser.test_screening import open_records
from tests.canary import describe, holds
from tests.screening import ADULT_TRAFFICKING, value_for

CANARY = "CANARY-ብሩህ-نور-41"
FORM = "screening-short"
ADULT = {"under_18": "no", **ADULT_TRAFFICKING}
# The real derivation (600,000 PBKDF2 rounds) runs in the page: a second or so.
UNLOCK_MS = 30_000
# Everything the page's origin keeps, as the page sees it; bytes as Latin-1 text.
STORAGE_DUMP = """async () => {
  const latin1 = (bytes) => {
    let s = "";
    for (let i = 0; i < bytes.length; i += 8192) {
      s += String.fromCharCode(...bytes.subarray(i, i + 8192));
    }
    return s;
  };
  const flat = (v) => {
    if (v instanceof ArrayBuffer) return latin1(new Uint8Array(v));
    if (ArrayBuffer.isView(v)) return latin1(new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
    if (v && typeof v === "object") {
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, flat(x)]));
    }
    return v;
  };
  const out = {indexeddb: {}, caches: {}, localStorage: JSON.stringify({...localStorage})};
  for (const {name} of await indexedDB.databases()) {
    const db = await new Promise((ok, no) => {
      const r = indexedDB.open(name);
      r.onsuccess = () => ok(r.result);
      r.onerror = no;
    });
    for (const store of db.objectStoreNames) {
      const r = db.transaction(store).objectStore(store).getAll();
      const rows = await new Promise((ok) => (r.onsuccess = () => ok(r.result)));
      out.indexeddb[`${name}/${store}`] = rows.map(flat);
    }
    db.close();
  }
  for (const name of await caches.keys()) {
    const cache = await caches.open(name);
    for (const request of await cache.keys()) {
      const body = await (await cache.match(request)).arrayBuffer();
      out.caches[`${name} ${request.url}`] = latin1(new Uint8Array(body));
    }
  }
  return out;
}"""


def browser_get(page, server, path: str) -> tuple[int, str]:
    """GET a path of the node from inside the page: its status and text.

    Not `page.request`: that is Playwright's own client, which does not trust the
    certificate the browser was told to trust.
    """
    if not page.url.startswith(server.url):
        page.goto(server.page_url("signin"))
    return tuple(
        page.evaluate(
            "async (url) => { const r = await fetch(url); return [r.status, await r.text()]; }",
            server.page_url(path),
        )
    )


def missing_parts(page, server) -> list[str]:
    """What the node does not serve, of what this test needs; [] when all is there."""
    wanted = {
        "offline/app": "the offline app page (intake/field/offline_page.py, not imported by"
        " intake/__init__.py)",
        "offline/config": "GET /offline/config (intake/field/offline_api.py)",
    }
    return [
        f"{what}: 404 at /{path}"
        for path, what in wanted.items()
        if browser_get(page, server, path)[0] == 404
    ]


def worker_keeps_app(page, server) -> bool:
    """Whether the service worker keeps the offline app page for a reload without the node."""
    return "/offline/app" in browser_get(page, server, "sw.js")[1]


@pytest.fixture
def tls_server(tmp_path, coordinator_keys):
    """The field instance of `live_server`, served by `intake serve --tls` instead."""
    server = field_server(tmp_path, coordinator_keys)
    try:
        server.start(20, "--tls")
        yield server
    finally:
        server.stop()
        print("intake serve --tls said:\n" + "".join(server.output))  # shown when the test fails


@pytest.fixture(params=["http", "https"])
def node(request):
    """The field node: plain http on 127.0.0.1, then `intake serve --tls`."""
    server = request.getfixturevalue("live_server" if request.param == "http" else "tls_server")
    assert server.url.startswith(request.param + "://127.0.0.1:")
    return server


@pytest.fixture
def profile_page(browser, tmp_path, node):
    """A tablet-sized page in a persistent context whose profile folder is tmp_path/profile.

    Over https the browser trusts the node's authority, as a tablet that installed it.
    """
    profile = tmp_path / "profile"
    env = browser_env()
    if node.url.startswith("https:"):
        env = trusting_env(tmp_path, node.instance / "tls" / "ca.pem")
    context = browser.browser_type.launch_persistent_context(
        str(profile),
        executable_path=CHROMIUM,
        args=CHROMIUM_ARGS,
        env=env,
        ignore_https_errors=False,
        **VIEWPORTS["tablet"],
    )
    page = context.pages[0] if context.pages else context.new_page()
    seen = watch_page(page)
    yield page, profile, seen
    context.close()


def unlock(page, password: str) -> None:
    page.wait_for_selector("#offline-password", timeout=UNLOCK_MS)
    page.fill("#offline-password", password)
    page.click("#offline-unlock button[type=submit]")
    page.wait_for_selector("#offline-app[data-state=home]", timeout=UNLOCK_MS)


def open_offline_app(page, server):
    """Sign in, open the offline interview once the service worker controls it, unlock; the user."""
    user = server.sign_in(page)
    page.goto(server.page_url("offline/app"))
    page.wait_for_function("() => navigator.serviceWorker.controller !== null", timeout=UNLOCK_MS)
    unlock(page, user.password)
    return user


def answer_screen(page, questionnaire) -> None:
    """Answer every question shown on the screen as value_for says, the canary in texts."""
    shown = page.eval_on_selector_all(
        "#offline-section .question:not([hidden])", "els => els.map(e => e.id.slice(2))"
    )
    # The test's node names no hotline (intake.json settings): the question is not asked.
    assert "hotline_given" not in page.eval_on_selector_all(
        "#offline-section .question", "els => els.map(e => e.id.slice(2))"
    )
    for qid in shown:
        question = questionnaire.question(qid)
        value = value_for(question, ADULT, CANARY, False)
        if question.type in ("yes_no_unknown", "single_choice"):
            page.check(f'#q-{qid} input[value="{value}"]')
        elif question.type == "multiple_choice":
            for choice in value:
                page.check(f'#q-{qid} input[value="{choice}"]')
        elif question.type == "country":
            page.select_option(f"#f-{qid}", value)
        else:
            page.fill(f"#f-{qid}", value)


def next_screen(page) -> None:
    before = page.get_attribute("#offline-app", "data-section")
    page.click("#offline-section button[value=next]")
    page.wait_for_function(
        """(before) => { const app = document.getElementById("offline-app");
             return app.dataset.state === "review" || app.dataset.section !== before; }""",
        arg=before,
    )
    assert not page.locator("#offline-section .has-error").count(), page.inner_text("main")


def start_screening(page) -> None:
    page.check(f'#offline-start input[name=questionnaire][value="{FORM}"]')
    page.click("#offline-start button[type=submit]")
    page.wait_for_selector("#offline-app[data-state=section]")


def finish_screening(page, questionnaire) -> str:
    """Answer the remaining screens, finish; return the reference shown."""
    while page.get_attribute("#offline-app", "data-state") == "section":
        answer_screen(page, questionnaire)
        next_screen(page)
    assert "Refer now" in page.inner_text(".assessment")
    page.click("#offline-finish")
    page.wait_for_selector("#offline-app[data-state=finished]")
    return page.inner_text(".reference strong")


def queue_count(page) -> int:
    return int(page.get_attribute("#offline-queue", "data-count") or -1)


def assert_no_canary_in_storage(page) -> None:
    dump = json.dumps(page.evaluate(STORAGE_DUMP), ensure_ascii=False)
    assert "intake-offline/drafts" in dump or "intake-offline/queue" in dump, dump[:500]
    assert not holds(dump.encode("utf-8"), CANARY), "the canary is in the browser's storage"
    assert not holds(dump.encode("latin-1", "replace"), CANARY)


def test_screening_goes_on_offline(profile_page, node, coordinator_keys, tmp_path):
    page, profile, seen = profile_page
    live_server = node
    assert missing_parts(page, live_server) == []
    assert worker_keeps_app(page, live_server), (
        "the service worker (intake/static/sw.js, intake/field/pwa.py) does not keep"
        " /offline/app: a reload without the node would show the offline notice instead"
        " of the app"
    )
    context = page.context
    questionnaire = load_questionnaire(FORM)
    user = live_server.sign_in(page)
    page.goto(live_server.page_url("offline/app"))
    page.wait_for_function("() => navigator.serviceWorker.controller !== null", timeout=UNLOCK_MS)
    assert page.evaluate("() => isSecureContext && !!crypto.subtle")
    if live_server.url.startswith("https:"):
        cookie = next(c for c in context.cookies() if c["name"] == "session")
        assert cookie["secure"] and cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    unlock(page, user.password)
    assert queue_count(page) == 0

    start_screening(page)
    answer_screen(page, questionnaire)
    next_screen(page)  # the first screen saved with the node still there
    context.set_offline(True)
    first = finish_screening(page, questionnaire)
    assert queue_count(page) == 1
    assert_no_canary_in_storage(page)

    page.reload()  # offline: the service worker's copy of the app
    page.wait_for_selector("#offline-password", timeout=UNLOCK_MS)
    assert queue_count(page) == 1  # shown before the password: the queue is sealed, not secret
    unlock(page, user.password)
    start_screening(page)
    second = finish_screening(page, questionnaire)
    assert queue_count(page) == 2
    assert_no_canary_in_storage(page)

    context.set_offline(False)
    page.wait_for_function(
        "() => document.getElementById('offline-queue').dataset.count === '0'", timeout=60_000
    )
    records = open_records(live_server, coordinator_keys, tmp_path)
    assert sorted(r["reference"] for r in records) == sorted([first, second])  # each once
    for record in records:
        assert record["kind"] == "screening"
        assert record["officer"] == user.name
        assert record["assessment"]["outcome"] == "refer_now"
        assert isinstance(record["assessment"]["reasons"][0], str)
        assert any(CANARY in str(v) for v in record["answers"].values())

    # Offline fetches are the browser's own console errors, not the page's.
    seen.problems[:] = [p for p in seen.problems if "ERR_INTERNET_DISCONNECTED" not in p]
    seen.assert_clean()
    context.close()  # flush the profile to disk before scanning it
    assert describe(profile, CANARY) == []


# The first question of the short form, and its first choice, as the catalogs key them.
FIRST_QUESTION = "Are you, or is anyone in your family, in danger right now?"


@pytest.mark.parametrize("node", ["http"], indirect=True)
def test_offline_the_person_reads_the_questions_in_arabic(profile_page, node):
    """Offline, an Arabic-speaking person: the questions in Arabic, right to left, English beneath.

    The Arabic comes from the texts the service worker keeps (build/texts-ar.json,
    written from the Arabic catalog), read only once the node is gone.
    """
    page, _profile, seen = profile_page
    assert missing_parts(page, node) == []
    arabic = Translations.load(str(TRANSLATIONS), ["ar"])
    question, yes = arabic.gettext(FIRST_QUESTION), arabic.gettext("Yes")
    assert question != FIRST_QUESTION and yes != "Yes", "the Arabic catalog is not compiled"
    first = load_questionnaire(FORM).sections[0].questions[0]
    assert first.text == FIRST_QUESTION, "the short form's first question changed: pick another"

    open_offline_app(page, node)
    page.context.set_offline(True)
    assert page.get_attribute('#offline-language option[value="ar"]', "lang") == "ar"
    page.select_option("#offline-language", "ar")
    start_screening(page)

    theirs = page.locator(f"#q-{first.id} legend .resp")
    assert theirs.inner_text() == question
    assert (theirs.get_attribute("lang"), theirs.get_attribute("dir")) == ("ar", "rtl")
    # The officer reads their own language (the page's, English) beneath, left to right.
    mine = page.locator(f"#q-{first.id} legend .off")
    assert mine.inner_text() == FIRST_QUESTION
    assert (mine.get_attribute("lang"), mine.get_attribute("dir")) == ("en", "ltr")
    choice = page.locator(f'#q-{first.id} label.choice:has(input[value="yes"]) .resp')
    assert (choice.inner_text(), choice.get_attribute("dir")) == (yes, "rtl")
    assert page.locator("html").get_attribute("dir") == "ltr"  # the officer's page stays theirs
    # The officer's action shows as the answer is given, not only once the screen is saved.
    action = page.locator(f"#action-{first.id}")
    assert action.is_hidden()
    page.check(f'#q-{first.id} input[value="yes"]')
    action.wait_for(state="visible", timeout=5_000)
    assert action.inner_text() == first.action  # in the officer's words (English here)
    page.check(f'#q-{first.id} input[value="no"]')
    action.wait_for(state="hidden", timeout=5_000)
    # The forms named as the start page names them, the short one chosen already.
    page.click("#offline-back")
    page.wait_for_selector("#offline-app[data-state=home]")
    forms = page.inner_text("#offline-start fieldset")
    assert "Short form (about 15 minutes)" in forms and "Full form (about 40 minutes)" in forms
    assert page.is_checked('#offline-start input[value="screening-short"]')
    page.context.set_offline(False)
    seen.assert_clean()


@pytest.mark.parametrize("node", ["http"], indirect=True)
def test_the_nodes_pages_send_what_was_sealed_offline(
    profile_page, node, coordinator_keys, tmp_path
):
    """Back on any page of the node, the records sealed offline go, without the offline interview.

    The officer seals a screening offline, then goes on with the node's own
    pages once it is back: the start page sends the queue (build/waiting.js)
    and says so; the record reaches the outbox once.
    """
    page, _profile, seen = profile_page
    questionnaire = load_questionnaire(FORM)
    open_offline_app(page, node)
    page.context.set_offline(True)
    start_screening(page)
    reference = finish_screening(page, questionnaire)
    assert queue_count(page) == 1
    page.goto(node.page_url(""))  # offline: the worker's "No connection" page, which sends nothing
    page.wait_for_selector("text=No connection to the field node", timeout=UNLOCK_MS)

    page.context.set_offline(False)
    page.goto(node.page_url(""))  # the start page, signed in
    page.wait_for_selector("#waiting-records[data-state=sent]", timeout=60_000)
    assert "have been sent" in page.inner_text("#waiting-records")
    records = open_records(node, coordinator_keys, tmp_path)
    assert [r["reference"] for r in records] == [reference]
    page.reload()  # nothing waits now: no notice
    page.wait_for_selector("form.lock-form")
    assert page.locator("#waiting-records").is_hidden()
    seen.problems[:] = [p for p in seen.problems if "ERR_INTERNET_DISCONNECTED" not in p]
    seen.assert_clean()


@pytest.mark.parametrize("node", ["http"], indirect=True)
def test_two_pages_sending_one_queue_at_once_store_each_record_once(
    profile_page, node, coordinator_keys, tmp_path
):
    """The offline interview and a node page on one tablet both send when the node comes back.

    Both read the same queue and post the same envelope: the first posts of
    both pages are held until both have posted, then let go together, so the
    node meets the two at once. It keeps each record once, and the queue ends
    empty with nothing refused.
    """
    page, _profile, seen = profile_page
    questionnaire = load_questionnaire(FORM)
    open_offline_app(page, node)
    context = page.context
    context.set_offline(True)
    references = []
    for _ in range(2):
        start_screening(page)
        references.append(finish_screening(page, questionnaire))
        page.click("#offline-app button.primary")  # Start a screening: home again
        page.wait_for_selector("#offline-app[data-state=home]")
    assert queue_count(page) == 2
    other = context.new_page()
    other.goto(node.page_url(""))  # offline: the worker's page, which sends nothing
    other.wait_for_selector("text=No connection to the field node", timeout=UNLOCK_MS)

    held, letting_go = [], []

    def hold(route):
        if route.request.method == "POST" and not letting_go:
            held.append(route)
        else:
            route.continue_()

    context.route("**/offline/envelopes", hold)
    context.set_offline(False)  # the offline interview sends on "online"...
    other.goto(node.page_url(""))  # ...and the start page on load
    senders = lambda: {route.request.frame.page for route in held}  # noqa: E731
    for _ in range(600):
        if senders() == {page, other}:
            break
        page.wait_for_timeout(100)  # lets the handler run
    assert senders() == {page, other}, f"{len(held)} posts held, not from both pages"
    letting_go.append(True)
    for route in held:
        route.continue_()

    other.wait_for_selector("#waiting-records[data-state=sent]", timeout=60_000)
    page.wait_for_function(
        "() => document.getElementById('offline-queue').dataset.count === '0'", timeout=60_000
    )
    assert page.locator("#offline-alert").is_hidden()  # nothing refused
    records = open_records(node, coordinator_keys, tmp_path)
    assert sorted(r["reference"] for r in records) == sorted(references)  # each once
    seen.problems[:] = [p for p in seen.problems if "ERR_INTERNET_DISCONNECTED" not in p]
    seen.assert_clean()
