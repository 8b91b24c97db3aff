"""The respondent view: what the person holding the tablet sees, and where it leads.

While the officer has handed the tablet over, a screen shows the person only
the questions put to them, in their language: never the officer's help, the
questions the officer records (observations, consent checks), urgent notices
or the assessment. Those wait until the officer takes the tablet back.
"""

from __future__ import annotations

from werkzeug.datastructures import MultiDict

from intake.field.interview import Draft
from intake.questionnaire import Section


def questions_for(section: Section, answers: dict) -> list:
    """Return the section's shown questions that are put to the person."""
    return [q for q in section.visible_questions(answers) if q.audience != "officer"]


def needs_officer(section: Section, answers: dict) -> bool:
    """Tell whether the section shows a required question for the officer still unanswered.

    Such an answer may decide what is asked next (the officer's "I explained
    consent" opens the questions), so the person hands the tablet back there.
    """
    return any(
        q.audience == "officer" and q.required and q.id not in answers
        for q in section.visible_questions(answers)
    )


def first_screen(draft: Draft, section_id: str) -> str | None:
    """Return the first screen for the person from this section on; None: hand back."""
    shown = draft.sections()
    ids = [s.id for s in shown]
    start = ids.index(section_id) if section_id in ids else 0
    for section in shown[start:]:
        if questions_for(section, draft.answers):
            return section.id
        if needs_officer(section, draft.answers):
            return None
        _skip(draft, section.id)
    return None


def next_screen(draft: Draft, section_id: str) -> str | None:
    """Return the person's next screen after this one; None: hand the tablet back."""
    section = draft.questionnaire.section(section_id)
    if needs_officer(section, draft.answers):
        _skip(draft, section_id)
        return None
    _previous, following = draft.neighbours(section_id)
    return first_screen(draft, following) if following else None


def previous_screen(draft: Draft, section_id: str) -> str:
    """Return the person's screen before this one (this one if it is the first)."""
    shown = draft.sections()
    ids = [s.id for s in shown]
    at = ids.index(section_id) if section_id in ids else 0
    for section in reversed(shown[:at]):
        if questions_for(section, draft.answers):
            return section.id
    return section_id


def _skip(draft: Draft, section_id: str) -> None:
    """Note a screen with questions for the officer, to ask them after take-back."""
    section = draft.questionnaire.section(section_id)
    officer = [q for q in section.visible_questions(draft.answers) if q.audience == "officer"]
    skipped = draft.data.setdefault("skipped", [])
    if officer and section_id not in skipped:
        skipped.append(section_id)


def take_back_screen(draft: Draft) -> str | None:
    """Return where the officer goes on taking the tablet back; None: the review.

    First the screens with the officer's questions that the person passed,
    then the screen the person was on.
    """
    shown = [s.id for s in draft.sections()]
    for section_id in draft.data.pop("skipped", []):
        if section_id in shown:
            return section_id
    current = draft.data.get("section")
    if draft.data.pop("handed_back", False):
        _previous, following = draft.neighbours(current) if current in shown else (None, None)
        return following
    return current if current in shown else (shown[0] if shown else None)


def form_with_officer_answers(section: Section, answers: dict, form) -> MultiDict:
    """Return the person's form plus the officer's answers kept for this section.

    The respondent view has no control for the officer's questions; without
    this, saving the screen would erase what the officer recorded on it.
    """
    merged = MultiDict()
    for question in section.questions:
        if question.audience == "officer":
            value = answers.get(question.id)
            values = value if isinstance(value, list) else ([] if value is None else [value])
        else:
            values = form.getlist(question.id)
        for value in values:
            merged.add(question.id, str(value))
    return merged
