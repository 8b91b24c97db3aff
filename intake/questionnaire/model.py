"""Questionnaires as data: load a TOML file, check it, and answer questions about it.

The file format is documented in docs/questionnaire.md. Loading checks
everything a program manager can get wrong (unknown keys, types, choices,
indicator ids, HTCDS names, show-if references) and names the file and the
place in it, so that a bad edit fails at start-up and not in an interview.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from .assessment import CATALOGUE_PATH, Catalogue, assess, load_catalogue
from .conditions import (
    YES_NO_UNKNOWN,
    Condition,
    QuestionnaireError,
    check_condition,
    check_table,
    evaluate,
    is_answered,
    load_toml,
    parse_condition,
)

QUESTIONNAIRE_DIR = CATALOGUE_PATH.parent
TYPES = (
    "yes_no_unknown",
    "single_choice",
    "multiple_choice",
    "number",
    "date",
    "country",
    "language",
    "short_text",
    "long_text",
)
CHOICE_TYPES = ("single_choice", "multiple_choice")
AUDIENCES = ("respondent", "officer")
TEXT_LIMITS = {"short_text": 200, "long_text": 5000}
LIMIT_KEYS = {
    "number": {"min", "max", "integer"},
    "date": {"min", "max"},
    "short_text": {"max_length"},
    "long_text": {"max_length"},
}
# A name may come from a URL: letters, digits and dashes only, never a path.
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
ID_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
DATE_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}$")
COUNTRY_PATTERN = re.compile(r"^[A-Z]{2}$")  # ISO 3166-1 alpha-2
LANGUAGE_PATTERN = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")  # BCP 47, simplified
# The named condition that decides the child flow (CoE Art. 10 presumption).
CHILD_CONDITION = "presumed_child"

# Every message a respondent or officer may see about an answer, in one place
# for translation. Named placeholders only.
MESSAGES = {
    "required": "Please answer this question.",
    "choice": "Choose one of the answers shown.",
    "choices": "Choose only from the answers shown.",
    "single": "Give one answer only.",
    "integer": "Enter a whole number.",
    "number": "Enter a number.",
    "too_small": "Enter a number of at least {min}.",
    "too_large": "Enter a number of at most {max}.",
    "date": "Enter a date as year-month-day, for example 2024-03-31.",
    "too_early": "Enter a date on or after {min}.",
    "too_late": "Enter a date on or before {max}.",
    "country": "Choose a country from the list.",
    "language": "Choose a language from the list.",
    "too_long": "Shorten this answer to at most {max} characters.",
    "one_line": "Write this answer on one line.",
}
YES_NO_UNKNOWN_TEXTS = {"yes": "Yes", "no": "No", "unknown": "Don't know"}

QUESTION_KEYS = {
    "id",
    "type",
    "text",
    "help",
    "required",
    "choices",
    "show_if",
    "indicator",
    "htcds",
    "urgent",
    "audience",
    "min",
    "max",
    "integer",
    "max_length",
}
SECTION_KEYS = {"id", "title", "intro", "help", "questions", "show_if"}
TOP_KEYS = {"id", "version", "title", "description", "language", "conditions", "sections"}


@dataclass(frozen=True)
class Choice:
    """One answer a choice question offers."""

    id: str
    text: str


@dataclass(frozen=True)
class Question:
    """One question, or one item the officer records without asking."""

    id: str
    type: str
    text: str
    help: str = ""
    required: bool = False
    choices: tuple[Choice, ...] = ()
    show_if: Condition | None = None
    indicator: str | None = None
    htcds: str | None = None
    urgent: bool = False
    audience: str = "respondent"
    min: object = None
    max: object = None
    integer: bool = True
    max_length: int | None = None
    section: str = ""

    @property
    def choice_ids(self) -> tuple[str, ...]:
        """Return the ids of the choices, in order."""
        return tuple(choice.id for choice in self.choices)


@dataclass(frozen=True)
class Section:
    """A screen of the interview."""

    id: str
    title: str
    intro: str
    questions: tuple[Question, ...]
    show_if: Condition | None = None
    help: str = ""
    conditions: Mapping = field(default_factory=dict, repr=False, compare=False)

    def is_visible(self, answers: Mapping) -> bool:
        """Tell whether this section is shown, given the answers so far."""
        return evaluate(self.show_if, answers, self.conditions)

    def visible_questions(self, answers: Mapping) -> list[Question]:
        """Return the questions shown; a hidden question's answer never opens a later one."""
        context, shown = dict(answers), []
        for question in self.questions:
            if evaluate(question.show_if, context, self.conditions):
                shown.append(question)
            else:
                # A hidden question's stale answer must not decide what follows.
                context.pop(question.id, None)
        return shown


@dataclass(frozen=True, eq=False)
class Questionnaire:
    """A loaded, checked questionnaire."""

    id: str
    version: str
    title: str
    description: str
    language: str
    sections: tuple[Section, ...]
    conditions: Mapping
    catalogue: Catalogue = field(repr=False)
    path: Path = field(repr=False)

    @property
    def questions(self) -> list[Question]:
        """Return every question, in order."""
        return [q for section in self.sections for q in section.questions]

    def question(self, question_id: str) -> Question:
        """Return a question by id, or raise KeyError."""
        for question in self.questions:
            if question.id == question_id:
                return question
        raise KeyError(f"{self.id}: no question {question_id!r}")

    def section(self, section_id: str) -> Section:
        """Return a section by id, or raise KeyError."""
        for section in self.sections:
            if section.id == section_id:
                return section
        raise KeyError(f"{self.id}: no section {section_id!r}")

    def effective_answers(self, answers: Mapping) -> dict:
        """Keep only the answers to questions that are shown, given earlier answers."""
        kept: dict = {}
        for section in self.sections:
            if not section.is_visible(kept):
                continue
            for question in section.questions:
                if question.id in answers and evaluate(question.show_if, kept, self.conditions):
                    kept[question.id] = answers[question.id]
        return kept

    def visible_sections(self, answers: Mapping) -> list[Section]:
        """Return the sections shown, given the answers so far."""
        kept = self.effective_answers(answers)
        return [section for section in self.sections if section.is_visible(kept)]

    def validate_answers(
        self,
        section_id: str,
        form_values: Mapping,
        answers: Mapping | None = None,
        today: dt.date | None = None,
    ) -> tuple[dict, dict]:
        """Clean one section's form values; return (answers, {question_id: message}).

        `answers` holds the other sections' answers, which decide what is shown.
        The clean answers hold the shown, answered questions of this section
        only: store them in place of the section's previous answers.
        """
        section = self.section(section_id)
        own = {q.id for q in section.questions}
        context = {k: v for k, v in self.effective_answers(answers or {}).items() if k not in own}
        clean, errors = {}, {}
        if not section.is_visible(context):
            return clean, errors
        for question in section.questions:
            if not evaluate(question.show_if, {**context, **clean}, self.conditions):
                continue
            value, error = clean_answer(question, form_values, today or dt.date.today())
            if error:
                errors[question.id] = error
            elif value is not None:
                clean[question.id] = value
        return clean, errors

    def indicators_from_answers(self, answers: Mapping) -> list[str]:
        """Return the indicator ids whose (shown) question was answered yes."""
        kept = self.effective_answers(answers)
        return [q.indicator for q in self.questions if q.indicator and kept.get(q.id) == "yes"]

    def is_child(self, answers: Mapping) -> bool:
        """Tell whether the person is under 18 or presumed so (age uncertain, CoE Art. 10)."""
        return evaluate(
            self.conditions[CHILD_CONDITION], self.effective_answers(answers), self.conditions
        )

    def urgent_flags(self, answers: Mapping) -> list[str]:
        """Return the ids of urgent questions answered yes."""
        kept = self.effective_answers(answers)
        return [q.id for q in self.questions if q.urgent and kept.get(q.id) == "yes"]

    def assess(self, answers: Mapping) -> dict:
        """Assess a whole interview's answers with this questionnaire's catalogue."""
        return assess(
            self.indicators_from_answers(answers),
            child=self.is_child(answers),
            urgent=self.urgent_flags(answers),
            catalogue=self.catalogue,
        )

    def texts(self) -> list[str]:
        """Return every translatable string of the questionnaire, for catalog extraction."""
        found = [self.title, self.description]
        for section in self.sections:
            found += [section.title, section.intro, section.help]
            for q in section.questions:
                found += [q.text, q.help, *(choice.text for choice in q.choices)]
        return list(dict.fromkeys(text for text in found if text))


# ---------------------------------------------------------------------------
# Answers
# ---------------------------------------------------------------------------


def clean_answer(question: Question, form_values: Mapping, today: dt.date):
    """Return (clean value or None, error message or None) for one question."""
    raw = _raw_value(question, form_values)
    if not is_answered(raw):
        return None, (MESSAGES["required"] if question.required else None)
    if question.type == "multiple_choice":
        chosen = set(raw)
        if not chosen <= set(question.choice_ids):
            return None, MESSAGES["choices"]
        return [c for c in question.choice_ids if c in chosen], None
    if isinstance(raw, list | tuple):
        return None, MESSAGES["single"]
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
    return (raw, None) if raw in question.choice_ids else (None, MESSAGES["choice"])


def _clean_number(question: Question, raw, today):
    """Accept a number within the question's range."""
    try:
        if isinstance(raw, bool):
            raise ValueError
        value = int(raw) if question.integer and not isinstance(raw, float) else float(raw)
        if question.integer and value != int(value):
            raise ValueError
    except (TypeError, ValueError):
        return None, MESSAGES["integer" if question.integer else "number"]
    if not math.isfinite(value):
        return None, MESSAGES["number"]
    value = int(value) if question.integer else value
    if question.min is not None and value < question.min:
        return None, MESSAGES["too_small"].format(min=question.min)
    if question.max is not None and value > question.max:
        return None, MESSAGES["too_large"].format(max=question.max)
    return value, None


def _clean_date(question: Question, raw, today):
    """Accept an ISO date (YYYY-MM-DD) within the question's range."""
    try:
        if not isinstance(raw, str) or not DATE_PATTERN.match(raw):
            raise ValueError
        value = dt.date.fromisoformat(raw)
    except ValueError:
        return None, MESSAGES["date"]
    low, high = _date_bound(question.min, today), _date_bound(question.max, today)
    if low and value < low:
        return None, MESSAGES["too_early"].format(min=low.isoformat())
    if high and value > high:
        return None, MESSAGES["too_late"].format(max=high.isoformat())
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
        return (value, None) if value and pattern.match(value) else (None, MESSAGES[message])

    return clean


def _clean_text(question: Question, raw, today):
    """Accept text up to the question's length; short text on one line."""
    if not isinstance(raw, str):
        return None, MESSAGES["one_line"]
    value = raw.replace("\r\n", "\n")
    limit = question.max_length or TEXT_LIMITS[question.type]
    if question.type == "short_text" and "\n" in value:
        return None, MESSAGES["one_line"]
    if len(value) > limit:
        return None, MESSAGES["too_long"].format(max=limit)
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


# ---------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------


def available_questionnaires() -> list[str]:
    """Return the names of the packaged questionnaires."""
    return sorted(p.stem for p in QUESTIONNAIRE_DIR.glob("*.toml") if p != CATALOGUE_PATH)


def load_questionnaire(name_or_path: str | Path) -> Questionnaire:
    """Load a packaged questionnaire by name, or a file by path; checked and cached."""
    path = _resolve(name_or_path)
    try:
        stat = path.stat()
    except OSError as exc:
        raise QuestionnaireError(f"{path.name}: no such questionnaire file") from exc
    catalogue = load_catalogue()
    return _load(path, stat.st_mtime_ns, stat.st_size, catalogue)


def _resolve(name_or_path: str | Path) -> Path:
    """Turn a name into a packaged file's path; refuse a name that could escape."""
    if isinstance(name_or_path, Path) or str(name_or_path).endswith(".toml"):
        return Path(name_or_path).resolve()
    if not NAME_PATTERN.match(name_or_path) or name_or_path == CATALOGUE_PATH.stem:
        raise QuestionnaireError(f"{name_or_path!r}: not a questionnaire name")
    return QUESTIONNAIRE_DIR / f"{name_or_path}.toml"


@functools.lru_cache(maxsize=16)
def _load(path: Path, mtime_ns: int, size: int, catalogue: Catalogue) -> Questionnaire:
    """Parse and check a file; mtime, size and catalogue key the cache."""
    return load_toml(path, lambda raw: _build(raw, path, catalogue))


def _text(raw: Mapping, key: str, where: str, required: bool = True) -> str:
    """Read a string field."""
    value = raw.get(key, "")
    if not isinstance(value, str) or (required and not value.strip()):
        raise QuestionnaireError(f"{where}: {key!r} must be a non-empty string")
    return value.strip()


def _build(raw: Mapping, path: Path, catalogue: Catalogue) -> Questionnaire:
    """Build a Questionnaire from parsed TOML, checking it as a whole."""
    check_table(raw, "top level", {"id", "version", "title", "sections"}, TOP_KEYS)
    if not isinstance(raw["sections"], list) or not raw["sections"]:
        raise QuestionnaireError("'sections' must be a non-empty list of [[sections]]")
    sections = tuple(_section(item, n, catalogue) for n, item in enumerate(raw["sections"], 1))
    questions = {}
    for question in (q for s in sections for q in s.questions):
        if question.id in questions:
            raise QuestionnaireError(f"duplicate question id {question.id!r}")
        questions[question.id] = question
    conditions = _named_conditions(raw.get("conditions", {}), questions)
    sections = tuple(_bind(section, conditions) for section in sections)
    _check_show_ifs(sections, questions, conditions)
    _check_indicators(questions.values(), catalogue)
    return Questionnaire(
        id=_text(raw, "id", "top level"),
        version=str(raw["version"]),
        title=_text(raw, "title", "top level"),
        description=_text(raw, "description", "top level", required=False),
        language=_text(raw, "language", "top level", required=False) or "en",
        sections=sections,
        conditions=conditions,
        catalogue=catalogue,
        path=path,
    )


def _section(raw: Mapping, n: int, catalogue: Catalogue) -> Section:
    """Parse one [[sections]] table."""
    where = f"section {raw.get('id', n)!r}" if isinstance(raw, Mapping) else f"section {n}"
    check_table(raw, where, {"id", "title", "questions"}, SECTION_KEYS)
    _identifier(raw["id"], where)
    questions = raw["questions"]
    if not isinstance(questions, list) or not questions:
        raise QuestionnaireError(f"{where}: needs at least one question")
    show_if = parse_condition(raw["show_if"], f"{where} show_if") if "show_if" in raw else None
    return Section(
        raw["id"],
        _text(raw, "title", where),
        _text(raw, "intro", where, False),
        tuple(_question(q, raw["id"], where, catalogue) for q in questions),
        show_if,
        _text(raw, "help", where, False),
    )


def _identifier(value: object, where: str) -> str:
    """Check an id: lower-case letters, digits and underscores."""
    if not isinstance(value, str) or not ID_PATTERN.match(value):
        raise QuestionnaireError(f"{where}: id {value!r} must be lower_case letters, digits, _")
    return value


def _question(raw: Mapping, section_id: str, where: str, catalogue: Catalogue) -> Question:
    """Parse one question table."""
    qid = raw.get("id", "?") if isinstance(raw, Mapping) else "?"
    where = f"{where} question {qid!r}"
    check_table(raw, where, {"id", "type", "text"}, QUESTION_KEYS)
    _identifier(raw["id"], where)
    qtype = raw["type"]
    if qtype not in TYPES:
        raise QuestionnaireError(
            f"{where}: unknown type {qtype!r} (expected one of {', '.join(TYPES)})"
        )
    flags = {key: raw.get(key, False) for key in ("required", "urgent")}
    if not all(isinstance(v, bool) for v in flags.values()):
        raise QuestionnaireError(f"{where}: 'required' and 'urgent' must be true or false")
    audience = raw.get("audience", "respondent")
    if audience not in AUDIENCES:
        raise QuestionnaireError(f"{where}: audience must be one of {', '.join(AUDIENCES)}")
    return Question(
        id=raw["id"],
        type=qtype,
        text=_text(raw, "text", where),
        help=_text(raw, "help", where, required=False),
        choices=_choices(raw, where),
        show_if=parse_condition(raw["show_if"], f"{where} show_if") if "show_if" in raw else None,
        indicator=_link(raw, "indicator", catalogue.indicators, where),
        htcds=_link(raw, "htcds", catalogue.htcds_fields, where),
        audience=audience,
        section=section_id,
        **flags,
        **_limits(raw, where),
    )


def _choices(raw: Mapping, where: str) -> tuple[Choice, ...]:
    """Parse a choice question's choices; yes_no_unknown gets its fixed three."""
    qtype, items = raw["type"], raw.get("choices")
    if qtype == "yes_no_unknown" and items is None:
        return tuple(Choice(c, YES_NO_UNKNOWN_TEXTS[c]) for c in YES_NO_UNKNOWN)
    if qtype not in CHOICE_TYPES:
        if items is not None:
            raise QuestionnaireError(f"{where}: only choice questions take 'choices'")
        return ()
    if not isinstance(items, list) or not items:
        raise QuestionnaireError(f"{where}: a {qtype} question needs a non-empty 'choices' list")
    choices = []
    for item in items:
        check_table(item, f"{where} choice", {"id", "text"})
        choices.append(
            Choice(
                _identifier(item["id"], f"{where} choice"), _text(item, "text", f"{where} choice")
            )
        )
    if len({c.id for c in choices}) != len(choices):
        raise QuestionnaireError(f"{where}: duplicate choice id")
    return tuple(choices)


def _link(raw: Mapping, key: str, known, where: str) -> str | None:
    """Read an indicator or HTCDS link and check it names a known entry."""
    value = raw.get(key)
    if value is None:
        return None
    if value not in known:
        kind = "indicator" if key == "indicator" else "HTCDS field"
        raise QuestionnaireError(f"{where}: unknown {kind} {value!r} (not in indicators.toml)")
    return value


def _limits(raw: Mapping, where: str) -> dict:
    """Read min, max, integer and max_length, checked against the question type."""
    qtype = raw["type"]
    limits = {key: raw[key] for key in ("min", "max", "integer", "max_length") if key in raw}
    extra = sorted(set(limits) - LIMIT_KEYS.get(qtype, set()))
    if extra:
        raise QuestionnaireError(f"{where}: a {qtype} question takes no {extra}")
    for key, value in limits.items():
        if not _limit_ok(key, value, qtype):
            raise QuestionnaireError(f"{where}: {key!r} has a value of the wrong kind: {value!r}")
    return limits


def _limit_ok(key: str, value: object, qtype: str) -> bool:
    """Tell whether one limit has a value of the right kind for its question type."""
    if key == "integer":
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    if key == "max_length":
        return isinstance(value, int) and value > 0
    if qtype == "number":
        return isinstance(value, int | float)
    try:
        return value == "today" or bool(dt.date.fromisoformat(value))
    except (TypeError, ValueError):
        return False


def _named_conditions(raw: Mapping, questions: Mapping) -> Mapping:
    """Parse [conditions]; each may use questions and the conditions defined before it."""
    if not isinstance(raw, Mapping):
        raise QuestionnaireError("'conditions' must be a table")
    named: dict = {}
    for name, item in raw.items():
        where = f"conditions.{name}"
        condition = parse_condition(item, where)
        check_condition(condition, questions, None, named, where)
        named[name] = condition
    if CHILD_CONDITION not in named:
        raise QuestionnaireError(
            f"[conditions] must define {CHILD_CONDITION!r} (who is presumed a child)"
        )
    return MappingProxyType(named)


def _bind(section: Section, conditions: Mapping) -> Section:
    """Give a section the named conditions its show-ifs may use."""
    return dataclasses.replace(section, conditions=conditions)


def _check_show_ifs(sections, questions: Mapping, conditions: Mapping) -> None:
    """Check every show-if reads only questions asked before it."""
    earlier: set[str] = set()
    for section in sections:
        if section.show_if:
            check_condition(
                section.show_if, questions, set(earlier), conditions, f"section {section.id!r}"
            )
        for question in section.questions:
            if question.show_if:
                check_condition(
                    question.show_if,
                    questions,
                    set(earlier),
                    conditions,
                    f"section {section.id!r} question {question.id!r}",
                )
            earlier.add(question.id)


def _check_indicators(questions, catalogue: Catalogue) -> None:
    """Check indicator and urgent questions: yes/no type, one question per indicator."""
    seen: set[str] = set()
    for q in questions:
        where = f"question {q.id!r}"
        if (q.indicator or q.urgent) and q.type != "yes_no_unknown":
            raise QuestionnaireError(
                f"{where}: indicator and urgent questions must be yes_no_unknown"
            )
        if q.indicator and q.indicator in seen:
            raise QuestionnaireError(f"{where}: indicator {q.indicator} is already asked")
        if q.urgent and q.id not in catalogue.urgent:
            raise QuestionnaireError(
                f"{where}: urgent, but indicators.toml has no [urgent.{q.id}] entry"
            )
        seen.add(q.indicator)
