"""A whole screening in Debian's Chromium, at phone and tablet size.

Signs in, answers every screen as an officer would (tapping radios, typing
text), checks each screen with axe-core and for sideways scrolling, finishes,
then exports the outbox and opens it with the coordinator's key: every answer
given in the browser must come back.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from intake.questionnaire import load_questionnaire
from tests.browser import assert_accessible, assert_no_horizontal_scroll, check
from tests.canary import describe, holds
from tests.conftest import PASSPHRASE, run_intake
from tests.screening import ADULT_TRAFFICKING, value_for

CANARY = "CANARY-ብሩህ-نور-41"
ADULT = {"under_18": "no", **ADULT_TRAFFICKING}
# A presumed child: the act and a purpose of forced crime; the interpreter's
# name is the child path's one text field, where the canary goes.
CHILD = {
    "under_18": "not_sure",
    "child_act": "yes",
    "child_act_purpose": ["crime"],
    "present": ["interpreter_remote"],
}
SCENARIOS = {
    "adult-full": ("screening-full", ADULT, False, "Refer now"),
    "child-short": ("screening-short", CHILD, True, "Refer now"),
}
# Set to a folder (docs/screenshots) to refresh the officer's guide's pictures.
DOCS_SCREENSHOTS = os.environ.get("INTAKE_DOCS_SCREENSHOTS")


def screenshot(page, tmp_path: Path, name: str, viewport: str) -> None:
    page.screenshot(path=str(tmp_path / f"{name}-{viewport}.png"), full_page=True)
    if DOCS_SCREENSHOTS and viewport == "phone":
        page.screenshot(path=str(Path(DOCS_SCREENSHOTS) / f"{name}-{viewport}.png"))


def check_screen(page) -> None:
    assert_no_horizontal_scroll(page)
    assert_accessible(page)


def answer_screen(page, questionnaire, overrides: dict, child: bool) -> dict:
    """Answer every question on the screen; return what was entered."""
    given = {}
    for qid in page.eval_on_selector_all(".question", "els => els.map(e => e.id.slice(2))"):
        question = questionnaire.question(qid)
        value = value_for(question, overrides, CANARY, child)
        given[qid] = value
        if question.type in ("yes_no_unknown", "single_choice"):
            page.check(f'input[name="{qid}"][value="{value}"]')
        elif question.type == "multiple_choice":
            for choice in value:
                page.check(f'input[name="{qid}"][value="{choice}"]')
        elif question.type in ("country", "language"):
            page.select_option(f"#f-{qid}", value)
        else:
            page.fill(f"#f-{qid}", value)
    return given


def walk_interview(page, questionnaire, overrides, child, tmp_path, viewport) -> dict:
    """Go through every screen until the review; return all answers entered."""
    answers: dict = {}
    while "/review" not in page.url:
        check_screen(page)
        if page.url.endswith("/safety"):
            screenshot(page, tmp_path, "safety", viewport)
        answers.update(answer_screen(page, questionnaire, overrides, child))
        with page.expect_navigation():
            page.click("button[value=next]")
        assert not page.locator(".has-error").count(), page.inner_text("main")
    return answers


def leaks(live_server) -> list[str]:
    """Files of the instance or of the server's TMPDIR holding the canary, in any encoding."""
    folders = [live_server.instance, Path(live_server.env["TMPDIR"])]
    return [leak for folder in folders for leak in describe(folder, CANARY)]


def open_records(live_server, coordinator_keys, tmp_path) -> list[dict]:
    batch = tmp_path / "out.batch"
    live_server.intake("outbox", "export", batch)
    passphrase = tmp_path / "pp"
    passphrase.write_text(PASSPHRASE)
    key = coordinator_keys / "coordinator.key"
    done = run_intake("open", "--key", key, "--passphrase-file", passphrase, batch)
    check(done)
    return [json.loads(line) for line in done.stdout.splitlines()]


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_whole_screening(page, viewport, live_server, coordinator_keys, tmp_path, scenario):
    form, overrides, child, outcome = SCENARIOS[scenario]
    questionnaire = load_questionnaire(form)
    page.goto(live_server.page_url("signin"))
    check_screen(page)
    screenshot(page, tmp_path, "signin", viewport)
    live_server.sign_in(page)
    check_screen(page)
    page.check(f'input[name="questionnaire"][value="{form}"]')
    screenshot(page, tmp_path, "home", viewport)
    with page.expect_navigation():
        page.click("form[action$='/screening/start'] button[type=submit]")

    answers = walk_interview(page, questionnaire, overrides, child, tmp_path, viewport)
    # Mid-interview: the typed canary is only in the encrypted draft.
    assert leaks(live_server) == []

    check_screen(page)
    assert outcome in page.inner_text(".assessment")
    with page.expect_navigation():
        page.click("text=Finish and seal")
    check_screen(page)
    screenshot(page, tmp_path, "finished", viewport)
    reference = page.inner_text(".reference strong")
    assert re.fullmatch(r"[0-9A-F]{4}-[0-9A-F]{4}", reference)
    assert "victim" not in page.inner_text("main").lower()

    assert leaks(live_server) == []
    assert not holds("".join(live_server.output).encode(), CANARY)  # nor in the server's log
    [record] = open_records(live_server, coordinator_keys, tmp_path)
    assert record["id"].replace("-", "").upper().startswith(reference.replace("-", ""))
    assert record["child"] is child
    assert record["assessment"]["outcome"] == "refer_now"
    for qid, value in answers.items():
        expected = int(value) if questionnaire.question(qid).type == "number" else value
        assert record["answers"][qid] == expected, qid
    assert any(CANARY in str(v) for v in record["answers"].values())


def test_pause_and_lock_then_resume(page_at, live_server):
    page = page_at("tablet")
    live_server.sign_in(page)
    with page.expect_navigation():
        page.click("form[action$='/screening/start'] button[type=submit]")
    page.check('input[name="danger_now"][value="no"]')
    with page.expect_navigation():
        page.click("button[value=pause]")
    assert "/signin" in page.url
    assert "locked" in page.inner_text("main").lower()
    live_server.sign_in(page)
    with page.expect_navigation():
        page.click("text=Resume")
    assert page.url.endswith("/safety")
    assert page.is_checked('input[name="danger_now"][value="no"]')
