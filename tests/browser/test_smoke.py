"""The field app in a real browser, on a phone and on a tablet."""

from __future__ import annotations

import pytest

from intake.security import CONTENT_SECURITY_POLICY
from tests.browser import assert_accessible, assert_no_horizontal_scroll, watch_page

pytestmark = pytest.mark.browser


def assert_page_basics(page) -> None:
    """One <main>, one visible <h1>, nothing wider than the screen, no serious axe finding."""
    assert page.locator("main").count() == 1
    assert page.locator("h1").count() == 1 and page.locator("h1").is_visible()
    assert_no_horizontal_scroll(page)
    assert_accessible(page)


def test_first_page(live_server, page, viewport, tmp_path):
    response = page.goto(live_server.url)
    assert response.ok, f"{response.url}: {response.status}"
    assert response.headers.get("content-security-policy") == CONTENT_SECURITY_POLICY
    assert_page_basics(page)
    screenshot = tmp_path / f"first-page-{viewport}.png"
    page.screenshot(path=screenshot, full_page=True)
    assert screenshot.stat().st_size > 0


def test_officer_signs_in(live_server, page):
    live_server.sign_in(page, "officer")  # skips until `intake users add` exists
    assert_page_basics(page)


def test_watch_page_reports_console_errors_and_csp_violations(live_server, browser):
    context = browser.new_context()
    page = context.new_page()
    seen = watch_page(page)
    page.goto(live_server.url)
    seen.assert_clean()
    page.evaluate("() => console.error('logged on purpose')")
    page.evaluate(INLINE_SCRIPT)
    context.close()
    report = "\n".join(seen.problems)
    assert "console error: logged on purpose" in report
    assert 'CSP violation: {"directive": "script-src-elem", "blocked": "inline"' in report
    with pytest.raises(AssertionError, match="logged on purpose"):
        seen.assert_clean()


# Inline script is what the CSP exists to stop; resolve once the browser said so.
INLINE_SCRIPT = """() => new Promise((resolve) => {
  document.addEventListener("securitypolicyviolation", resolve, {once: true});
  const script = document.createElement("script");
  script.textContent = "window.injected = true";
  document.body.append(script);
})"""


@pytest.mark.xfail(strict=True, raises=AssertionError, reason="a watched page must fail its test")
def test_a_csp_violation_fails_the_test(live_server, page_at):
    page = page_at("phone")
    page.goto(live_server.url)
    page.evaluate(INLINE_SCRIPT)
