"""Screens in the person's language, in a real browser: direction, layout, glyphs.

Takes the phone-size screenshots committed under docs/screenshots/ (set
INTAKE_DOCS_SCREENSHOTS=docs/screenshots to refresh them).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from intake.i18n import LANGUAGES, RTL_LOCALES
from tests.browser import assert_accessible, assert_no_horizontal_scroll

DOCS_SCREENSHOTS = os.environ.get("INTAKE_DOCS_SCREENSHOTS")
# One script per family the officer is likely to meet; every shipped language is
# checked for glyphs in test_every_language_has_glyphs.
SHOWN = ["ar", "ti"]


def uncovered_characters(text: str) -> list[str]:
    """Return the characters no installed font can draw (they would show as boxes).

    Chromium on Linux finds fonts through fontconfig, so asking fontconfig
    whether any font covers a character is what decides whether a box appears.
    """
    missing = []
    for char in sorted({c for c in text if ord(c) > 0x7F and not c.isspace()}):
        found = subprocess.run(
            ["fc-list", f":charset={ord(char):x}", "family"],
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        )
        if not found.stdout.strip():
            missing.append(f"U+{ord(char):04X} {char}")
    return missing


def start_interview(live_server, page, language: str) -> None:
    """Sign in with the interface in `language` and start a screening in it."""
    live_server.sign_in(page)
    page.goto(live_server.page_url(f"?lang={language}"))
    page.select_option("#respondent_language", language)
    with page.expect_navigation():
        page.click("form[action$='/screening/start'] button[type=submit]")


@pytest.mark.parametrize("language", SHOWN)
def test_first_screen_in_the_persons_language(page_at, live_server, tmp_path, language):
    page = page_at("phone")
    start_interview(live_server, page, language)
    html = page.locator("html")
    assert html.get_attribute("lang") == language
    assert html.get_attribute("dir") == ("rtl" if language in RTL_LOCALES else "ltr")
    if language in RTL_LOCALES:
        # Mirrored: the first answer's radio sits on the right of its label.
        box = page.locator(".choice").first.bounding_box()
        radio = page.locator(".choice input").first.bounding_box()
        assert radio["x"] > box["x"] + box["width"] / 2
    assert_no_horizontal_scroll(page)
    assert_accessible(page)
    text = page.inner_text("body")
    assert not uncovered_characters(text)
    assert page.locator(".flash.notice").count() == 1  # machine-drafted: the officer is told
    page.screenshot(path=str(tmp_path / f"{language}.png"))
    if DOCS_SCREENSHOTS:
        page.screenshot(path=str(Path(DOCS_SCREENSHOTS) / f"screening-{language}-phone.png"))


def test_respondent_text_beside_officer_text(page_at, live_server):
    """Arabic for the person, English for the officer: each isolated in its own direction."""
    page = page_at("phone")
    live_server.sign_in(page)
    page.select_option("#respondent_language", "ar")
    with page.expect_navigation():
        page.click("form[action$='/screening/start'] button[type=submit]")
    first = page.locator("legend").first
    assert first.locator(".resp").get_attribute("dir") == "rtl"
    assert first.locator(".resp").get_attribute("lang") == "ar"
    assert first.locator(".off").get_attribute("dir") == "ltr"
    assert first.locator(".off").inner_text().startswith("Are you")
    assert_no_horizontal_scroll(page)


def test_every_language_has_glyphs(page_at, live_server):
    """No shipped language's screen would show a missing-glyph box."""
    page = page_at("phone")
    live_server.sign_in(page)
    missing = {}
    for language in LANGUAGES:
        page.goto(live_server.page_url(f"?lang={language}"))
        offered = page.locator(f'#respondent_language option[value="{language}"]').count()
        assert offered == 1, f"{language} is not offered: its catalog is missing or has gaps"
        page.select_option("#respondent_language", language)
        with page.expect_navigation():
            page.click("form[action$='/screening/start'] button[type=submit]")
        gaps = uncovered_characters(page.inner_text("body"))
        if gaps:
            missing[language] = gaps[:5]
        page.goto(live_server.page_url(""))
    assert not missing, missing


def test_read_aloud_is_hidden_without_a_voice(page_at, live_server):
    """Headless Chromium has no speech voices: the button must not be offered."""
    page = page_at("phone")
    live_server.sign_in(page)
    with page.expect_navigation():
        page.click("form[action$='/screening/start'] button[type=submit]")
    buttons = page.locator("button.speak")
    assert buttons.count() > 0
    voices = page.evaluate("window.speechSynthesis ? speechSynthesis.getVoices().length : 0")
    if voices == 0:
        assert all(not b.is_visible() for b in buttons.all())
