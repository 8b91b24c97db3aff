"""Turning questionnaire questions into form controls and back."""

from __future__ import annotations

import functools
import re

from babel import Locale
from flask_babel import get_locale

from intake.i18n import LANGUAGES
from intake.questionnaire import Question, Section

_ALPHA2 = re.compile(r"[A-Z]{2}")
# ISO 639-1 (two letters, about 180 languages) and the shipped ones: a list an
# officer can scroll on a phone, where all of ISO 639-2 would be 500 entries.
_LANG = re.compile(r"[a-z]{2}")


@functools.cache
def _countries(locale: str) -> tuple[tuple[str, str], ...]:
    names = Locale.parse(locale).territories
    pairs = [(code, name) for code, name in names.items() if _ALPHA2.fullmatch(code)]
    return tuple(sorted(pairs, key=lambda pair: pair[1]))


@functools.cache
def _languages(locale: str) -> tuple[tuple[str, str], ...]:
    names = Locale.parse(locale).languages
    pairs = [
        (code, name) for code, name in names.items() if _LANG.fullmatch(code) or code in LANGUAGES
    ]
    return tuple(sorted(pairs, key=lambda pair: pair[1]))


def choices_for(question: Question, respondent: str | None = None) -> list[tuple[str, str]]:
    """Return (value, label) pairs for a question that offers a choice.

    Countries and languages are named in the page's language and, when the
    person's language differs, in theirs too ("Eritrea · ኤርትራ"), so that the
    person can point at their own country's name.
    """
    locale = str(get_locale() or "en")
    names = {"country": _countries, "language": _languages}.get(question.type)
    if names is None:
        return [(choice.id, choice.text) for choice in question.choices]
    if not respondent or respondent == locale:
        return list(names(locale))
    theirs = dict(names(respondent))
    return [
        (code, f"{name} · {theirs[code]}" if theirs.get(code, name) != name else name)
        for code, name in names(locale)
    ]


def form_values_for(section: Section, answers: dict, form=None) -> dict:
    """Return what each control of the section shows: the form's value, else the answer."""
    values = {}
    for question in section.questions:
        if form is not None and question.type == "multiple_choice":
            values[question.id] = form.getlist(question.id)
        elif form is not None:
            values[question.id] = form.get(question.id, "")
        elif question.id in answers:
            values[question.id] = answers[question.id]
    return values
