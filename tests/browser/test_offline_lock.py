"""The offline interview locks, is shared by officers, and deletes an interview in progress.

An unattended tablet must not show an interview, offline or not: the app
locks itself after the node's idle time (15 minutes, as the node's own
screens), and **Pause and lock** keeps the screen's answers, locks, and comes
back to the screen once unlocked. A lock forgets the key (the screen is
emptied, the password asked) and locks the node's session too, as the node's
**Lock** does. The idle time is run on Playwright's fake clock: the real
15 minutes, not a shortened setting.

Officers share tablets at a post: each who unlocks with the node in reach
gets their own keyring on the tablet, and offline each opens only their own
interviews, by name and password. A password is keyed only once the node
has confirmed it, so that a typo never locks an officer out of the tablet.
"""

from __future__ import annotations

import pytest

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, VIEWPORTS, browser_env
from tests.browser.test_offline_interview import (
    UNLOCK_MS,
    open_offline_app,
    start_screening,
    unlock,
)

FIRST = "danger_now"  # the short form's first question (safety)
IDLE = 15 * 60 * 1000  # intake.auth.IDLE_SECONDS, written out
COUNT = """async (store) => {
  const db = await new Promise((ok, no) => {
    const r = indexedDB.open("intake-offline");
    r.onsuccess = () => ok(r.result);
    r.onerror = no;
  });
  const r = db.transaction(store).objectStore(store).count();
  const n = await new Promise((ok) => (r.onsuccess = () => ok(r.result)));
  db.close();
  return n;
}"""
# Whether the node still has this tablet signed in: its page then carries a CSRF token.
SIGNED_IN = """async (url) => {
  const page = await (await fetch(url, {cache: "no-store", credentials: "same-origin"})).text();
  return page.includes('name="csrf-token"');
}"""


@pytest.fixture
def tablet(browser, tmp_path):
    context = browser.browser_type.launch_persistent_context(
        str(tmp_path / "profile"),
        executable_path=CHROMIUM,
        args=CHROMIUM_ARGS,
        env=browser_env(),
        **VIEWPORTS["tablet"],
    )
    page = context.pages[0] if context.pages else context.new_page()
    yield page
    context.close()


def locked(page) -> None:
    page.wait_for_selector("#offline-app[data-state=locked]", timeout=UNLOCK_MS)
    assert page.locator("#offline-section, #offline-start").count() == 0
    assert page.locator(f'input[name="{FIRST}"]').count() == 0  # nothing of the interview shown


def test_pause_and_lock_keeps_the_screen_and_comes_back_to_it(tablet, live_server):
    page = tablet
    user = open_offline_app(page, live_server)
    assert page.locator("#offline-lock").is_visible()  # home has its Lock
    assert page.locator("form.lock-form").count() == 0  # not the node's, which leaves the app
    start_screening(page)
    section = page.get_attribute("#offline-app", "data-section")
    page.check(f'input[name="{FIRST}"][value="no"]')  # not yet saved with Next
    page.click("#offline-pause")
    locked(page)
    # The node's session on this tablet is locked too.
    assert not page.evaluate(SIGNED_IN, live_server.page_url("offline/app"))

    unlock_again(page, user.password)
    page.wait_for_selector("#offline-app[data-state=section]", timeout=UNLOCK_MS)
    assert page.get_attribute("#offline-app", "data-section") == section
    assert page.is_checked(f'input[name="{FIRST}"][value="no"]')


def test_the_app_locks_itself_when_left(tablet, live_server):
    page = tablet
    user = open_offline_app(page, live_server)
    page.context.set_offline(True)  # the lock needs no node
    start_screening(page)
    page.clock.install()
    page.check(f'input[name="{FIRST}"][value="unknown"]')  # in use: the idle time starts again
    page.clock.run_for(IDLE - 60_000)
    assert page.get_attribute("#offline-app", "data-state") == "section"  # 14 minutes: still open
    page.clock.run_for(61_000)
    locked(page)

    unlock_again(page, user.password)
    page.wait_for_selector("#offline-app[data-state=section]", timeout=UNLOCK_MS)
    assert page.is_checked(f'input[name="{FIRST}"][value="unknown"]')  # kept by the lock


def test_an_interview_in_progress_can_be_deleted_after_asking(tablet, live_server):
    page = tablet
    user = open_offline_app(page, live_server)
    page.context.set_offline(True)
    start_screening(page)
    page.click("#offline-pause")
    locked(page)
    unlock_again(page, user.password)
    page.wait_for_selector("#offline-app[data-state=section]", timeout=UNLOCK_MS)
    page.click("#offline-back")  # Back from the first screen: home
    page.wait_for_selector("#offline-app[data-state=home]")
    assert page.locator("ul.drafts li").count() == 1
    assert page.evaluate(COUNT, "drafts") == 1

    page.click("ul.drafts li button:has-text('Delete…')")
    page.wait_for_selector("#offline-app[data-state=delete]")
    assert "deleted for good" in page.inner_text("#offline-app")
    page.click("#offline-app button:has-text('Keep it')")
    page.wait_for_selector("#offline-app[data-state=home]")
    assert page.evaluate(COUNT, "drafts") == 1  # kept

    page.click("ul.drafts li button:has-text('Delete…')")
    page.click("#offline-delete")
    page.wait_for_selector("#offline-app[data-state=home]")
    assert page.locator("ul.drafts").count() == 0
    assert page.evaluate(COUNT, "drafts") == 0

    page.click("#offline-lock")  # Lock, from home
    locked(page)


def unlock_again(page, password: str) -> None:
    """Unlock after a lock: back to where the officer stopped, not always home."""
    page.fill("#offline-password", password)
    page.click("#offline-unlock button[type=submit]")


def wrong_password_said(page) -> None:
    page.wait_for_selector("#offline-alert:not([hidden])", timeout=UNLOCK_MS)
    assert "does not open" in page.inner_text("#offline-alert")
    assert page.get_attribute("#offline-app", "data-state") == "locked"


def paused_with(page, answer: str) -> None:
    start_screening(page)
    page.check(f'input[name="{FIRST}"][value="{answer}"]')
    page.click("#offline-pause")
    locked(page)


def resume_only_draft(page) -> str:
    """Resume the one interview listed; return the answer it holds to the first question."""
    assert page.locator("ul.drafts li").count() == 1
    page.click("ul.drafts li button:has-text('Resume')")
    page.wait_for_selector("#offline-app[data-state=section]")
    return page.eval_on_selector(f'input[name="{FIRST}"]:checked', "e => e.value")


def test_officers_share_a_tablet_each_opening_their_own(tablet, live_server):
    page = tablet
    amina = live_server.sign_in(page, "officer")
    page.goto(live_server.page_url("offline/app"))
    page.wait_for_function("() => navigator.serviceWorker.controller !== null", timeout=UNLOCK_MS)
    # A typo while preparing the tablet: the node says so, and nothing is keyed with it.
    page.fill("#offline-password", amina.password + "x")
    page.click("#offline-unlock button[type=submit]")
    wrong_password_said(page)
    assert page.evaluate(COUNT, "keyring") == 0
    unlock(page, amina.password)
    paused_with(page, "no")

    dawit = live_server.sign_in(page, "ngo")  # the next shift, on the same tablet
    page.goto(live_server.page_url("offline/app"))
    unlock(page, dawit.password)
    assert page.locator("ul.drafts").count() == 0  # Amina's interview is not his to see
    paused_with(page, "unknown")
    assert page.evaluate(COUNT, "keyring") == 2

    page.context.set_offline(True)
    page.reload()  # offline: two keyrings, so the name is asked too
    page.wait_for_selector("#offline-name", timeout=UNLOCK_MS)
    page.fill("#offline-name", dawit.name)
    page.fill("#offline-password", amina.password)  # a name and another's password
    page.click("#offline-unlock button[type=submit]")
    wrong_password_said(page)
    page.fill("#offline-name", f"  {amina.name.upper()} ")  # as the sign-in page reads names
    page.fill("#offline-password", amina.password)
    page.click("#offline-unlock button[type=submit]")
    page.wait_for_selector("#offline-app[data-state=home]", timeout=UNLOCK_MS)
    assert resume_only_draft(page) == "no"
    page.click("#offline-pause")
    locked(page)
    page.fill("#offline-name", dawit.name)
    unlock_again(page, dawit.password)
    # Home, not the screen Amina paused on: her interview does not open with his key.
    page.wait_for_selector("#offline-app[data-state=home]", timeout=UNLOCK_MS)
    assert resume_only_draft(page) == "unknown"


# A tablet as an earlier release left it: IndexedDB version 1, one keyring under "current".
RELEASE_1 = """() => new Promise((ok, no) => {
  const r = indexedDB.open("intake-offline", 1);
  r.onupgradeneeded = () => {
    for (const name of ["keyring", "drafts", "queue"]) r.result.createObjectStore(name);
  };
  r.onsuccess = () => {
    const db = r.result;
    const t = db.transaction("keyring", "readwrite");
    t.objectStore("keyring").put({salt: new Uint8Array(16), iterations: 600000}, "current");
    t.oncomplete = () => { db.close(); ok(); };
    t.onerror = no;
  };
  r.onerror = no;
})"""


def test_a_tablet_of_the_single_keyring_release_is_set_up_again(tablet, live_server):
    """The upgrade drops the old keyring: the officer unlocks once with the node, as on day one."""
    page = tablet
    page.goto(live_server.page_url("signin"))
    page.evaluate(RELEASE_1)
    page.goto(live_server.page_url("offline/app"))  # signed out: only what the tablet keeps
    page.wait_for_selector("#offline-app a.button", timeout=UNLOCK_MS)
    assert "Sign in to the field node once" in page.inner_text("#offline-app")
    assert page.evaluate(COUNT, "keyring") == 0
    open_offline_app(page, live_server)  # and then as any first unlock
    assert page.evaluate(COUNT, "keyring") == 1
