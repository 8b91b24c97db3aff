"""What the person holding the tablet must never see: the officer-only strings.

Collected from the questionnaire data's officer-only fields (help, the
officer's own questions and their answers, sections only the officer fills
in) and from the app's officer-only messages, in English and in the person's
language, so that a test fails if any of them shows in the respondent view.
"""

from __future__ import annotations

import functools

from babel.support import Translations

from intake.i18n import TRANSLATIONS
from intake.questionnaire import load_questionnaire

# The app's own officer-only messages (templates), in English.
APP_MESSAGES = (
    "Urgent: act on the safety answers before going on.",
    "Urgent: the person said yes to a safety question. Act on it before going on:"
    " keep them apart from companions, call your supervisor and the specialist hotline.",
    "The person is or may be a child: contact child protection and a guardian now.",
    "You record",
    "Refer now",
    "Consider referral",
    "No indicators recorded",
    "Referral options to offer",
    "This screening decides whether to offer a referral. It does not decide what happened"
    " to the person: a specialist service does.",
    "Hand the tablet to the person",
    "Pause and lock",
    "Finish and seal",
    "You have the tablet again: this is the officer view.",
)


def _respondent_texts(questionnaire) -> set[str]:
    """Every text the person may be shown: their questions, answers, screens."""
    texts = set()
    for section in questionnaire.sections:
        asked = [q for q in section.questions if q.audience != "officer"]
        if asked:
            texts |= {section.title, section.intro}
        for q in asked:
            texts |= {q.text, *(choice.text for choice in q.choices)}
    return texts - {""}


def _officer_texts(questionnaire) -> set[str]:
    """Every officer-only text of the questionnaire data."""
    texts = set()
    for section in questionnaire.sections:
        texts.add(section.help)
        if all(q.audience == "officer" for q in section.questions):
            texts |= {section.title, section.intro}
        for q in section.questions:
            texts |= {q.help, q.action}
            if q.audience == "officer":
                texts |= {q.text, *(choice.text for choice in q.choices)}
    return texts - {""}


@functools.cache
def officer_only_strings(questionnaire_id: str, language: str = "en") -> tuple[str, ...]:
    """Return the officer-only strings, in English and in `language`.

    A string that is also part of something the person is shown ("Yes", a
    choice shared with their questions) is left out: its presence proves nothing.
    """
    questionnaire = load_questionnaire(questionnaire_id)
    catalog = Translations.load(str(TRANSLATIONS), [language])
    respondent = _respondent_texts(questionnaire)
    shown = {catalog.gettext(t) for t in respondent} | respondent
    found = set()
    for text in _officer_texts(questionnaire) | set(APP_MESSAGES):
        for variant in (text, catalog.gettext(text)):
            if not any(variant in other for other in shown):
                found.add(variant)
    return tuple(sorted(found))


def officer_text_in(page_text: str, questionnaire_id: str, language: str) -> list[str]:
    """Return the officer-only strings that appear in a page's text."""
    return [s for s in officer_only_strings(questionnaire_id, language) if s in page_text]
