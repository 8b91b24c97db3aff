import pytest
from tests.browser.test_offline_interview import unlock, start_screening, profile_page, node, tls_server  # noqa

@pytest.mark.parametrize("node", ["http"], indirect=True)
def test_shot(profile_page, node):
    page, _p, seen = profile_page
    user = node.sign_in(page)
    page.goto(node.page_url("offline/app?lang=ar"))
    page.wait_for_function("() => navigator.serviceWorker.controller !== null", timeout=30000)
    unlock(page, user.password)
    page.screenshot(path="/tmp/v11_home.png", full_page=True)
    page.select_option("#offline-language", "ti")
    start_screening(page)
    page.check('#q-danger_now input[value="yes"]')
    for q in ["controller_nearby","urgent_medical","safe_place","dependants_unsafe","under_18"]:
        if page.locator(f'#q-{q} input[value="no"]').count(): page.check(f'#q-{q} input[value="no"]')
    page.click("#offline-section button[value=next]")
    page.wait_for_timeout(500)
    page.click("#offline-back")
    page.wait_for_timeout(500)
    page.screenshot(path="/tmp/v11_ar.png", full_page=True)
    page.click("#offline-section button[value=next]")
    page.wait_for_timeout(300)
    page.screenshot(path="/tmp/v11_ar2.png", full_page=True)
    seen.assert_clean()
