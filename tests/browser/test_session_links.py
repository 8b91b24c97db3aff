"""The officer's session in a real browser: links from other sites, and Back after sealing."""

from __future__ import annotations

from intake.questionnaire import load_questionnaire
from tests.browser.test_profile import answer_until, finish_screening, start_screening

# A page of another site, faked by Playwright: nothing leaves the machine.
ELSEWHERE = "http://elsewhere.test/"


def test_a_link_from_another_site_keeps_the_officer_signed_in(page_at, live_server):
    page = page_at("phone")
    live_server.sign_in(page)
    cookie = next(c for c in page.context.cookies() if c["name"] == "session")
    assert cookie["sameSite"] == "Strict"
    link = f'<a id="go" href="{live_server.url}?lang=ar">Intake</a>'
    page.route(ELSEWHERE, lambda route: route.fulfill(body=link, content_type="text/html"))
    page.goto(ELSEWHERE)
    with page.expect_navigation(url=f"{live_server.url}?lang=ar"):
        page.click("#go")
    page.wait_for_selector(".lock-form", timeout=10_000)  # signed in: the Lock button
    assert page.get_attribute("html", "dir") == "rtl"  # and the link's language taken
    assert live_server.user().name in page.inner_text("header")
    # Still signed in on the next page, with the same session.
    page.goto(live_server.url)
    assert page.locator(".lock-form").count() == 1
    assert page.locator("input[name=password]").count() == 0


def test_back_after_finish_and_seal_goes_home_with_a_notice(page_at, live_server):
    page = page_at("tablet")
    live_server.sign_in(page)
    form = "screening-short"
    start_screening(page, live_server, form)
    finish_screening(page, load_questionnaire(form), "an answer")
    page.go_back()
    page.wait_for_load_state()
    assert page.url == live_server.url
    notice = "That interview is no longer open: it was sealed, deleted or it expired."
    assert notice in page.inner_text("main")
    assert "an answer" not in page.content()


def test_back_after_lock_shows_nothing_of_the_interview(page_at, live_server):
    page = page_at("tablet")
    live_server.sign_in(page)
    draft = start_screening(page, live_server, "screening-short")
    # An adult who consents: the officer's observation note is then on its screen.
    answer_until(page, load_questionnaire("screening-short"), "about_you")
    page.goto(live_server.page_url(f"screening/{draft}/observations"))
    page.fill("#f-observation_note", "typed before locking")
    with page.expect_navigation():
        page.click(".lock-form button")
    page.go_back()
    page.wait_for_load_state()
    assert "/signin" in page.url
    assert "typed before locking" not in page.content()
    assert page.locator("#f-observation_note").count() == 0
