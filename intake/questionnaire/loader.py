"""Load a questionnaire file: read the TOML, check it, and build the model from it.

The file format is documented in docs/questionnaire.md. Loading checks
everything a program manager can get wrong (unknown keys, types, choices,
indicator ids, HTCDS names, show-if references) and names the file and the
place in it, so that a bad edit fails at start-up and not in an interview.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import re
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

from .catalogue import CATALOGUE_PATH, Catalogue, load_catalogue
from .conditions import (
    YES_NO_UNKNOWN,
    QuestionnaireError,
    check_condition,
    check_table,
    load_toml,
    parse_condition,
)
from .messages import N_
from .model import CHILD_CONDITION, Choice, Question, Questionnaire, Section

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
LIMIT_KEYS = {
    "number": {"min", "max", "integer"},
    "date": {"min", "max"},
    "short_text": {"max_length"},
    "long_text": {"max_length"},
}
# A name may come from a URL: letters, digits and dashes only, never a path.
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
ID_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
YES_NO_UNKNOWN_TEXTS = {"yes": N_("Yes"), "no": N_("No"), "unknown": N_("Don't know")}

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
    "sensitive",
    "audience",
    "min",
    "max",
    "integer",
    "max_length",
    # Version 2: respondent and officer views, notes, HTCDS values, settings.
    "read_aloud",
    "translator_note",
    "action",
    "action_when",
    "htcds_value",
    "htcds_event",
    "requires_setting",
}
CHOICE_KEYS = {"indicator", "htcds", "htcds_value", "translator_note"}
HTCDS_EVENTS = ("Recruitment", "Transit", "Exploitation")  # HTCDS hte_Type
# A setting a question may need, named like the instance's intake.json settings.
SETTING_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
SECTION_KEYS = {"id", "title", "intro", "help", "questions", "show_if"}
TOP_KEYS = {"id", "version", "title", "description", "language", "conditions", "sections"}


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
    flags = {key: raw.get(key, False) for key in ("required", "urgent", "sensitive")}
    if not all(isinstance(v, bool) for v in flags.values()):
        raise QuestionnaireError(
            f"{where}: 'required', 'urgent' and 'sensitive' must be true or false"
        )
    audience = raw.get("audience", "respondent")
    if audience not in AUDIENCES:
        raise QuestionnaireError(f"{where}: audience must be one of {', '.join(AUDIENCES)}")
    # Read aloud by default only what the person is asked and is not about
    # violence or sex: a tablet speaking such a question can be overheard.
    read_aloud = raw.get("read_aloud", audience == "respondent" and not flags["sensitive"])
    if not isinstance(read_aloud, bool) or (read_aloud and audience == "officer"):
        raise QuestionnaireError(
            f"{where}: 'read_aloud' must be true or false, never on officer items"
        )
    htcds = _link(raw, "htcds", catalogue.htcds_fields, where)
    choices = _choices(raw, where, catalogue, htcds)
    return Question(
        id=raw["id"],
        type=qtype,
        text=_text(raw, "text", where),
        help=_text(raw, "help", where, required=False),
        choices=choices,
        show_if=parse_condition(raw["show_if"], f"{where} show_if") if "show_if" in raw else None,
        indicator=_link(raw, "indicator", catalogue.indicators, where),
        htcds=htcds,
        audience=audience,
        section=section_id,
        read_aloud=read_aloud,
        translator_note=_text(raw, "translator_note", where, required=False),
        action=_text(raw, "action", where, required=False),
        action_when=_action_when(raw, where, choices),
        htcds_value=_htcds_value(raw.get("htcds_value"), htcds, catalogue, where),
        htcds_event=_htcds_event(raw, htcds, where),
        requires_setting=_setting(raw, where),
        **flags,
        **_limits(raw, where),
    )


def _action_when(raw: Mapping, where: str, choices) -> tuple[str, ...]:
    """Read the answers on which the officer's action applies; they must be answers."""
    when = raw.get("action_when", [])
    if when and not raw.get("action"):
        raise QuestionnaireError(f"{where}: 'action_when' needs an 'action'")
    allowed = {c.id for c in choices}
    if not isinstance(when, list) or any(value not in allowed for value in when):
        raise QuestionnaireError(f"{where}: 'action_when' must list answers of the question")
    return tuple(when)


def _htcds_value(value, field: str | None, catalogue: Catalogue, where: str) -> str | None:
    """Check an HTCDS value against its field's pick-list."""
    if value is None:
        return None
    if field is None:
        raise QuestionnaireError(f"{where}: 'htcds_value' needs 'htcds' on the question")
    if value not in catalogue.htcds[field]:
        raise QuestionnaireError(f"{where}: {value!r} is not a value of HTCDS {field}")
    return value


def _htcds_event(raw: Mapping, field: str | None, where: str) -> str | None:
    """Read the HTCDS event type (hte_Type) an hte_ field belongs to."""
    event = raw.get("htcds_event")
    if (field or "").startswith("hte_") != (event is not None):
        raise QuestionnaireError(f"{where}: an hte_ field needs 'htcds_event', and only it")
    if event is not None and event not in HTCDS_EVENTS:
        raise QuestionnaireError(f"{where}: htcds_event must be one of {', '.join(HTCDS_EVENTS)}")
    return event


def _setting(raw: Mapping, where: str) -> str | None:
    """Read the instance setting a question needs (shown only where it applies)."""
    name = raw.get("requires_setting")
    if name is not None and (not isinstance(name, str) or not SETTING_PATTERN.match(name)):
        raise QuestionnaireError(f"{where}: 'requires_setting' must name a setting")
    return name


def _choices(raw: Mapping, where: str, catalogue: Catalogue, htcds) -> tuple[Choice, ...]:
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
        here = f"{where} choice {item.get('id') if isinstance(item, Mapping) else '?'!r}"
        check_table(item, here, {"id", "text"}, CHOICE_KEYS)
        choices.append(
            Choice(
                _identifier(item["id"], here),
                _text(item, "text", here),
                indicator=_link(item, "indicator", catalogue.indicators, here),
                htcds_value=_htcds_value(
                    item.get("htcds_value"),
                    _link(item, "htcds", catalogue.htcds_fields, here) or htcds,
                    catalogue,
                    here,
                ),
                translator_note=_text(item, "translator_note", here, required=False),
                htcds=_link(item, "htcds", catalogue.htcds_fields, here),
            )
        )
    if len({c.id for c in choices}) != len(choices):
        raise QuestionnaireError(f"{where}: duplicate choice id")
    recorded = [c.indicator for c in choices if c.indicator]
    if len(set(recorded)) != len(recorded):
        raise QuestionnaireError(f"{where}: two choices record the same item")
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
    """Check indicator and urgent questions; one question per indicator.

    A choice may record an item too (a purpose, an observation, an indicator
    asked by phase); the same item may sit on choices of questions shown to
    different people (the child's and the adult's purpose question), never on
    a yes/no question as well, so that one fact is never scored twice.
    """
    asked: set[str] = set()
    on_choices = {c.indicator for q in questions for c in q.choices if c.indicator}
    for q in questions:
        where = f"question {q.id!r}"
        if q.indicator and q.type != "yes_no_unknown":
            raise QuestionnaireError(f"{where}: indicator questions must be yes_no_unknown")
        if q.urgent and q.type != "yes_no_unknown":
            raise QuestionnaireError(f"{where}: urgent questions must be yes_no_unknown")
        if q.indicator and (q.indicator in asked or q.indicator in on_choices):
            raise QuestionnaireError(f"{where}: indicator {q.indicator} is already asked")
        if q.urgent and catalogue.urgent_for_question(q.id) is None:
            raise QuestionnaireError(
                f"{where}: urgent, but indicators.toml has no [urgent.*] entry "
                f"with question = {q.id!r}"
            )
        asked.add(q.indicator)
