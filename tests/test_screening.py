"""The screening on a field device, through the web app: sign in, interview, seal."""

from __future__ import annotations

import re
import time

import pytest

from intake import create_app, db
from tests.screening import (
    ADULT_TRAFFICKING,
    CHEAP_ARGON2,
    OFFICER_PASSWORD,
    add_user,
    complete_screening,
    open_outbox,
    sign_in,
)
from tests.test_invariants import files_holding


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


def _ids_in(questionnaire_id):
    from intake.questionnaire import load_questionnaire

    return {q.id for q in load_questionnaire(questionnaire_id).questions}


def test_adult_screening_is_sealed_and_opens_for_the_coordinator(
    officer, field_instance, coordinator_key
):
    overrides = {k: v for k, v in ADULT_TRAFFICKING.items() if k in _ids_in("screening-full")}
    finished, draft_id, visited = complete_screening(officer, "screening-full", overrides)
    assert finished.status_code == 200
    page = finished.get_data(as_text=True)
    assert "Refer now" in page
    assert re.search(r"[0-9A-F]{4}-[0-9A-F]{4}", page)
    assert "victim" not in page.lower()
    [record] = open_outbox(field_instance, coordinator_key)
    assert record["id"] == draft_id
    assert record["assessment"]["outcome"] == "refer_now"
    assert record["child"] is False
    assert record["officer"] == "amina"
    assert record["questionnaire"]["id"] == "screening-full"
    assert record["languages"] == {"respondent": "en", "officer": "en"}
    for key, value in overrides.items():
        assert record["answers"][key] == value
    assert "consent" in visited and "observations" in visited


def test_child_screening_presumes_a_child_when_age_is_uncertain(
    officer, field_instance, coordinator_key
):
    overrides = {"under_18": "not_sure", "child_act": "yes", "child_act_purpose": ["crime"]}
    finished, _, visited = complete_screening(officer, "screening-short", overrides, child=True)
    assert finished.status_code == 200
    assert "child protection" in finished.get_data(as_text=True)
    [record] = open_outbox(field_instance, coordinator_key)
    assert record["child"] is True
    assert "ACT" in record["indicators"] and "PURPOSE_CRIME" in record["indicators"]
    assert record["assessment"]["outcome"] == "refer_now"
    assert "child_protection" in record["assessment"]["referral_options"]
    assert visited == ["safety", "child_protection", "consent", "child", "observations"]


def test_no_consent_records_only_observations(officer, field_instance, coordinator_key):
    finished, _, visited = complete_screening(officer, "screening-short", {"consent": "no"})
    assert finished.status_code == 200
    assert "recruitment" not in visited and "observations" in visited
    [record] = open_outbox(field_instance, coordinator_key)
    assert record["indicators"] and all(i.startswith("OBS_") for i in record["indicators"])


def test_urgent_need_is_its_own_block(officer, field_instance, coordinator_key):
    """Version 2: an urgent need is acted on first and never changes the outcome."""
    finished, _, _ = complete_screening(
        officer,
        "screening-short",
        {"danger_now": "yes", "observations": [], "exploitation_type": ["none"]},
    )
    assert "Urgent need" in finished.get_data(as_text=True)
    [record] = open_outbox(field_instance, coordinator_key)
    assert record["urgent"] == ["DANGER_NOW"]
    assert record["assessment"]["urgent"] == ["DANGER_NOW"]
    assert record["assessment"]["outcome"] == "no_indicators"
    assert record["questionnaire"] == {"id": "screening-short", "version": "2.0.0"}


def test_finished_record_cannot_be_reopened(officer):
    _, draft_id, _ = complete_screening(officer, "screening-short", text="typed answer")
    # Back after finishing, or a second Finish: home with a notice, not the answers nor an error.
    for response in (
        officer.get(f"/screening/{draft_id}/review"),
        officer.get(f"/screening/{draft_id}/safety"),
        officer.post(f"/screening/{draft_id}/finish"),
    ):
        assert response.status_code == 303 and response.headers["Location"] == "/"
    home = officer.get("/").get_data(as_text=True)
    assert "That interview is no longer open: it was sealed, deleted or it expired." in home
    assert "typed answer" not in home


def _start(client, name="screening-short"):
    response = client.post(
        "/screening/start", data={"questionnaire": name, "respondent_language": "en"}
    )
    return response.headers["Location"]


def test_validation_errors_are_clear_and_keep_answers(officer):
    location = _start(officer)
    response = officer.post(location, data={"danger_now": "no", "action": "next"})
    # Shown again through a redirect: a page answering a POST keeps its body in
    # the browser's session history, on disk.
    assert response.status_code == 303 and response.headers["Location"] == location
    page = officer.get(location).get_data(as_text=True)
    assert "Please answer this question." in page
    assert re.search(r'value="no"\s+checked', page)  # what was given is kept


def test_bad_values_are_refused(officer):
    location = _start(officer)
    response = officer.post(location, data={"danger_now": "maybe<script>", "action": "next"})
    assert response.status_code == 303
    page = officer.get(location).get_data(as_text=True)
    assert "Give one answer" in page or "Choose one of the answers shown." in page
    assert "<script>" not in page.split("</header>", 1)[1]


def test_back_keeps_answers(officer):
    from intake.questionnaire import load_questionnaire
    from tests.screening import fill_section

    questionnaire = load_questionnaire("screening-short")
    location = _start(officer)
    form = fill_section(questionnaire, "safety", {}, {"danger_now": "unknown"}, "x", False)
    second = officer.post(location, data={**form, "action": "next"}).headers["Location"]
    back = officer.post(second, data={"action": "back"})
    assert back.headers["Location"].endswith("/safety")
    page = officer.get(back.headers["Location"]).get_data(as_text=True)
    assert re.search(r'name="danger_now" value="unknown"\s+checked', page)


def test_pause_locks_and_only_the_password_resumes(app, officer):
    location = _start(officer)
    paused = officer.post(location, data={"danger_now": "no", "action": "pause"})
    assert paused.status_code == 303 and "/signin?locked=1" in paused.headers["Location"]
    assert officer.get(location).status_code == 302  # locked: back to sign-in
    assert sign_in(officer, "amina", "wrong password!!").status_code == 401
    assert sign_in(officer, "amina").status_code == 302
    page = officer.get(location).get_data(as_text=True)
    assert re.search(r'name="danger_now" value="no"\s+checked', page)


def test_another_officer_cannot_open_a_draft(app, officer):
    location = _start(officer)
    other = app.test_client()
    sign_in(other, "dawit")
    assert other.get(location).headers["Location"] == "/"  # as if it did not exist
    assert "Interviews in progress" not in other.get("/").get_data(as_text=True)


def test_draft_key_is_not_kept_after_lock(app, officer, field_instance):
    _start(officer)
    keyring = app.extensions["intake_keyring"]
    assert len(keyring._entries) == 1
    officer.post("/lock")
    assert keyring._entries == {}


def test_idle_session_locks(field_instance):
    add_user(field_instance, "amina", "officer")
    app = create_app(
        {
            "INSTANCE_PATH": str(field_instance.path),
            "TESTING": True,
            "WTF_CSRF_ENABLED": False,
            "IDLE_SECONDS": 0,
        }
    )
    client = app.test_client()
    sign_in(client, "amina")
    time.sleep(0.01)
    response = client.get("/")
    assert response.status_code == 302 and "/signin" in response.headers["Location"]


def test_drafts_expire(app, officer, field_instance):
    location = _start(officer)
    database = db.open_database(field_instance.path)
    database.execute("UPDATE drafts SET expires = ?", [time.time() - 1])
    database.conn.commit()
    assert officer.get(location).headers["Location"] == "/"
    officer.get("/")  # the home screen purges what expired
    assert database.execute("SELECT count(*) FROM drafts").fetchone()[0] == 0


def test_canary_in_every_text_field_is_in_no_file(officer, field_instance, tmp_path):
    """Invariant 1 and 3: drafts and sealed records hold no answer in the clear."""
    canary = "CANARY-ቀይሕ-أحمر-9f2c"
    from intake.questionnaire import load_questionnaire

    text_ids = [
        q.id
        for q in load_questionnaire("screening-full").questions
        if q.type in ("short_text", "long_text")
    ]
    assert text_ids, "the full form has free-text fields"
    # Mid-interview: walk the first sections, then scan before finishing.
    finished, _, _ = complete_screening(officer, "screening-full", text=canary)
    assert finished.status_code == 200
    assert files_holding(field_instance.path, canary) == []


def test_canary_in_a_paused_draft_is_in_no_file(officer, field_instance):
    canary = "CANARY-draft-ሰላም-77"
    location = _start(officer, "screening-full")
    # Any text question of any section: post it straight into the draft.
    from intake.questionnaire import load_questionnaire

    questionnaire = load_questionnaire("screening-full")
    for section in questionnaire.sections:
        texts = [q.id for q in section.questions if q.type in ("short_text", "long_text")]
        if texts:
            url = location.rsplit("/", 1)[0] + "/" + section.id
            officer.post(url, data={t: canary for t in texts} | {"action": "back"})
    officer.post(location, data={"action": "pause"})
    assert files_holding(field_instance.path, canary) == []


def test_sign_in_is_slowed_then_refused(app, field_instance):
    client = app.test_client()
    statuses = [sign_in(client, "amina", "wrong password").status_code for _ in range(3)]
    assert statuses == [401, 401, 401]
    slowed = sign_in(client, "amina")  # right password, but too soon after failures
    assert slowed.status_code == 401 and "Wait" in slowed.get_data(as_text=True)


def test_unknown_name_and_wrong_password_look_the_same(app):
    client = app.test_client()
    unknown = sign_in(client, "nobody", "whatever password").get_data(as_text=True)
    wrong = sign_in(client, "amina", "whatever password").get_data(as_text=True)
    assert "do not match" in unknown and "do not match" in wrong


def test_cheap_parameters_are_only_a_test_setting():
    from intake import crypto

    assert crypto.ARGON2_PARAMETERS["memory_cost"] >= 64 * 1024
    assert CHEAP_ARGON2 != crypto.ARGON2_PARAMETERS
    assert OFFICER_PASSWORD


def test_a_follow_up_on_the_same_screen_is_shown_before_moving_on(officer):
    """Skip logic without JavaScript: the screen comes back with the follow-up."""
    from intake.questionnaire import load_questionnaire
    from tests.screening import fill_section

    questionnaire = load_questionnaire("screening-short")
    location = _start(officer)
    answers = {}
    for section_id in ("safety", "child_protection", "consent"):
        form = fill_section(questionnaire, section_id, answers, {"under_18": "not_sure"}, "x", True)
        answers.update({k: v for k, v in form.items() if k != "_shown"})
        location = officer.post(location, data={**form, "action": "next"}).headers["Location"]
    assert location.endswith("/child")
    first = officer.get(location).get_data(as_text=True)
    assert 'name="child_act_purpose"' not in first
    shown = ["child_act"]
    response = officer.post(location, data={"child_act": "yes", "_shown": shown, "action": "next"})
    assert response.status_code == 303 and response.headers["Location"].endswith("/child")
    again = officer.get(location).get_data(as_text=True)
    assert 'name="child_act_purpose"' in again


def test_a_discarded_draft_leaves_nothing_in_the_wal(officer, field_instance):
    """Old draft versions live in WAL frames until a checkpoint: discarding truncates it.

    A second connection stays open throughout, as a running server's other
    threads keep one, so that SQLite does not checkpoint on its own.
    """
    other = db.open_database(field_instance.path)
    location = _start(officer)
    officer.post(location, data={"danger_now": "no", "action": "back"})
    [sealed] = [row[0] for row in other.execute("SELECT sealed FROM drafts")]
    wal = field_instance.path / "intake.sqlite3-wal"
    assert sealed[16:48] in wal.read_bytes()  # the control: it is there before
    officer.post(f"/screening/{location.split('/')[-2]}/discard")
    assert not wal.exists() or sealed[16:48] not in wal.read_bytes()
    other.close()


def _with_settings(field_instance, settings: dict):
    import json

    from intake import instance

    config_file = field_instance.path / instance.CONFIG_NAME
    config = json.loads(config_file.read_text())
    config["settings"].update(settings)
    config_file.write_text(json.dumps(config))
    app = create_app(
        {"INSTANCE_PATH": str(field_instance.path), "TESTING": True, "WTF_CSRF_ENABLED": False}
    )
    client = app.test_client()
    assert sign_in(client, "amina").status_code == 302
    return client


def _rights_screen(client) -> str:
    started = client.post(
        "/screening/start", data={"questionnaire": "screening-short", "respondent_language": "en"}
    )
    draft = re.search(r"/screening/([0-9a-f-]{36})/", started.headers["Location"]).group(1)
    return client.get(f"/screening/{draft}/rights").get_data(as_text=True)


def test_the_hotline_question_is_asked_only_where_there_is_a_hotline(
    app, field_instance, coordinator_key
):
    hotline = "I gave the person the national hotline number."
    reflection = "I explained the recovery and reflection period"
    bare = _rights_screen(_with_settings(field_instance, {}))
    assert "I explained the person" in bare  # the screen itself is there
    assert hotline not in bare and reflection not in bare
    # A posted answer to a question not asked is not kept in the record.
    client = _with_settings(field_instance, {})
    complete_screening(client, "screening-short", {"hotline_given": "yes"})
    [record] = open_outbox(field_instance, coordinator_key)
    assert "hotline_given" not in record["answers"]
    page = _rights_screen(_with_settings(field_instance, {"hotline_number": "116 000"}))
    assert hotline in page and reflection not in page
