"""Answers: clean and check what was typed for one question, by its type.

Every message a respondent or officer may see about an answer is kept here,
in one place for translation.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING

from intake.canonical import MAX_SAFE_INTEGER

from .conditions import is_answered
from .messages import N_, Message

if TYPE_CHECKING:
    # Annotations only: model.py imports this module to clean answers.
    from .model import Question

TEXT_LIMITS = {"short_text": 200, "long_text": 5000}
DATE_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}$")
COUNTRY_PATTERN = re.compile(r"^[A-Z]{2}$")  # ISO 3166-1 alpha-2
LANGUAGE_PATTERN = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")  # BCP 47, simplified

# Every message a respondent or officer may see about an answer, in one place
# for translation. Named placeholders only.
MESSAGES = {
    "required": N_("Please answer this question."),
    "choice": N_("Choose one of the answers shown."),
    "choices": N_("Choose only from the answers shown."),
    "single": N_("Give one answer only."),
    "integer": N_("Enter a whole number."),
    "number": N_("Enter a number."),
    "too_small": N_("Enter a number of at least %(min)s."),
    "too_large": N_("Enter a number of at most %(max)s."),
    "date": N_("Enter a date as year-month-day, for example 2024-03-31."),
    "too_early": N_("Enter a date on or after %(min)s."),
    "too_late": N_("Enter a date on or before %(max)s."),
    "country": N_("Choose a country from the list."),
    "language": N_("Choose a language from the list."),
    "too_long": N_("Shorten this answer to at most %(max)s characters."),
    "one_line": N_("Write this answer on one line."),
}


def clean_answer(question: Question, form_values: Mapping, today: dt.date):
    """Return (clean value or None, error message or None) for one question."""
    raw = _raw_value(question, form_values)
    if not is_answered(raw):
        return None, (Message(MESSAGES["required"]) if question.required else None)
    if question.type == "multiple_choice":
        chosen = set(raw)
        if not chosen <= set(question.choice_ids):
            return None, Message(MESSAGES["choices"])
        return [c for c in question.choice_ids if c in chosen], None
    if isinstance(raw, list | tuple):
        return None, Message(MESSAGES["single"])
    cleaner = _CLEANERS.get(question.type, _clean_choice)
    return cleaner(question, raw, today)


def _raw_value(question: Question, form_values: Mapping):
    """Read a form value; strings are stripped, multiple choices become a list."""
    if question.type == "multiple_choice" and hasattr(form_values, "getlist"):
        raw = form_values.getlist(question.id)  # a werkzeug MultiDict
    else:
        raw = form_values.get(question.id)
    if question.type == "multiple_choice" and isinstance(raw, str):
        raw = [raw]
    if isinstance(raw, list | tuple):
        raw = [v.strip() if isinstance(v, str) else v for v in raw]
        return [v for v in raw if is_answered(v)]
    return raw.strip() if isinstance(raw, str) else raw


def _clean_choice(question: Question, raw, today):
    """Accept one of the question's choice ids."""
    return (raw, None) if raw in question.choice_ids else (None, Message(MESSAGES["choice"]))


def _clean_number(question: Question, raw, today):
    """Accept a number within the question's range."""
    try:
        if isinstance(raw, bool):
            raise ValueError
        value = int(raw) if question.integer and not isinstance(raw, float) else float(raw)
        if question.integer and value != int(value):
            raise ValueError
    except (TypeError, ValueError):
        return None, Message(MESSAGES["integer" if question.integer else "number"])
    # A whole number too large for a float is still a number: its bounds refuse it.
    if isinstance(value, float) and not math.isfinite(value):
        return None, Message(MESSAGES["number"])
    value = int(value) if question.integer else value
    low, high = question.min, question.max
    if question.integer:
        # Without bounds of its own, a whole number stays one the sealed record
        # can hold exactly (canonical JSON's integers, JavaScript's numbers).
        low = -MAX_SAFE_INTEGER if low is None else low
        high = MAX_SAFE_INTEGER if high is None else high
    if low is not None and value < low:
        return None, Message(MESSAGES["too_small"], min=low)
    if high is not None and value > high:
        return None, Message(MESSAGES["too_large"], max=high)
    return value, None


def _clean_date(question: Question, raw, today):
    """Accept an ISO date (YYYY-MM-DD) within the question's range."""
    try:
        if not isinstance(raw, str) or not DATE_PATTERN.match(raw):
            raise ValueError
        value = dt.date.fromisoformat(raw)
    except ValueError:
        return None, Message(MESSAGES["date"])
    low, high = _date_bound(question.min, today), _date_bound(question.max, today)
    if low and value < low:
        return None, Message(MESSAGES["too_early"], min=low.isoformat())
    if high and value > high:
        return None, Message(MESSAGES["too_late"], max=high.isoformat())
    return value.isoformat(), None


def _date_bound(bound, today: dt.date) -> dt.date | None:
    """Turn a date bound from the file ("today" or YYYY-MM-DD) into a date."""
    if bound is None:
        return None
    return today if bound == "today" else dt.date.fromisoformat(bound)


def _clean_code(pattern: re.Pattern, message: str, transform):
    """Make a cleaner for a code chosen from a list (country, language)."""

    def clean(question: Question, raw, today):
        value = transform(raw) if isinstance(raw, str) else None
        return (
            (value, None) if value and pattern.match(value) else (None, Message(MESSAGES[message]))
        )

    return clean


def _clean_text(question: Question, raw, today):
    """Accept text up to the question's length; short text on one line."""
    if not isinstance(raw, str):
        return None, Message(MESSAGES["one_line"])
    value = raw.replace("\r\n", "\n")
    limit = question.max_length or TEXT_LIMITS[question.type]
    if question.type == "short_text" and "\n" in value:
        return None, Message(MESSAGES["one_line"])
    if len(value) > limit:
        return None, Message(MESSAGES["too_long"], max=limit)
    return value, None


def _language_tag(raw: str) -> str:
    """Lower-case the primary subtag of a language tag."""
    primary, _, rest = raw.partition("-")
    return primary.lower() + ("-" + rest if rest else "")


_CLEANERS = {
    "number": _clean_number,
    "date": _clean_date,
    "country": _clean_code(COUNTRY_PATTERN, "country", str.upper),
    "language": _clean_code(LANGUAGE_PATTERN, "language", _language_tag),
    "short_text": _clean_text,
    "long_text": _clean_text,
}
