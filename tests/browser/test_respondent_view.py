"""Issue 10 in Chromium: the respondent view at phone size, hand-over and take-back, layout.

The officer hands the tablet (here a phone) to the person: every screen the
person sees is checked against the list of officer-only strings (the
questionnaire's help, the officer's own questions, sections only the officer
fills in, the app's urgent, child and assessment messages), in English and in
the person's language. Then the officer takes the tablet back and sees what
was raised meanwhile.
"""

from __future__ import annotations

import html
import os
import re
from pathlib import Path

from intake.questionnaire import load_questionnaire
from tests.browser import assert_accessible, assert_no_horizontal_scroll
from tests.browser.test_screening import answer_screen
from tests.officer_only import officer_text_in

PHONE = {"width": 390, "height": 844}
TABLET = {"width": 800, "height": 1280}
URGENT_CHILD = {"danger_now": "yes", "under_18": "not_sure", "child_act": "yes", "cd6": "yes"}
CHILD_NOTICE = "The person is or may be a child: contact child protection and a guardian now."
DOCS_SCREENSHOTS = os.environ.get("INTAKE_DOCS_SCREENSHOTS")


def start(live_server, page, respondent: str, officer: str = "en") -> None:
    live_server.sign_in(page)
    page.goto(live_server.page_url(f"?lang={officer}"))
    page.select_option("#respondent_language", respondent)
    with page.expect_navigation():
        page.click("form[action$='/screening/start'] button[type=submit]")


def click(page, selector: str) -> None:
    with page.expect_navigation():
        page.click(selector)


def hand_over(page) -> None:
    """The officer's two deliberate taps: the button on the screen, then the hand-over page's."""
    click(page, "button[value=handover]")
    assert "/hand-over" in page.url
    click(page, "form.card button[type=submit]")


def take_back(page) -> None:
    """The person gives the tablet back; the officer confirms on a separate page."""
    if "/hand-back" in page.url:
        click(page, "a.button.primary")
    else:
        click(page, "button[value=giveback]")
    assert "/take-back" in page.url
    click(page, "button[name=confirm]")


def assert_no_officer_text(page, form: str, language: str) -> None:
    """Fail naming any officer-only string in the page's visible text or its markup."""
    seen = officer_text_in(page.inner_text("body"), form, language)
    seen += officer_text_in(html.unescape(page.content()), form, language)
    assert not seen, f"officer-only text on the person's screen {page.url}: {sorted(set(seen))}"


def shot(page, name: str, tmp_path: Path, docs: bool = False) -> None:
    page.screenshot(path=str(tmp_path / f"{name}.png"))
    if docs and DOCS_SCREENSHOTS:  # the officer's guide's pictures
        page.screenshot(path=str(Path(DOCS_SCREENSHOTS) / f"{name}.png"))


def test_respondent_view_at_phone_size_hides_officer_text(page_at, live_server, tmp_path):
    form = "screening-short"
    questionnaire = load_questionnaire(form)
    page = page_at("phone")
    page.set_viewport_size(PHONE)
    start(live_server, page, "fr")
    assert page.locator(".officer-help").count() == 1  # the officer view has the help
    hand_over(page)
    respondent_screens = 0
    while "/hand-back" not in page.url:
        assert page.locator("html").get_attribute("lang") == "fr"
        assert_no_officer_text(page, form, "fr")
        assert page.locator("button[value=giveback]").count() == 1
        assert page.locator("#lang-picker, button[value=pause], .progress span").count() == 0
        assert_no_horizontal_scroll(page)
        assert_accessible(page)
        if respondent_screens == 0:
            shot(page, "respondent-phone", tmp_path, docs=True)
        answer_screen(page, questionnaire, {**URGENT_CHILD, "consent": "yes"}, True)
        click(page, "button[value=next]")
        assert not page.locator(".has-error").count(), page.inner_text("main")
        respondent_screens += 1
    # Safety, the child's protection and consent: the officer's "I explained
    # consent" and "Who else was present" bring the tablet back.
    assert respondent_screens == 3
    assert_no_officer_text(page, form, "fr")
    shot(page, "hand-back-phone", tmp_path, docs=True)
    take_back(page)
    # The officer view: what was raised while the person held the tablet.
    assert page.url.endswith("/consent")
    assert page.locator("details.flash.urgent[open]").is_visible()
    assert CHILD_NOTICE in page.inner_text("main")
    assert page.locator("input[name=consent_explained]").count() == 2
    page.check("input[name=consent_explained][value=yes]")
    page.check("input[name=present][value=child_protection]")
    click(page, "button[value=next]")
    assert page.url.endswith("/child")  # a presumed child: what happened, then stop
    # A second hand-over, through the questions to the end, then the observations.
    hand_over(page)
    while "/hand-back" not in page.url:
        assert_no_officer_text(page, form, "fr")
        answer_screen(page, questionnaire, URGENT_CHILD, True)
        click(page, "button[value=next]")
        assert not page.locator(".has-error").count(), page.inner_text("main")
    take_back(page)
    assert page.url.endswith("/observations")  # skipped for the person, asked now
    while "/review" not in page.url:
        answer_screen(page, questionnaire, URGENT_CHILD, True)
        click(page, "button[value=next]")
    click(page, "text=Finish and seal")
    assert re.fullmatch(r"[0-9A-F]{4}-[0-9A-F]{4}", page.inner_text(".reference strong"))


def test_take_back_needs_the_officers_confirmation(page_at, live_server):
    page = page_at("phone")
    page.set_viewport_size(PHONE)
    start(live_server, page, "en")
    hand_over(page)
    respondent_url = page.url
    click(page, "button[value=giveback]")
    assert "/take-back" in page.url
    assert_no_officer_text(page, "screening-short", "en")
    click(page, "text=Go on with the questions")  # the person pressed it: nothing changes
    assert page.url == respondent_url
    assert page.locator("button[value=giveback]").count() == 1
    take_back(page)
    assert page.locator("button[value=handover]").count() == 1


def test_child_notice_from_the_moment_a_child_is_presumed(page_at, live_server):
    page = page_at("tablet")
    start(live_server, page, "en")
    assert CHILD_NOTICE not in page.inner_text("main")
    questionnaire = load_questionnaire("screening-short")
    answer_screen(page, questionnaire, {"under_18": "not_sure"}, True)
    click(page, "button[value=next]")
    assert CHILD_NOTICE in page.inner_text("main")


def test_compact_screens(page_at, live_server, tmp_path):
    """The safety screen fits a tablet; on a phone the screen's title is near the top."""
    questionnaire = load_questionnaire("screening-short")
    tablet = page_at("tablet")
    start(live_server, tablet, "en")
    height = tablet.evaluate("document.documentElement.scrollHeight")
    assert height < 1400, f"the safety screen is {height} px tall at 800×1280"
    # On a phone, with the urgent notice and both languages' translation notices.
    for child, limit in (("no", 200), ("not_sure", 240)):
        phone = page_at("phone")
        phone.set_viewport_size(PHONE)
        start(live_server, phone, "ar", officer="fr")
        answer_screen(phone, questionnaire, {"danger_now": "yes", "under_18": child}, True)
        click(phone, "button[value=next]")
        phone.reload()  # a later visit: the urgent notice and the translation notice fold
        assert phone.locator("details.flash.urgent:not([open])").count() == 1
        assert phone.locator("details.flash.notice:not([open])").count() == 1
        assert phone.locator(".child-notice").count() == (child != "no")
        top = phone.evaluate("document.querySelector('h1').getBoundingClientRect().top")
        shot(phone, f"consent-{child}-phone", tmp_path)
        assert top <= limit, f"the screen's question starts {top} px down a 390×844 phone"
        assert_no_horizontal_scroll(phone)


def test_language_survives_lock(page_at, live_server):
    page = page_at("phone")
    live_server.sign_in(page)
    page.click(".lang-menu summary")
    page.select_option("#lang-picker", "fr")
    click(page, ".lang-form button")
    assert page.locator("html").get_attribute("lang") == "fr"
    click(page, ".lock-form button")
    assert "/signin" in page.url
    assert page.locator("html").get_attribute("lang") == "fr"
    live_server.sign_in(page)
    assert page.locator("html").get_attribute("lang") == "fr"


def test_finished_page_prints_the_reference_only(page_at, live_server):
    page = page_at("tablet")
    start(live_server, page, "en")
    questionnaire = load_questionnaire("screening-short")
    while "/review" not in page.url:
        answer_screen(page, questionnaire, {"under_18": "no", "consent": "no"}, False)
        click(page, "button[value=next]")
    click(page, "text=Finish and seal")
    reference = page.inner_text(".reference strong")
    page.emulate_media(media="print")
    assert page.locator(".reference strong").is_visible()
    assert not page.locator(".assessment").is_visible()
    assert not page.locator("header.bar").is_visible()
    page.emulate_media(media="screen")
    click(page, "main a.button.primary")
    assert reference in page.inner_text(".references")
