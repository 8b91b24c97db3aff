"""Helpers that walk a screening the way an officer would: section by section."""

from __future__ import annotations

import re

from intake import accounts, crypto, db
from intake.questionnaire import load_questionnaire

OFFICER_PASSWORD = "officer password 1"
# Indicators across every part of the adult combination rule: refer now.
ADULT_TRAFFICKING = {
    "dr1": "yes", "dr2": "yes", "cr1": "yes", "ex1": "yes", "ex2": "yes",
    "cd1": "yes", "cd3": "yes",
}  # fmt: skip
# Tests use cheap Argon2id: same code path, a millisecond instead of a tenth of a second.
CHEAP_ARGON2 = {"iterations": 1, "lanes": 1, "memory_cost": 8}


def add_user(instance, name: str, role: str, password: str = OFFICER_PASSWORD) -> None:
    database = db.open_database(instance.path)
    accounts.create_user(database, name, role, password, parameters=CHEAP_ARGON2)
    database.close()


def sign_in(client, name: str, password: str = OFFICER_PASSWORD):
    return client.post("/signin", data={"username": name, "password": password})


def value_for(question, overrides: dict, text: str, child: bool):
    """Return a valid form value for a question, the scenario's override first."""
    if question.id in overrides:
        return overrides[question.id]
    kind = question.type
    if kind == "yes_no_unknown":
        return "no"
    if kind in ("single_choice",):
        ids = question.choice_ids
        return "yes" if "yes" in ids else ids[0]
    if kind == "multiple_choice":
        return [question.choice_ids[0]]
    if kind == "number":
        return "15" if child else "34"
    if kind == "date":
        return "2026-03-14"
    if kind == "country":
        return "ER"
    if kind == "language":
        return "ti"
    return f"{text} {question.id}"


def fill_section(questionnaire, section_id: str, answers: dict, overrides, text, child) -> dict:
    """Return the form for one section, given what is already answered."""
    form, context = {}, dict(answers)
    for question in questionnaire.section(section_id).questions:
        shown = questionnaire.section(section_id).visible_questions(context)
        if question not in shown:
            continue
        value = value_for(question, overrides, text, child)
        form[question.id] = value
        context[question.id] = value
    # What the screen showed, as the page's hidden fields say (no follow-up to reveal).
    form["_shown"] = list(form)
    return form


def complete_screening(client, questionnaire_id: str, overrides=None, text="answer", child=False):
    """Start, answer every shown question, and finish; return the finish response."""
    overrides = dict(overrides or {})
    if not child:
        overrides.setdefault("under_18", "no")
    questionnaire = load_questionnaire(questionnaire_id)
    response = client.post(
        "/screening/start",
        data={"questionnaire": questionnaire_id, "respondent_language": "en"},
    )
    assert response.status_code == 303, response.get_data(as_text=True)
    location, answers, visited = response.headers["Location"], {}, []
    while "/review" not in location:
        section_id = location.rstrip("/").rsplit("/", 1)[1]
        visited.append(section_id)
        form = fill_section(questionnaire, section_id, answers, overrides, text, child)
        answers.update({k: v for k, v in form.items() if k != "_shown"})
        response = client.post(location, data={**form, "action": "next"})
        assert response.status_code == 303, (section_id, response.get_data(as_text=True)[-2000:])
        location = response.headers["Location"]
    review = client.get(location)
    assert review.status_code == 200
    draft_id = re.search(r"/screening/([0-9a-f-]{36})/", location).group(1)
    finished = client.post(f"/screening/{draft_id}/finish")
    return finished, draft_id, visited


def open_outbox(instance, private_key) -> list[dict]:
    """Open every record in a field outbox with a coordinator key (as the workspace would)."""
    import json

    from intake.workspace.opening import Opener

    opener = Opener(private_key, crypto.key_id(private_key.public_key()))
    database = db.open_database(instance.path)
    records = [json.loads(opener.open(data)[1]) for data in db.pending_envelopes(database)]
    database.close()
    return records
