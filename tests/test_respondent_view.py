"""Issue 10, the interview's screens: respondent view, hand-over and take-back, the flow.

The officer hands the tablet to the person: the person sees their questions
only, in their language; the officer's help, own questions, urgent notices
and the assessment wait for the take-back.
"""

from __future__ import annotations

import html
import itertools
import random
import re
import uuid

import pytest
from babel.support import Translations

from intake import create_app, db
from intake.field import respondent
from intake.field.interview import Draft
from intake.i18n import TRANSLATIONS
from intake.questionnaire import load_questionnaire
from intake.questionnaire.conditions import referenced_questions
from tests.officer_only import officer_only_strings, officer_text_in
from tests.screening import add_user, complete_screening, fill_section, open_outbox, sign_in


@pytest.fixture
def app(field_instance):
    add_user(field_instance, "amina", "officer")
    add_user(field_instance, "dawit", "officer")
    return create_app(
        {"INSTANCE_PATH": str(field_instance.path), "TESTING": True, "WTF_CSRF_ENABLED": False}
    )


@pytest.fixture
def officer(app):
    client = app.test_client()
    assert sign_in(client, "amina").status_code == 302
    return client


def start(client, name="screening-short", language="fr") -> str:
    response = client.post(
        "/screening/start", data={"questionnaire": name, "respondent_language": language}
    )
    return response.headers["Location"]


def text_of(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def hand_over(client, location: str, form=None, read_sensitive=False) -> str:
    """Press "Hand the tablet to the person" on a screen, then confirm; return the next URL."""
    response = client.post(location, data={**(form or {}), "action": "handover"})
    assert response.status_code == 303 and "/hand-over" in response.headers["Location"]
    page = client.get(response.headers["Location"])
    assert page.status_code == 200
    data = {"section": location.rsplit("/", 1)[1]}
    if read_sensitive:
        data["read_sensitive"] = "yes"
    done = client.post(response.headers["Location"].split("?")[0], data=data)
    assert done.status_code == 303
    return done.headers["Location"]


def take_back(client, draft_url: str):
    """Confirm the take-back; return the officer's landing response (a redirect)."""
    return client.post(f"{draft_url}/take-back", data={"confirm": "officer"})


def draft_url(location: str) -> str:
    return location.rsplit("/", 1)[0]


# -- The respondent view ----------------------------------------------------------


def test_the_officer_only_list_holds_what_must_never_show():
    strings = officer_only_strings("screening-short", "fr")
    assert any("Do not let the person leave with their companions" in s for s in strings)
    assert any(s.startswith("Urgent: the person said yes") for s in strings)
    assert "Tick what you noticed." in strings
    assert "Yes" not in strings  # also an answer the person is shown


def test_respondent_view_shows_no_officer_text(officer):
    location = start(officer)
    assert "Step 1" in text_of(officer.get(location))  # the officer view has it
    target = hand_over(officer, location)
    assert target == location
    page = officer.get(target)
    body = text_of(page)
    assert officer_text_in(body, "screening-short", "fr") == []
    assert '<html lang="fr"' in body
    french = Translations.load(str(TRANSLATIONS), ["fr"])
    question = load_questionnaire("screening-short").question("danger_now").text
    assert french.gettext(question) != question
    assert french.gettext(question) in body  # the question in French
    assert 'value="giveback"' in body and 'value="pause"' not in body
    assert 'id="lang-picker"' not in body and "amina" not in body


def test_urgent_notice_waits_for_the_take_back(officer):
    location = start(officer)
    hand_over(officer, location)
    questionnaire = load_questionnaire("screening-short")
    adult_in_danger = {"danger_now": "yes", "under_18": "no"}
    form = fill_section(questionnaire, "safety", {}, adult_in_danger, "x", False)
    following = officer.post(location, data={**form, "action": "next"}).headers["Location"]
    assert following.endswith("/consent")
    body = text_of(officer.get(following))
    assert officer_text_in(body, "screening-short", "fr") == []
    assert "consent_explained" not in body  # the officer's question waits
    confirm = officer.get(f"{draft_url(location)}/take-back")
    assert confirm.status_code == 200
    assert officer_text_in(text_of(confirm), "screening-short", "fr") == []
    # Without the confirmation the person's view stays.
    assert "Urgent" not in text_of(officer.get(following))
    landing = take_back(officer, draft_url(location))
    officer_view = text_of(officer.get(landing.headers["Location"]))
    assert re.search(r'<details class="flash urgent" role="alert" open>', officer_view)
    assert "You have the tablet again" in officer_view


def test_the_officers_action_shows_under_its_question_once_the_answer_calls_for_it(officer):
    questionnaire = load_questionnaire("screening-short")
    danger = questionnaire.question("danger_now")
    controller = questionnaire.question("controller_nearby")
    assert "yes" in danger.action_when and "no" not in controller.action_when
    location = start(officer, language="en")
    first = text_of(officer.get(location))
    assert danger.action not in first and "officer-action" not in first  # nothing saved yet
    answers = {"danger_now": "yes", "controller_nearby": "no", "under_18": "no"}
    form = fill_section(questionnaire, "safety", {}, answers, "x", False)
    consent = officer.post(location, data={**form, "action": "next"}).headers["Location"]
    page = text_of(officer.get(location))  # back on the safety screen: the officer view
    # Under its own question, before the next one.
    block = page.split('id="q-danger_now"')[1].split('id="q-controller_nearby"')[0]
    notice = '<p class="flash urgent officer-action" role="alert" id="action-danger_now">'
    assert f"{notice}{danger.action}</p>" in block
    assert controller.action not in page and 'id="action-controller_nearby"' not in page
    # A multiple choice: any chosen answer in action_when calls for it.
    present = questionnaire.question("present")
    form = {"consent_explained": "yes", "present": ["police", "companion"], "action": "handover"}
    officer.post(consent, data=form)
    assert present.action in text_of(officer.get(consent))
    # Never in the person's view, even with the answers saved.
    officer.post(f"{draft_url(consent)}/hand-over", data={"section": "consent"})
    person = text_of(officer.get(consent))
    assert present.action not in person and "officer-action" not in person
    officer.post(consent, data={"action": "giveback"})
    take_back(officer, draft_url(consent))
    hand_over(officer, location)
    person = text_of(officer.get(location))
    assert danger.action not in person and "officer-action" not in person


def test_officer_questions_are_skipped_then_asked_after_take_back(officer):
    questionnaire = load_questionnaire("screening-short")
    location = start(officer)
    answers = {}
    form = fill_section(questionnaire, "safety", answers, {"under_18": "no"}, "x", False)
    answers.update({k: v for k, v in form.items() if k != "_shown"})
    consent = officer.post(location, data={**form, "action": "next"}).headers["Location"]
    assert hand_over(officer, consent) == consent
    page = text_of(officer.get(consent))
    assert 'name="consent"' in page and 'name="consent_explained"' not in page
    assert 'name="present"' not in page
    person = {"consent": "yes", "interviewer_gender": "no_preference"}
    done = officer.post(consent, data={**person, "_shown": list(person), "action": "next"})
    # The officer's "I explained" decides what follows: the tablet comes back here.
    assert done.headers["Location"].endswith("/hand-back")
    back = text_of(officer.get(done.headers["Location"]))
    french = Translations.load(str(TRANSLATIONS), ["fr"])
    assert french.gettext("Please give the tablet back to the officer now.") in back
    # The assessment is never on the person's screen.
    review = officer.get(f"{draft_url(consent)}/review")
    assert review.headers["Location"].endswith("/hand-back")
    assert officer.post(f"{draft_url(consent)}/finish").headers["Location"].endswith("/hand-back")
    landing = take_back(officer, draft_url(consent))
    assert landing.headers["Location"] == consent
    officer_page = text_of(officer.get(consent))
    assert 'name="consent_explained"' in officer_page
    assert re.search(r'name="consent" value="yes"\s+checked', officer_page)  # kept


def test_respondent_answers_keep_the_officers_answers_on_the_same_screen(officer):
    location = start(officer, language="en")
    questionnaire = load_questionnaire("screening-short")
    form = fill_section(questionnaire, "safety", {}, {"under_18": "no"}, "x", False)
    consent = officer.post(location, data={**form, "action": "next"}).headers["Location"]
    officer_answers = {"consent_explained": "yes", "present": "no_one"}
    officer.post(consent, data={**officer_answers, "action": "handover"})
    officer.post(f"{draft_url(consent)}/hand-over", data={"section": "consent"})
    person = {"consent": "yes", "interviewer_gender": "no_preference"}
    nxt = officer.post(consent, data={**person, "_shown": list(person), "action": "next"})
    assert nxt.headers["Location"].endswith("/about_you")  # consent given: the questions open
    officer.post(f"{draft_url(consent)}/take-back", data={"confirm": "officer"})
    page = text_of(officer.get(consent))
    assert re.search(r'name="consent_explained" value="yes"\s+checked', page)
    assert re.search(r'name="present" value="no_one"\s+checked', page)


def test_observations_are_never_in_the_respondent_view(officer):
    location = start(officer, language="en")
    url = draft_url(location)
    hand_over(officer, location)
    response = officer.get(f"{url}/observations")
    assert response.status_code == 303
    assert "/observations" not in response.headers["Location"]
    # Passed on the way, and asked first after the take-back.
    assert take_back(officer, url).headers["Location"].endswith("/observations")


def test_resume_from_home_is_the_officer_view(officer):
    location = start(officer)
    hand_over(officer, location)
    resumed = officer.get(f"{draft_url(location)}/resume")
    body = text_of(officer.get(resumed.headers["Location"]))
    assert 'value="handover"' in body and 'value="giveback"' not in body


def test_read_aloud_is_off_for_sensitive_questions_unless_turned_on(officer, sensitive_form):
    location = start(officer, sensitive_form, language="en")
    hand_over(officer, location)
    body = text_of(officer.get(location))
    assert 'data-for="text-danger_now"' not in body  # sensitive: no read-aloud
    assert 'data-for="text-urgent_medical"' in body
    officer.post(location, data={"action": "giveback"})
    take_back(officer, draft_url(location))
    hand_over(officer, location, read_sensitive=True)
    assert 'data-for="text-danger_now"' in text_of(officer.get(location))


@pytest.fixture
def sensitive_form(tmp_path, monkeypatch):
    """A copy of the short form with `sensitive = true` on danger_now."""
    from intake.questionnaire import loader

    source = (loader.QUESTIONNAIRE_DIR / "screening-short.toml").read_text("utf-8")
    source = source.replace('id = "screening-short"', 'id = "screening-test"')
    source = source.replace(
        'id = "danger_now"\ntype = "yes_no_unknown"',
        'id = "danger_now"\ntype = "yes_no_unknown"\nsensitive = true',
    )
    (tmp_path / "screening-test.toml").write_text(source, "utf-8")
    for name in ("screening-short", "screening-full"):
        (tmp_path / f"{name}.toml").write_text(
            (loader.QUESTIONNAIRE_DIR / f"{name}.toml").read_text("utf-8"), "utf-8"
        )
    monkeypatch.setattr(loader, "QUESTIONNAIRE_DIR", tmp_path)
    return "screening-test"


def test_sensitive_is_an_optional_flag(sensitive_form):
    questionnaire = load_questionnaire(sensitive_form)
    assert questionnaire.question("danger_now").sensitive is True
    assert questionnaire.question("urgent_medical").sensitive is False
    assert load_questionnaire("screening-short").question("danger_now").sensitive is False


# -- Children (item 5) -------------------------------------------------------------


def test_child_notice_and_guardian_question_from_the_moment_a_child_is_presumed(officer):
    location = start(officer, language="en")
    notice = "The person is or may be a child: contact child protection and a guardian now."
    first = text_of(officer.get(location))
    assert notice not in first and 'name="guardian_present"' not in first
    questionnaire = load_questionnaire("screening-short")
    answers, child = {}, {"under_18": "not_sure"}
    form = fill_section(questionnaire, "safety", answers, child, "x", True)
    answers.update({k: v for k, v in form.items() if k != "_shown"})
    protection = officer.post(location, data={**form, "action": "next"}).headers["Location"]
    # The very next screen is the child's protection, with the guardian question.
    assert protection.endswith("/child_protection")
    page = text_of(officer.get(protection))
    assert notice in page and 'name="guardian_present"' in page
    form = fill_section(questionnaire, "child_protection", answers, child, "x", True)
    consent = officer.post(protection, data={**form, "action": "next"}).headers["Location"]
    assert consent.endswith("/consent")
    assert notice in text_of(officer.get(consent))  # and on every screen after


def test_no_child_notice_for_an_adult(officer):
    location = start(officer, language="en")
    questionnaire = load_questionnaire("screening-short")
    form = fill_section(questionnaire, "safety", {}, {"under_18": "no"}, "x", False)
    consent = officer.post(location, data={**form, "action": "next"}).headers["Location"]
    assert "contact child protection" not in text_of(officer.get(consent))


# -- The step counter (item 11) ----------------------------------------------------


def _branch_values(questionnaire) -> dict[str, list]:
    """Return, for each question a show-if reads, answers that take every branch."""
    named = questionnaire.conditions
    read = set()
    for condition in named.values():
        read |= referenced_questions(condition, named)
    for section in questionnaire.sections:
        read |= referenced_questions(section.show_if, named)
        for q in section.questions:
            read |= referenced_questions(q.show_if, named)
    values = {}
    for qid in sorted(read):
        q = questionnaire.question(qid)
        if q.type == "number":
            values[qid] = [None, 12, 17, 18, 40]
        elif q.type == "multiple_choice":
            values[qid] = [None, *([c] for c in q.choice_ids)]
        elif q.choices:
            values[qid] = [None, *q.choice_ids]
        else:
            values[qid] = [None, "x"]
    return values


def _walk(questionnaire, branch: dict, respondent_mode: bool) -> list[dict]:
    """Walk forward through every screen for a branch's answers; return the progress seen."""
    draft = Draft(str(uuid.uuid4()), questionnaire, "2026-01-01T00:00:00Z", 0.0, {"answers": {}})
    seen, section = [], draft.sections()[0].id
    if respondent_mode:
        section = respondent.first_screen(draft, section)
    while section:
        seen.append(draft.progress(section))
        clean = {}
        for q in questionnaire.section(section).questions:
            if q.id in branch and branch[q.id] is not None:
                clean[q.id] = branch[q.id]
        draft.record_section(section, clean)
        if respondent_mode:
            section = respondent.next_screen(draft, section)
        else:
            section = draft.neighbours(section)[1]
    return seen


# Base scenarios the branches start from; each then varies one condition-read
# question over all its values (every branch taken), and a seeded sample of
# full combinations mixes them. The full product (10^10 walks) never ends.
BASE_SCENARIOS = {
    "nothing answered": {},
    "adult consenting": {
        "under_18": "no", "age": 40, "consent_explained": "yes", "consent": "yes",
        "present": ["no_one"],
    },
    "adult not consenting": {
        "under_18": "no", "age": 40, "consent_explained": "yes", "consent": "no",
        "present": ["no_one"],
    },
    "consent not explained": {
        "under_18": "no", "age": 40, "consent_explained": "no", "consent": "yes",
    },
    "presumed child": {
        "under_18": "not_sure", "guardian_present": "no", "consent_explained": "yes",
        "consent": "yes", "child_act": "yes", "child_act_purpose": ["work"],
    },
    "child with guardian": {
        "under_18": "yes", "guardian_present": "yes", "consent_explained": "yes",
        "consent": "yes", "present": ["guardian"], "child_act": "no",
    },
    "adult exploited": {
        "under_18": "no", "age": 34, "consent_explained": "yes", "consent": "yes",
        "present": ["interpreter_professional"], "exploitation_type": ["sex"],
        "free_to_leave": "no",
    },
}  # fmt: skip


def _branches(values: dict[str, list], seed: int = 10, sample: int = 300):
    """Yield the branches to walk: one question varied at a time, then a random sample."""
    for base in BASE_SCENARIOS.values():
        yield dict(base)
        for qid, options in values.items():
            for value in options:
                yield {**base, qid: value}
    rng = random.Random(seed)  # noqa: S311 - a reproducible sample, not a secret
    for _ in range(sample):
        yield {qid: rng.choice(options) for qid, options in values.items()}


@pytest.mark.parametrize("name", ["screening-short", "screening-full"])
def test_the_step_counter_never_goes_back_in_any_branch(name):
    questionnaire = load_questionnaire(name)
    values = _branch_values(questionnaire)
    assert {"under_18", "consent", "consent_explained"} <= set(values)
    walks, last_sections = 0, set()
    for branch in _branches(values):
        for respondent_mode in (False, True):
            seen = _walk(questionnaire, branch, respondent_mode)
            for before, after in itertools.pairwise(seen):
                assert after["step"] > before["step"], (branch, seen)
                assert after["position"] / after["total"] > before["position"] / before["total"]
            walks += 1
            if not respondent_mode:
                last_sections.add(len(seen))
    assert walks > 1000
    assert len(last_sections) >= 3  # the branches really differ in length


def _progress_on(page: str) -> tuple[int, float]:
    step = int(re.search(r"Step (\d+)", page).group(1))
    bar = re.search(r'<progress max="(\d+)" value="(\d+)"', page)
    return step, int(bar.group(2)) / int(bar.group(1))


@pytest.mark.parametrize(
    "overrides",
    [
        {"under_18": "no"},
        {"under_18": "no", "consent": "no"},
        {"under_18": "not_sure", "child_act": "yes"},
        {"under_18": "no", "consent_explained": "no"},
    ],
)
def test_the_pages_step_counter_never_goes_back(officer, overrides):
    questionnaire = load_questionnaire("screening-short")
    location, answers, seen = start(officer, language="en"), {}, []
    while "/review" not in location:
        seen.append(_progress_on(officer.get(location).get_data(as_text=True)))
        section_id = location.rsplit("/", 1)[1]
        child = overrides["under_18"] != "no"
        form = fill_section(questionnaire, section_id, answers, overrides, "x", child)
        answers.update({k: v for k, v in form.items() if k != "_shown"})
        location = officer.post(location, data={**form, "action": "next"}).headers["Location"]
    assert len(seen) >= 4
    for before, after in itertools.pairwise(seen):
        assert after[0] > before[0] and after[1] > before[1], seen


# -- The follow-up notice ------------------------------------------------------------


def test_a_follow_up_is_announced_once_and_focused(officer):
    questionnaire = load_questionnaire("screening-short")
    location, answers = start(officer, language="en"), {}
    for section_id in ("safety", "child_protection", "consent"):
        form = fill_section(questionnaire, section_id, answers, {"under_18": "not_sure"}, "x", True)
        answers.update({k: v for k, v in form.items() if k != "_shown"})
        location = officer.post(location, data={**form, "action": "next"}).headers["Location"]
    assert location.endswith("/child")
    shown = ["child_act"]
    officer.post(location, data={"child_act": "yes", "_shown": shown, "action": "next"})
    page = text_of(officer.get(location))
    assert "One more question appeared below" in page
    assert re.search(r'name="child_act_purpose" value="work" autofocus', page)
    assert "One more question appeared below" not in text_of(officer.get(location))


# -- Languages, countries, dates ---------------------------------------------------


def test_the_officers_language_survives_lock_and_sign_in(officer):
    officer.get("/?lang=fr")
    officer.post("/lock")
    assert '<html lang="fr"' in text_of(officer.get("/signin?locked=1"))
    sign_in(officer, "amina")
    assert '<html lang="fr"' in text_of(officer.get("/"))


def test_countries_in_both_languages_and_iso_dates(officer):
    questionnaire = load_questionnaire("screening-short")
    location, answers = start(officer, language="fr"), {}
    for section_id in ("safety", "consent", "about_you", "rights"):
        form = fill_section(questionnaire, section_id, answers, {"under_18": "no"}, "x", False)
        answers.update({k: v for k, v in form.items() if k != "_shown"})
        location = officer.post(location, data={**form, "action": "next"}).headers["Location"]
    assert location.endswith("/places")  # a country and a date on one screen
    page = text_of(officer.get(location))
    assert '<option value="ER">Eritrea · Érythrée</option>' in page
    assert ' type="date"' not in page  # not the browser's picker, in its locale's order
    assert re.search(r'id="f-recruitment_date" name="recruitment_date" type="text"', page)
    assert "year-month-day" in page
    officer.post(location, data={"action": "handover"})
    officer.post(f"{draft_url(location)}/hand-over", data={"section": "places"})
    person = text_of(officer.get(location))
    assert '<option value="ER">Érythrée</option>' in person


def test_translation_notice_opens_once_then_stays_folded(officer):
    first = text_of(officer.get("/?lang=fr"))
    assert '<details class="flash notice" role="note" open>' in first
    later = text_of(officer.get("/"))
    assert '<details class="flash notice notice-end" role="note">' in later
    assert 'role="note" open' not in later


# -- Drafts, deleting, references ----------------------------------------------------


def test_drafts_are_listed_with_where_they_stand(officer):
    location = start(officer, language="ti")
    questionnaire = load_questionnaire("screening-short")
    form = fill_section(questionnaire, "safety", {}, {"under_18": "no"}, "x", False)
    officer.post(location, data={**form, "action": "next"})
    home = text_of(officer.get("/?lang=en"))
    draft_id = location.split("/")[2]
    reference = draft_id.replace("-", "")[:8].upper()
    assert f"{reference[:4]}-{reference[4:]}" in home
    assert "Last saved" in home and "Started" in home
    assert "Step 2: Your consent" in home
    assert "ትግርኛ" in home  # the person's language, by its own name


def test_deleting_a_draft_asks_first(officer, field_instance):
    location = start(officer)
    url = draft_url(location)
    home = text_of(officer.get("/"))
    assert f'href="{url}/discard"' in home
    confirm = officer.get(f"{url}/discard")
    assert confirm.status_code == 200 and "Delete this interview?" in text_of(confirm)
    database = db.open_database(field_instance.path)
    assert database.execute("SELECT count(*) FROM drafts").fetchone()[0] == 1
    officer.post(f"{url}/discard")
    assert database.execute("SELECT count(*) FROM drafts").fetchone()[0] == 0
    database.close()


def test_the_reference_is_sealed_and_listed_for_the_day(
    app, officer, field_instance, coordinator_key
):
    finished, draft_id, _ = complete_screening(officer, "screening-short")
    page = text_of(finished)
    reference = re.search(r"<strong>([0-9A-F]{4}-[0-9A-F]{4})</strong>", page).group(1)
    assert "@media print" not in page  # the print layout lives in the stylesheet
    [record] = open_outbox(field_instance, coordinator_key)
    assert record["reference"] == reference
    home = text_of(officer.get("/"))
    assert "Sealed today" in home and reference in home
    officer.post("/lock")
    sign_in(officer, "amina")
    assert reference in text_of(officer.get("/"))  # the day's list outlives a lock
    other = app.test_client()
    sign_in(other, "dawit")
    assert reference not in text_of(other.get("/"))


@pytest.mark.parametrize("name", ["screening-short", "screening-full"])
@pytest.mark.parametrize("overrides", [{"danger_now": "yes", "under_18": "not_sure"}, {}])
def test_every_respondent_screen_of_both_forms_is_free_of_officer_text(officer, name, overrides):
    """Hand over at the start and after each take-back, until the review."""
    questionnaire = load_questionnaire(name)
    child = "under_18" in overrides
    overrides = {"under_18": "no", "child_act": "yes", **overrides}
    location, answers, person_screens = start(officer, name, language="ar"), {}, 0
    location = hand_over(officer, location)
    while "/review" not in location:
        if location.endswith("/hand-back"):
            body = text_of(officer.get(location))
            assert officer_text_in(body, name, "ar") == [], location
            location = take_back(officer, draft_url(location)).headers["Location"]
            if "/review" in location:
                break
            section_id = location.rsplit("/", 1)[1]
            form = fill_section(questionnaire, section_id, answers, overrides, "x", child)
            answers.update({k: v for k, v in form.items() if k != "_shown"})
            location = officer.post(location, data={**form, "action": "next"}).headers["Location"]
            if "/review" not in location:
                location = hand_over(officer, location)
            continue
        body = text_of(officer.get(location))
        assert officer_text_in(body, name, "ar") == [], location
        assert '<html lang="ar"' in body
        person_screens += 1
        section = questionnaire.section(location.rsplit("/", 1)[1])
        shown = respondent.questions_for(section, answers)
        form = fill_section(questionnaire, section.id, answers, overrides, "x", child)
        form = {k: v for k, v in form.items() if k in {q.id for q in shown}}
        form["_shown"] = list(form)
        answers.update({k: v for k, v in form.items() if k != "_shown"})
        location = officer.post(location, data={**form, "action": "next"}).headers["Location"]
    assert person_screens >= 4
    assert officer.get(location).status_code == 200  # the officer's review


def test_times_name_the_month_never_us_order(app):
    from intake.templating import format_datetime_utc

    with app.test_request_context("/?lang=en"):
        app.preprocess_request()
        shown = format_datetime_utc("2026-03-04T13:09:00Z")
    assert "Mar 4, 2026" in shown and "3/4/26" not in shown
    with app.test_request_context("/?lang=fr"):
        app.preprocess_request()
        assert "4 mars 2026" in format_datetime_utc("2026-03-04T13:09:00Z")
