"""Nothing the person says outlives the screen in the tablet's browser profile.

Chromium keeps a profile folder: session restore (`Sessions/`), the disk
cache, autofill's "Web Data", history. A screening is walked in a persistent
profile, a second one is left unfinished with text typed but never sent, the
officer locks and the browser closes; then every file of the profile is
searched for the answers, in the encodings Chromium writes strings in.
"""

from __future__ import annotations

import re
from pathlib import Path

from intake.questionnaire import load_questionnaire
from tests import canary
from tests.browser import watch_page
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, VIEWPORTS, browser_env
from tests.browser.test_screening import answer_screen

# Distinct canaries, no repeated runs of characters (a compressing store would
# split them): one sent in a finished screening, one sent on a screen that was
# refused, one typed and never sent.
SENT = "SentQ7xw-ብሩህ-نور-Kp4z"
REFUSED = "RefusedM3vj-ምስክር-شاهد-Yt8b"
TYPED = "TypedH2gd-ተስፋ-أمل-Wc5n"


def files_holding(folder: Path, text: str) -> list[str]:
    """Every file under the folder holding the text in any written form (tests/canary.py)."""
    return [str(path.relative_to(folder)) for path in canary.files_holding(folder, text)]


def answer_until(page, questionnaire, section_id: str) -> None:
    """Answer screen after screen (an adult who consents) until the section is reached.

    A follow-up that appears on the same screen (the age after "not under 18")
    brings the screen back once, so screens are counted by URL, not by clicks.
    """
    for _ in range(12):
        if page.url.rstrip("/").endswith("/" + section_id):
            return
        answer_screen(page, questionnaire, {"under_18": "no"}, child=False)
        with page.expect_navigation():
            page.click("button[value=next]")
    raise AssertionError(f"never reached {section_id}: {page.url}")


def finish_screening(page, questionnaire, text: str) -> None:
    """Answer every screen, putting the text in every free-text field, then finish and seal."""
    while "/review" not in page.url:
        answer_screen(page, questionnaire, {"under_18": "no"}, child=False)
        # Free text only: a date is typed into a text field too, as year-month-day.
        for field in page.locator("textarea, input[type=text]:not([data-type=date])").all():
            field.fill(text)
        with page.expect_navigation():
            page.click("button[value=next]")
        assert not page.locator(".has-error").count(), page.inner_text("main")
    with page.expect_navigation():
        page.click("text=Finish and seal")
    assert page.locator(".reference strong").count() == 1


def start_screening(page, live_server, form: str) -> str:
    page.goto(live_server.url)
    page.check(f'input[name="questionnaire"][value="{form}"]')
    with page.expect_navigation():
        page.click("form[action$='/screening/start'] button[type=submit]")
    return re.search(r"/screening/([0-9a-f-]{36})/", page.url).group(1)


def test_browser_profile_keeps_no_answer(browser, live_server, tmp_path):
    profile = tmp_path / "profile"
    context = browser.browser_type.launch_persistent_context(
        str(profile),
        executable_path=CHROMIUM,
        args=CHROMIUM_ARGS,
        env=browser_env(),
        **VIEWPORTS["tablet"],
    )
    page = context.new_page()
    seen = watch_page(page)
    live_server.sign_in(page)
    form = "screening-short"
    start_screening(page, live_server, form)
    finish_screening(page, load_questionnaire(form), SENT)

    # The second screening: a screen refused (its note too long) with text
    # sent, then text typed and never sent; then the officer locks.
    questionnaire = load_questionnaire(form)
    draft = start_screening(page, live_server, form)
    answer_until(page, questionnaire, "about_you")
    page.goto(live_server.page_url(f"screening/{draft}/observations"))
    # Longer than the note may be: the browser's maxlength is lifted so the server refuses it.
    page.eval_on_selector(
        "#f-observation_note",
        "(el, text) => { el.removeAttribute('maxlength'); el.value = text; }",
        REFUSED + " " + "-" * 2000,
    )
    with page.expect_navigation():
        page.click("button[value=next]")
    assert page.locator(".has-error").count()
    page.goto(live_server.page_url(f"screening/{draft}/end"))
    page.fill("#f-anything_else", TYPED)
    with page.expect_navigation():
        page.click(".lock-form button")
    assert "/signin" in page.url
    seen.assert_clean()
    context.close()

    found = {canary: files_holding(profile, canary) for canary in (SENT, REFUSED, TYPED)}
    assert found == {SENT: [], REFUSED: [], TYPED: []}
    # The search can see into this profile: the officer's name is there, in History.
    assert files_holding(profile, live_server.url.rstrip("/") + "/screening/" + draft)
